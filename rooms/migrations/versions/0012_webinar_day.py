"""Webinars at community scale: several hosts, the green room, breakout groups, summaries (issue 17).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass   # filled in by the change that builds this feature


def downgrade() -> None:
    pass
