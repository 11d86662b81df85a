"""Webinars at community scale: several hosts, the green room, breakout groups, summaries (issue 17).

Several hosts and the green room need no table (hosts are rows of webinar_roles; the green room is
a phase of the media session). Breakout groups have three tables; the summary's concurrency over
time is sampled by every process into webinar_viewer_samples.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _webinar_fk(primary_key: bool) -> sa.Column:
    return sa.Column("webinar_id", sa.BigInteger, sa.ForeignKey("webinars.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def upgrade() -> None:
    op.create_table(
        "webinar_viewer_samples",
        _webinar_fk(True),
        sa.Column("at", UTCDateTime, primary_key=True, nullable=False),
        sa.Column("process", sa.String(80), primary_key=True, nullable=False),
        sa.Column("viewers", sa.Integer, nullable=False),
    )
    op.create_table(
        "webinar_breakouts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _webinar_fk(False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("warn_at", UTCDateTime, nullable=False),
        sa.Column("warned_at", UTCDateTime, nullable=True),
        sa.Column("closed_at", UTCDateTime, nullable=True),
        sa.Column("closed_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("close_reason", sa.String(16), nullable=True),
    )
    op.create_index("ix_webinar_breakouts_webinar", "webinar_breakouts", ["webinar_id"])
    op.create_index("ix_webinar_breakouts_state", "webinar_breakouts", ["state"])
    op.create_table(
        "webinar_breakout_groups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("breakout_id", sa.BigInteger, sa.ForeignKey("webinar_breakouts.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
    )
    op.create_index("ix_webinar_breakout_groups_breakout", "webinar_breakout_groups", ["breakout_id"])
    op.create_table(
        "webinar_breakout_members",
        sa.Column("breakout_id", sa.BigInteger, sa.ForeignKey("webinar_breakouts.id", ondelete="CASCADE"),
                  primary_key=True, nullable=False),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"),
                  primary_key=True, nullable=False),
        sa.Column("group_id", sa.BigInteger, sa.ForeignKey("webinar_breakout_groups.id", ondelete="CASCADE"),
                  nullable=False),
    )


def downgrade() -> None:
    op.drop_table("webinar_breakout_members")
    op.drop_table("webinar_breakout_groups")
    op.drop_index("ix_webinar_breakouts_state", "webinar_breakouts")
    op.drop_index("ix_webinar_breakouts_webinar", "webinar_breakouts")
    op.drop_table("webinar_breakouts")
    op.drop_table("webinar_viewer_samples")
