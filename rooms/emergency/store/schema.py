"""The emergency tables, on the chat core's metadata. Migration 0002 is the authority on their shape."""

from __future__ import annotations

from sqlalchemy import (
    JSON, BigInteger, Column, Date, Float, ForeignKey, Index, Integer, String, Table, Text,
)

from rooms.store.schema import BigId, UTCDateTime, metadata

# One row per emergency room: the attributes a plain room does not have.
emergencies = Table(
    "emergencies", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("region", String(200), nullable=False),
    Column("started_on", Date, nullable=False),
    Column("status", String(16), nullable=False),
    # Affected administrative areas, [{"country": "PH", "admin_area": "Leyte"}, ...]: the gaps view's rows.
    Column("areas", JSON, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# An alert is identified by the sequence number of its event in the room.
alerts = Table(
    "alerts", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, primary_key=True),
    Column("author_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("body", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # When the reminder job may next claim this alert; NULL once everyone has acknowledged.
    Column("remind_at", UTCDateTime, nullable=True),
    Column("reminders_sent", Integer, nullable=False, default=0),
    # The reminder policy when the alert was posted, so every process applies the same one.
    Column("renotify_s", Float, nullable=False),
    Column("renotify_max", Integer, nullable=False),
    Index("ix_alerts_remind_at", "remind_at"),
)

alert_acks = Table(
    "alert_acks", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("alert_seq", BigInteger, primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("seq", BigInteger, nullable=False),   # the acknowledgement's own event
    Column("acked_at", UTCDateTime, nullable=False),
)

sitreps = Table(
    "sitreps", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("author_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("seq", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

fourw_entries = Table(
    "fourw_entries", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("organisation", String(120), nullable=False),
    Column("activity", String(200), nullable=False),
    Column("layer", String(32), nullable=False),
    Column("country", String(2), nullable=False),
    Column("admin_area", String(120), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_fourw_room", "room_id"),
)

# Where each member last looked at a room's digest: the digest is the sequence after seen_seq.
digest_cursors = Table(
    "digest_cursors", metadata,
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("seen_seq", BigInteger, nullable=False),
    Column("seen_at", UTCDateTime, nullable=False),
)
