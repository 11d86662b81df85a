"""Every column that points at a member, and what the export and an account's deletion do with it.

The one place that goes through the whole schema: a table that names a member gets a row here, or
tests/unit/test_members_data_registry.py fails, so each new feature decides what of its data a
member downloads and what deleting an account does to it (docs/privacy.md is the prose of this table).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Erasure(str, enum.Enum):
    DELETE = "delete"    # the rows go
    BLANK = "blank"      # the rows stay (a room's sequence, a webinar's Q&A) with their text removed
    KEEP = "keep"        # the rows stay, pointing at the tombstone: shown as from "a former member"
    FORGET = "forget"    # the column is set to NULL: nobody needs to know it was them


@dataclass(frozen=True)
class Holding:
    table: str
    column: str
    section: str | None          # the export's key for these rows; None: not exported (see `why`)
    erasure: Erasure
    why: str
    # Columns left out of the export (secrets, or what is someone else's); all others are exported.
    hidden: tuple[str, ...] = ()
    # Text columns emptied with a FORGET (what the rows quote of the member, kept for someone else).
    clear: tuple[str, ...] = ()


H = Holding
HOLDINGS: tuple[Holding, ...] = (
    # Account and rooms.
    H("auth_tokens", "member_id", "sessions", Erasure.DELETE, "signed-in devices and tokens end at once",
      hidden=("token_hash",)),
    H("memberships", "member_id", "memberships", Erasure.DELETE, "the member leaves every room (a sole owner "
      "hands the room to its oldest moderator, else its oldest member)"),
    H("invites", "member_id", "invitations", Erasure.DELETE, "pending invitations are withdrawn"),
    H("invites", "invited_by", None, Erasure.FORGET, "an invitation sent is the invitee's to see"),
    H("rooms", "created_by", "rooms_created", Erasure.FORGET, "rooms stay with their members"),
    # What they wrote in rooms.
    H("messages", "sender_id", "messages", Erasure.BLANK, "messages and edits keep their place in the room's "
      "sequence with their text, formatting and files removed", hidden=("html", "reactions", "parent_preview")),
    H("mentions", "member_id", None, Erasure.DELETE, "mentions are others' messages; they stop naming anyone"),
    H("reactions", "member_id", "reactions", Erasure.KEEP, "a reaction counts on someone else's message; "
      "it stays, from a former member"),
    H("pins", "pinned_by", "pins", Erasure.KEEP, "a pin is the room's; it stays, made by a former member"),
    H("attachments", "owner_id", "attachments", Erasure.DELETE, "files and previews are deleted",
      hidden=("file_key", "preview_key", "search_text")),
    H("attachment_uploads", "member_id", "uploads", Erasure.DELETE, "unfinished uploads are deleted",
      hidden=("token", "parts")),
    # Emergency rooms: the shared record of a response stays, from a former member.
    H("alerts", "author_id", "alerts", Erasure.KEEP, "an alert is part of an emergency's record"),
    H("alert_acks", "member_id", "alert_acknowledgements", Erasure.KEEP, "who acknowledged an alert is part of "
      "its record"),
    H("sitreps", "author_id", "sitreps", Erasure.KEEP, "a situation report is part of an emergency's record"),
    H("fourw_entries", "owner_id", "fourw", Erasure.KEEP, "a 4W row is part of an emergency's record"),
    H("digest_cursors", "member_id", "digests_seen", Erasure.DELETE, "where they last read a digest"),
    H("notification_addresses", "member_id", "email", Erasure.DELETE, "the e-mail address is deleted"),
    H("outbox", "member_id", "emails", Erasure.DELETE, "e-mails to them are deleted, sent or not",
      hidden=("body", "last_error")),
    # Webinars and recordings.
    H("webinars", "created_by", "webinars_created", Erasure.KEEP, "a webinar is its audience's too"),
    H("webinar_roles", "member_id", "webinar_roles", Erasure.DELETE, "host, panelist and speaker roles end "
      "(the only host of a webinar not yet ended must name another host first)"),
    H("webinar_registrations", "member_id", "webinar_registrations", Erasure.DELETE, "registrations end"),
    H("webinar_attendance", "member_id", "webinar_attendance", Erasure.DELETE, "visits are forgotten"),
    H("webinar_hands", "member_id", "webinar_hands", Erasure.DELETE, "raised hands are lowered"),
    H("webinar_removals", "member_id", "webinar_removals", Erasure.DELETE, "removals from webinars are forgotten"),
    H("webinar_removals", "removed_by", None, Erasure.KEEP, "a removal is the removed member's record"),
    H("webinar_questions", "author_id", "questions", Erasure.BLANK, "questions keep their place and votes, "
      "with their text removed"),
    H("webinar_question_votes", "member_id", "question_votes", Erasure.KEEP, "a vote counts on someone's question"),
    H("webinar_polls", "created_by", "polls_created", Erasure.KEEP, "a poll's results are its voters' too"),
    H("webinar_poll_votes", "member_id", "poll_votes", Erasure.KEEP, "a vote counts in a poll's results"),
    H("webinar_breakouts", "created_by", None, Erasure.FORGET, "a breakout round is its groups'; who opened it "
      "is a host's act, not the member's data"),
    H("webinar_breakouts", "closed_by", None, Erasure.FORGET, "likewise who called everyone back"),
    H("webinar_breakout_members", "member_id", "breakout_groups", Erasure.DELETE, "which breakout group they "
      "were in is forgotten (the group's chat room keeps what they wrote, blanked like any room)"),
    H("recordings", "owner_id", "recordings_owned", Erasure.KEEP, "a recording stays in the archive",
      hidden=("source", "search_text")),
    H("recording_presenters", "member_id", "recordings_presented", Erasure.DELETE, "their name leaves the "
      "recording's presenters (and its search)"),
    H("recording_invites", "member_id", "recording_invites", Erasure.DELETE, "invitations are withdrawn"),
    H("recording_invites", "invited_by", None, Erasure.KEEP, "an invitation sent is the invitee's to see"),
    H("recording_positions", "member_id", "recording_positions", Erasure.DELETE, "where they stopped watching"),
    # Notifications (rooms/notifications).
    H("notifications", "member_id", "notifications", Erasure.DELETE, "their inbox is deleted",
      hidden=("excerpt",)),
    H("notifications", "actor_id", None, Erasure.FORGET, "a notification they caused is the recipient's; it "
      "keeps no excerpt of their words and names no one", clear=("excerpt",)),
    H("notification_emails", "member_id", None, Erasure.DELETE, "the e-mail batch of the notifications above"),
    H("member_settings", "member_id", "notification_settings", Erasure.DELETE, "their preferences are deleted"),
    H("room_notification_levels", "member_id", "notification_levels", Erasure.DELETE, "per-room choices go"),
    H("push_subscriptions", "member_id", "push_subscriptions", Erasure.DELETE, "their devices stop getting pushes",
      hidden=("p256dh", "auth")),
    H("webinar_mail_log", "member_id", None, Erasure.DELETE, "which webinar e-mails were queued to them"),
    # Moderation (rooms/moderation): the moderators' and admins' record stays, without the member's words.
    H("reports", "reporter_id", "reports_filed", Erasure.FORGET, "a report stays in the moderators' record, "
      "from nobody", hidden=("sender_name", "body")),
    H("reports", "sender_id", None, Erasure.FORGET, "a report about their message is the moderators' record; "
      "it keeps the decision, not their name or words", clear=("sender_name", "body")),
    H("reports", "handled_by", None, Erasure.KEEP, "who handled a report is the moderators' record"),
    H("room_restrictions", "member_id", "restrictions", Erasure.DELETE, "mutes and bans on them end with the account"),
    H("room_restrictions", "created_by", None, Erasure.KEEP, "a restriction is the restricted member's record"),
    H("account_actions", "member_id", "account_actions", Erasure.KEEP, "suspensions are the admins' record"),
    H("account_actions", "actor_id", None, Erasure.KEEP, "an admin's action is the admins' record"),
)

# The member's own row: exported as "member" (without the password hash); deleting the account keeps it
# as a tombstone with every field blanked and the username freed.
PROFILE_HIDDEN = ("password_hash",)
