"""Chat moderation: site admins, suspensions, mutes, bans, reports, slow mode (issue 14).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass   # filled in by the change that builds this feature


def downgrade() -> None:
    pass
