"""Attachments: uploaded files, images and voice notes, and per-member quotas (issue 15).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass   # filled in by the change that builds this feature


def downgrade() -> None:
    pass
