"""Media on any process: which process owns each webinar's media, leased (issue 17).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import UTCDateTime

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "media_leases",
        sa.Column("webinar_id", sa.BigInteger, sa.ForeignKey("webinars.id", ondelete="CASCADE"),
                  primary_key=True, nullable=False),
        sa.Column("owner", sa.String(80), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("expires_at", UTCDateTime, nullable=False),
        sa.Column("acquired_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("media_leases")
