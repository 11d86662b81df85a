"""The moderation tables, on the chat core's metadata. Migration 0006 is the authority on their shape.

Mutes and bans live with the core tables (rooms/store/schema.py room_restrictions): the chat core's
access rules read them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint

from rooms.store.schema import BigId, UTCDateTime, metadata

# A member's report of a message, and what a moderator did about it. The message's author and text are
# kept as they were when reported: the queue still shows what was reported after an edit or a deletion.
reports = Table(
    "reports", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("seq", BigInteger, nullable=False),
    Column("reporter_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("sender_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("sender_name", String(80), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(16), nullable=False),        # open, dismissed, actioned
    Column("action", String(16), nullable=True),         # dismiss, delete, mute, ban
    Column("handled_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("handled_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    # One report per member per message: reporting twice adds nothing to the queue.
    UniqueConstraint("room_id", "seq", "reporter_id", name="uq_reports_once"),
    Index("ix_reports_status", "status", "room_id"),
)

# Who did what to accounts: suspensions, their end, and site admins made. Rooms' actions are events of
# their sequences instead; an account belongs to no room.
account_actions = Table(
    "account_actions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("action", String(16), nullable=False),        # suspend, unsuspend, admin
    Column("actor_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("reason", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_account_actions_member", "member_id"),
)
