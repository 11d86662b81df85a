"""The attachments tables, on the chat core's metadata. Migration 0008 is the authority on their shape."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, ForeignKey, Index, String, Table, Text

from rooms.store.schema import BigId, UTCDateTime, metadata

attachments = Table(
    "attachments", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("owner_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("message_seq", BigInteger, nullable=True),       # set, once, by the send that uses it
    Column("name", String(255), nullable=False),
    Column("search_text", Text, nullable=False),            # the name's words: what full-text search indexes
    Column("kind", String(16), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("stored_bytes", BigInteger, nullable=False),
    Column("file_key", String(512), nullable=False),
    Column("preview_key", String(512), nullable=True),
    Column("meta", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_attachments_owner", "owner_id"),
    Index("ix_attachments_message", "room_id", "message_seq"),
    Index("ix_attachments_created", "created_at"),
)

attachment_uploads = Table(
    "attachment_uploads", metadata,
    Column("token", String(64), primary_key=True),
    Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(255), nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("received", BigInteger, nullable=False),         # the tus Upload-Offset
    Column("parts", JSON, nullable=False),                  # [[start, length, storage key], …]
    Column("attachment_id", BigInteger, ForeignKey("attachments.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_attachment_uploads_member", "member_id"),
    Index("ix_attachment_uploads_expires", "expires_at"),
)
