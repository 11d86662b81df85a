"""Notifications: what concerns a member who is away (mentions, conversations, alerts, webinars), their inbox,
preferences, and delivery by live frame, Web Push and e-mail (docs/notifications.md)."""
