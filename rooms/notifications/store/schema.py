"""The notification tables, on the chat core's metadata. Migration 0009 is the authority on their shape."""

from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, UniqueConstraint,
)

from rooms.store.schema import BigId, UTCDateTime, metadata

# How far the notifier has looked at each room's sequence. Advanced with a compare-and-set in the
# same transaction as the notifications it created, so each range is handled by exactly one process.
notifier_cursors = Table(
    "notifier_cursors", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("notified_seq", BigInteger, nullable=False),
)

# The inbox: one row per member and thing that concerns them. Events of a room are identified by
# (room, seq); notifications that are not room events (a webinar starting soon, a recording ready)
# have seq 0 and one row per kind and room.
notifications = Table(
    "notifications", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(24), nullable=False),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("actor_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("excerpt", Text, nullable=False, default=""),
    Column("data", JSON, nullable=True),           # kind-specific: a webinar or recording id, a link
    Column("created_at", UTCDateTime, nullable=False),
    Column("read_at", UTCDateTime, nullable=True),
    UniqueConstraint("member_id", "room_id", "seq", "kind", name="uq_notifications_once"),
    Index("ix_notifications_member", "member_id", "id"),
)

# What each member chose: kinds × channels, e-mail timing, quiet hours, and their language and
# time zone (moved from the browser's cookie to the profile, so they follow the member).
member_settings = Table(
    "member_settings", metadata,
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("language", String(8), nullable=False, default=""),
    Column("time_zone", String(64), nullable=False, default=""),
    Column("preferences", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Per room: every message, mentions only, or nothing. No row: the room kind's default.
room_levels = Table(
    "room_notification_levels", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("level", String(16), nullable=False),
)

push_subscriptions = Table(
    "push_subscriptions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("endpoint", String(1024), nullable=False, unique=True),
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_push_subscriptions_member", "member_id"),
)

# One push to send: a notification to one subscription, exactly once (the unique pair). Claimed with
# an expiry; `sent_at` is set in the transaction right after the push service answered.
push_jobs = Table(
    "push_jobs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("notification_id", BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
    Column("subscription_id", BigInteger, ForeignKey("push_subscriptions.id", ondelete="CASCADE"),
           nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    UniqueConstraint("notification_id", "subscription_id", name="uq_push_jobs_once"),
    Index("ix_push_jobs_due", "sent_at", "due_at"),
)

# Notifications waiting to go out by e-mail, batched per member: sent together once the first is due,
# each only if the member has not read it meanwhile. `state`: pending, sent or skipped (read already).
email_queue = Table(
    "notification_emails", metadata,
    Column("notification_id", BigInteger, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column("state", String(8), nullable=False, default="pending"),
    Index("ix_notification_emails_due", "state", "due_at"),
)

# Webinar e-mails already queued (registration, reminders, recording ready): the primary key makes
# each one once per registrant, whichever process's job gets there first.
webinar_mail_log = Table(
    "webinar_mail_log", metadata,
    Column("webinar_id", BigInteger, ForeignKey("webinars.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(24), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
)
