"""Attachments: uploaded files, images and voice notes, and per-member quotas (issue 15).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The descriptors of a message's attachments, stored with it so events and history carry them as is.
    # (A plain ALTER TABLE, never a batch rebuild: that would drop the messages' FTS triggers on SQLite.)
    op.add_column("messages", sa.Column("attachments", sa.JSON, nullable=True))
    op.create_table(
        "attachments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("owner_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("message_seq", sa.BigInteger, nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content_type", sa.String(100), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("stored_bytes", sa.BigInteger, nullable=False),
        sa.Column("file_key", sa.String(512), nullable=False),
        sa.Column("preview_key", sa.String(512), nullable=True),
        sa.Column("meta", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_attachments_owner", "attachments", ["owner_id"])
    op.create_index("ix_attachments_message", "attachments", ["room_id", "message_seq"])
    op.create_index("ix_attachments_created", "attachments", ["created_at"])
    op.create_table(
        "attachment_uploads",
        sa.Column("token", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("received", sa.BigInteger, nullable=False),
        sa.Column("parts", sa.JSON, nullable=False),
        sa.Column("attachment_id", sa.BigInteger, sa.ForeignKey("attachments.id", ondelete="SET NULL"),
                  nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_attachment_uploads_member", "attachment_uploads", ["member_id"])
    op.create_index("ix_attachment_uploads_expires", "attachment_uploads", ["expires_at"])
    # Attachment names are found by the messages' full-text search (rooms/store/search.py).
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_attachments_fts ON attachments USING GIN (to_tsvector('simple', search_text))")
    else:
        op.execute("CREATE VIRTUAL TABLE attachments_fts USING fts5("
                   "search_text, content='attachments', content_rowid='id', tokenize='unicode61')")
        op.execute("CREATE TRIGGER attachments_fts_insert AFTER INSERT ON attachments "
                   "BEGIN INSERT INTO attachments_fts(rowid, search_text) VALUES (new.id, new.search_text); END")
        op.execute("CREATE TRIGGER attachments_fts_delete AFTER DELETE ON attachments "
                   "BEGIN INSERT INTO attachments_fts(attachments_fts, rowid, search_text) "
                   "VALUES ('delete', old.id, old.search_text); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS attachments_fts")
    op.drop_table("attachment_uploads")
    op.drop_table("attachments")
    op.drop_column("messages", "attachments")
