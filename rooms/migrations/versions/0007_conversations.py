"""Conversations: replies, reactions, mentions, pins and formatted text (issue 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_REPLIES = sa.text("reply_to IS NOT NULL")


def upgrade() -> None:
    # New columns are nullable (or have a server default): instant on Postgres, no table rewrite.
    # Messages stored before have no `html`; they are shown as plain text (rooms/formatting.plain_html).
    for column in (sa.Column("reply_to", sa.BigInteger, nullable=True),
                   sa.Column("parent_preview", sa.JSON, nullable=True),
                   sa.Column("html", sa.Text, nullable=True),
                   sa.Column("mentions", sa.JSON, nullable=True),
                   sa.Column("mentions_room", sa.Boolean, nullable=False, server_default=sa.false()),
                   sa.Column("reactions", sa.JSON, nullable=True)):
        op.add_column("messages", column)
    op.create_index("ix_messages_replies", "messages", ["room_id", "reply_to"],
                    postgresql_where=_REPLIES, sqlite_where=_REPLIES)
    op.create_table(
        "mentions",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_mentions_member", "mentions", ["member_id", "room_id", "seq"])
    op.create_table(
        "reactions",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("target_seq", sa.BigInteger, primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("emoji", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "pins",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("target_seq", sa.BigInteger, primary_key=True),
        sa.Column("pinned_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("pinned_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("pins", "reactions", "mentions"):
        op.drop_table(table)
    op.drop_index("ix_messages_replies", "messages")
    # Plain DROP COLUMN (SQLite 3.35+): copying the table would lose its full-text triggers.
    for name in ("reactions", "mentions_room", "mentions", "html", "parent_preview", "reply_to"):
        op.drop_column("messages", name)
