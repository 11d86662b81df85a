"""Reactions and pins, on the chat core's metadata. Migration 0007 is the authority on their shape."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table

from rooms.store.schema import UTCDateTime, metadata

# One row per member, message and emoji: the key makes reacting twice the same as reacting once.
reactions = Table(
    "reactions", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("target_seq", BigInteger, primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("emoji", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),           # the event that added it
    Column("created_at", UTCDateTime, nullable=False),
)

pins = Table(
    "pins", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("target_seq", BigInteger, primary_key=True),
    Column("pinned_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("seq", BigInteger, nullable=False),           # the event that pinned it
    Column("pinned_at", UTCDateTime, nullable=False),
)
