"""Conversations: replies, reactions, mentions, pins and formatted text (issue 15).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass   # filled in by the change that builds this feature


def downgrade() -> None:
    pass
