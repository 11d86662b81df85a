"""Webinar moderation: a registrant's muted flag, and who was removed (so they cannot register again).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webinar_registrations",
                  sa.Column("muted", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "webinar_removals",
        sa.Column("webinar_id", sa.BigInteger, sa.ForeignKey("webinars.id", ondelete="CASCADE"),
                  primary_key=True, nullable=False),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"),
                  primary_key=True, nullable=False),
        sa.Column("removed_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("removed_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webinar_removals")
    with op.batch_alter_table("webinar_registrations") as batch:   # SQLite rebuilds the table
        batch.drop_column("muted")
