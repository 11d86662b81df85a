"""Chat core: members, tokens, rooms, memberships, invites, messages and full-text search.

Revision ID: 0001
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(32), nullable=False, unique=True),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("bio", sa.Text, nullable=False, server_default=""),
        sa.Column("organisation", sa.String(120), nullable=False, server_default=""),
        sa.Column("country", sa.String(2), nullable=False, server_default=""),
        sa.Column("languages", sa.JSON, nullable=False),
        sa.Column("practice_areas", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_auth_tokens_member", "auth_tokens", ["member_id"])
    op.create_table(
        "rooms",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("topic", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("dm_key", sa.String(64), nullable=True, unique=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("read_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("joined_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_memberships_member", "memberships", ["member_id"])
    op.create_table(
        "invites",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("invited_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "messages",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("sender_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("client_id", sa.String(64), nullable=True),
        sa.Column("body", sa.Text, nullable=False, server_default=""),
        sa.Column("target_seq", sa.BigInteger, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("edited_at", UTCDateTime, nullable=True),
        sa.Column("deleted_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("room_id", "seq", name="uq_messages_room_seq"),
        sa.UniqueConstraint("room_id", "sender_id", "client_id", name="uq_messages_client_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        # 'simple' configuration: members write in many languages, so no stemming for one of them.
        op.execute("CREATE INDEX ix_messages_fts ON messages "
                   "USING GIN (to_tsvector('simple', body)) WHERE kind = 'message'")
    else:
        op.execute("CREATE VIRTUAL TABLE messages_fts USING fts5("
                   "body, content='messages', content_rowid='id', tokenize='unicode61')")
        op.execute("CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.kind = 'message' "
                   "BEGIN INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body); END")
        op.execute("CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages WHEN new.kind = 'message' "
                   "BEGIN INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body); "
                   "INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body); END")
        op.execute("CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.kind = 'message' "
                   "BEGIN INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS messages_fts")
    for table in ("messages", "invites", "memberships", "rooms", "auth_tokens", "members"):
        op.drop_table(table)
