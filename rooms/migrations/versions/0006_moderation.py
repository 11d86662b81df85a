"""Chat moderation: site admins, suspensions, mutes, bans, reports, slow mode (issue 14).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def _member_fk(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=nullable)


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (no table rebuild on SQLite, where rebuilding `members`
    # would cascade into every table that references it).
    op.add_column("members", sa.Column("site_admin", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("members", sa.Column("suspended_at", UTCDateTime, nullable=True))
    op.add_column("rooms", sa.Column("slow_mode_s", sa.Integer, nullable=False, server_default="0"))
    op.create_table(
        "room_restrictions",
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("kind", sa.String(8), primary_key=True),
        sa.Column("until", UTCDateTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        _member_fk("created_by"),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "reports",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        _member_fk("reporter_id"),
        sa.Column("reason", sa.Text, nullable=False),
        _member_fk("sender_id"),
        sa.Column("sender_name", sa.String(80), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=True),
        _member_fk("handled_by"),
        sa.Column("handled_at", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("room_id", "seq", "reporter_id", name="uq_reports_once"),
    )
    op.create_index("ix_reports_status", "reports", ["status", "room_id"])
    op.create_table(
        "account_actions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        _member_fk("actor_id"),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_account_actions_member", "account_actions", ["member_id"])


def downgrade() -> None:
    op.drop_table("account_actions")
    op.drop_table("reports")
    op.drop_table("room_restrictions")
    with op.batch_alter_table("rooms") as batch:
        batch.drop_column("slow_mode_s")
    with op.batch_alter_table("members") as batch:
        batch.drop_column("suspended_at")
        batch.drop_column("site_admin")
