"""Members' data: account deletion, room retention (issue 14).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import UTCDateTime

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable or server-defaulted columns: instant on Postgres, no table rewrite.
    op.add_column("members", sa.Column("erased_at", UTCDateTime, nullable=True))
    op.add_column("members", sa.Column("erasure_finished_at", UTCDateTime, nullable=True))
    op.add_column("rooms", sa.Column("retention_days", sa.Integer, nullable=True))
    op.add_column("rooms", sa.Column("removed_through", sa.BigInteger, nullable=False, server_default="0"))
    # A member's export and their account's deletion read their own messages without scanning every room.
    op.create_index("ix_messages_sender", "messages", ["sender_id", "room_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_messages_sender", "messages")
    # Plain DROP COLUMN (SQLite 3.35+): copying the table would lose its full-text triggers.
    op.drop_column("rooms", "removed_through")
    op.drop_column("rooms", "retention_days")
    op.drop_column("members", "erasure_finished_at")
    op.drop_column("members", "erased_at")
