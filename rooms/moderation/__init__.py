"""Chat moderation: mutes, bans, kicks, roles, slow mode, reports and their queue, site admins and suspensions."""
