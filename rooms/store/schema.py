"""The tables, as SQLAlchemy Core metadata: one schema for SQLite and Postgres.

Alembic migrations in rooms/migrations are the authority on how a database
gets to this shape; this module is what queries are written against.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON, BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData,
    String, Table, Text, UniqueConstraint, false, text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

# SQLite only auto-increments an INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """Timestamps are stored in UTC and always come back timezone-aware, whatever the backend."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


members = Table(
    "members", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("display_name", String(80), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("bio", Text, nullable=False, default=""),
    Column("organisation", String(120), nullable=False, default=""),
    Column("country", String(2), nullable=False, default=""),
    Column("languages", JSON, nullable=False, default=list),
    Column("practice_areas", JSON, nullable=False, default=list),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Site admins moderate every room and suspend accounts (python -m rooms.admin create-admin).
    Column("site_admin", Boolean, nullable=False, default=False, server_default=false()),
    # A suspended account's sessions and tokens stop working; set and cleared by site admins.
    Column("suspended_at", UTCDateTime, nullable=True),
    # Set when the member deleted their account (rooms/members_data): the row stays as a tombstone, so
    # what others keep (their reactions' counts, an alert's acknowledgements) still points somewhere.
    Column("erased_at", UTCDateTime, nullable=True),
    # Set once everything they wrote is blanked (a deletion interrupted by a crash is finished later).
    Column("erasure_finished_at", UTCDateTime, nullable=True),
)

auth_tokens = Table(
    "auth_tokens", metadata,
    # Only a hash of the token is kept, so a leaked database does not leak sessions.
    Column("token_hash", String(64), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("expires_at", UTCDateTime, nullable=True),
    Index("ix_auth_tokens_member", "member_id"),
)

rooms = Table(
    "rooms", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(80), nullable=False),
    Column("kind", String(16), nullable=False, default="room"),
    Column("visibility", String(16), nullable=False, default="public"),
    Column("topic", Text, nullable=False, default=""),
    Column("created_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    # The head of the room's sequence; incremented under a row lock for every event.
    Column("last_seq", BigInteger, nullable=False, default=0),
    # For one-to-one DMs: "lowid:highid", so the same pair always finds the same room.
    Column("dm_key", String(64), nullable=True, unique=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    # Slow mode: a member (not a moderator) sends at most one message per this many seconds; 0 is off.
    Column("slow_mode_s", Integer, nullable=False, default=0, server_default="0"),
    # Retention (rooms/members_data): messages older than this many days are removed; NULL keeps them.
    Column("retention_days", Integer, nullable=True),
    # Every event up to this seq was removed by retention; the sequence goes on above it.
    Column("removed_through", BigInteger, nullable=False, default=0, server_default="0"),
)

memberships = Table(
    "memberships", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(16), nullable=False, default="member"),
    Column("read_seq", BigInteger, nullable=False, default=0),
    Column("joined_at", UTCDateTime, nullable=False, default=utcnow),
    Index("ix_memberships_member", "member_id"),
)

invites = Table(
    "invites", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("invited_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)

messages = Table(
    "messages", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("kind", String(24), nullable=False, default="message"),
    Column("sender_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("client_id", String(64), nullable=True),
    Column("body", Text, nullable=False, default=""),
    Column("target_seq", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
    Column("edited_at", UTCDateTime, nullable=True),
    Column("deleted_at", UTCDateTime, nullable=True),
    # Conversations (migration 0007). A reply names its parent's seq and keeps a short preview of
    # it (sender and the start of its text), rewritten when the parent is edited or deleted.
    Column("reply_to", BigInteger, nullable=True),
    Column("parent_preview", JSON, nullable=True),
    # The body formatted once, when stored or edited (rooms/conversations/formatting.py).
    Column("html", Text, nullable=True),
    # Member ids the text mentions (also rows of `mentions`), and whether it addresses the room.
    Column("mentions", JSON, nullable=True),
    Column("mentions_room", Boolean, nullable=False, default=False),
    # The message's reactions, {emoji: [member ids]}, kept beside it so history needs no second query;
    # rewritten from the `reactions` table in the transaction of each change.
    Column("reactions", JSON, nullable=True),
    # Descriptors of the message's attachments (rooms/attachments, migration 0008), as events and history carry them.
    Column("attachments", JSON, nullable=True),
    UniqueConstraint("room_id", "seq", name="uq_messages_room_seq"),
    # A resent client id finds the message it already created instead of making a second.
    UniqueConstraint("room_id", "sender_id", "client_id", name="uq_messages_client_id"),
    Index("ix_messages_replies", "room_id", "reply_to", postgresql_where=text("reply_to IS NOT NULL"),
          sqlite_where=text("reply_to IS NOT NULL")),
    # A member's own messages, for their export and their account's deletion (migration 0010).
    Index("ix_messages_sender", "sender_id", "room_id", "seq"),
)

# Who a message mentions, for "mentions of me" and notifications; written with the message.
mentions = Table(
    "mentions", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_mentions_member", "member_id", "room_id", "seq"),
)

# Mutes and bans (rooms/moderation). Defined with the core tables because the chat core's own access
# rules read them: the send path refuses a restricted member inside its write (rooms/store/messages.py)
# and a banned member reads nothing (rooms/store/rooms.py). A row is active while `until` is NULL
# (a ban without end) or in the future; an expired row is simply ignored, then replaced or lifted.
room_restrictions = Table(
    "room_restrictions", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("kind", String(8), primary_key=True),   # "mute" or "ban"
    Column("until", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Column("created_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False, default=utcnow),
)
