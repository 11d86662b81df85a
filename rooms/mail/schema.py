"""The mail tables, on the chat core's metadata. Migrations 0002 and 0009 are the authority on their shape."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from rooms.store.schema import BigId, UTCDateTime, metadata

# One address per member. Mail goes only to a verified address (verified_at set): a member proves
# the address is theirs by following the link sent to it, so nobody can make Convene mail a stranger.
notification_addresses = Table(
    "notification_addresses", metadata,
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    Column("email", String(254), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("verified_at", UTCDateTime, nullable=True),
)

# E-mails waiting to be sent. Any process may drain it; a claim expires, so a crash mid-send
# means the message is sent again later (at least once), never lost.
outbox = Table(
    "outbox", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=True),
    Column("to_address", String(254), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("last_error", Text, nullable=True),
    # What a plain-text e-mail does not need: {"html": …, "headers": {…}, "reply_to": …,
    # "attachments": [{"name", "content_type", "text"}]}.
    Column("parts", JSON, nullable=True),
    Index("ix_outbox_pending", "sent_at", "claimed_until"),
)
