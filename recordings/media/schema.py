"""The media lease table, on the chat core's metadata. Migration 0011 is the authority on its shape."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, String, Table

from rooms.store.schema import UTCDateTime, metadata

# One row per webinar whose media some process owns (or owned: a lapsed row is taken over, not deleted).
media_leases = Table(
    "media_leases", metadata,
    Column("webinar_id", BigInteger, ForeignKey("webinars.id", ondelete="CASCADE"), primary_key=True,
           nullable=False),
    Column("owner", String(80), nullable=False),          # the process: host:pid:random
    Column("epoch", BigInteger, nullable=False),          # +1 every time the media changes process
    Column("expires_at", UTCDateTime, nullable=False),
    Column("acquired_at", UTCDateTime, nullable=False),
)
