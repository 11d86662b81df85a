"""Notifications: the inbox, preferences, push subscriptions and jobs, e-mail addresses and batches (issue 16).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _fk(table: str, name: str = "", ondelete: str = "CASCADE", nullable: bool = False,
        primary_key: bool = False) -> sa.Column:
    column = name or f"{table[:-1]}_id"
    return sa.Column(column, sa.BigInteger, sa.ForeignKey(f"{table}.id", ondelete=ondelete),
                     nullable=nullable, primary_key=primary_key)


def upgrade() -> None:
    # Addresses become verified before mail goes to them; the ones members set before stay valid.
    op.add_column("notification_addresses", sa.Column("verified_at", UTCDateTime, nullable=True))
    op.execute("UPDATE notification_addresses SET verified_at = updated_at")
    op.add_column("outbox", sa.Column("parts", sa.JSON, nullable=True))

    op.create_table(
        "notifier_cursors",
        _fk("rooms", "room_id", primary_key=True),
        sa.Column("notified_seq", sa.BigInteger, nullable=False),
    )
    # Existing history is not news: the notifier starts at each room's head.
    op.execute("INSERT INTO notifier_cursors (room_id, notified_seq) SELECT id, last_seq FROM rooms")
    op.create_table(
        "notifications",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _fk("members", "member_id"),
        sa.Column("kind", sa.String(24), nullable=False),
        _fk("rooms", "room_id"),
        sa.Column("seq", sa.BigInteger, nullable=False),
        _fk("members", "actor_id", ondelete="SET NULL", nullable=True),
        sa.Column("excerpt", sa.Text, nullable=False, server_default=""),
        sa.Column("data", sa.JSON, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("read_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("member_id", "room_id", "seq", "kind", name="uq_notifications_once"),
    )
    op.create_index("ix_notifications_member", "notifications", ["member_id", "id"])
    op.create_table(
        "member_settings",
        _fk("members", "member_id", primary_key=True),
        sa.Column("language", sa.String(8), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default=""),
        sa.Column("preferences", sa.JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "room_notification_levels",
        _fk("rooms", "room_id", primary_key=True),
        _fk("members", "member_id", primary_key=True),
        sa.Column("level", sa.String(16), nullable=False),
    )
    op.create_table(
        "push_subscriptions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _fk("members", "member_id"),
        sa.Column("endpoint", sa.String(1024), nullable=False, unique=True),
        sa.Column("p256dh", sa.String(200), nullable=False),
        sa.Column("auth", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_push_subscriptions_member", "push_subscriptions", ["member_id"])
    op.create_table(
        "push_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _fk("notifications", "notification_id"),
        _fk("push_subscriptions", "subscription_id"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("claimed_until", UTCDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("sent_at", UTCDateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.UniqueConstraint("notification_id", "subscription_id", name="uq_push_jobs_once"),
    )
    op.create_index("ix_push_jobs_due", "push_jobs", ["sent_at", "due_at"])
    op.create_table(
        "notification_emails",
        _fk("notifications", "notification_id", primary_key=True),
        _fk("members", "member_id"),
        sa.Column("due_at", UTCDateTime, nullable=False),
        sa.Column("state", sa.String(8), nullable=False, server_default="pending"),
    )
    op.create_index("ix_notification_emails_due", "notification_emails", ["state", "due_at"])
    op.create_table(
        "webinar_mail_log",
        _fk("webinars", "webinar_id", primary_key=True),
        _fk("members", "member_id", primary_key=True),
        sa.Column("kind", sa.String(24), primary_key=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("webinar_mail_log", "notification_emails", "push_jobs", "push_subscriptions",
                  "room_notification_levels", "member_settings", "notifications", "notifier_cursors"):
        op.drop_table(table)
    op.drop_column("outbox", "parts")
    op.drop_column("notification_addresses", "verified_at")
