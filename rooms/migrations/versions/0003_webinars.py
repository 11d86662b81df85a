"""Webinars: sessions, roles, registrations, attendance, questions and votes, hands, polls and votes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _webinar_fk(primary_key: bool = True) -> sa.Column:
    return sa.Column("webinar_id", sa.BigInteger, sa.ForeignKey("webinars.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def _member_fk(primary_key: bool = True) -> sa.Column:
    return sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def upgrade() -> None:
    op.create_table(
        "webinars",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False,
                  unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=False),
        sa.Column("ends_at", UTCDateTime, nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("anonymous_questions", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=True),
        sa.Column("ended_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_webinars_starts_at", "webinars", ["starts_at"])
    op.create_table(
        "webinar_roles", _webinar_fk(), _member_fk(),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webinar_registrations", _webinar_fk(), _member_fk(),
        sa.Column("registered_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webinar_attendance",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _webinar_fk(False), _member_fk(False),
        sa.Column("joined_at", UTCDateTime, nullable=False),
        sa.Column("left_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_webinar_attendance_member", "webinar_attendance", ["webinar_id", "member_id"])
    op.create_table(
        "webinar_questions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _webinar_fk(False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("author_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("anonymous", sa.Boolean, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("upvotes", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_webinar_questions_webinar", "webinar_questions", ["webinar_id"])
    op.create_table(
        "webinar_question_votes",
        sa.Column("question_id", sa.BigInteger, sa.ForeignKey("webinar_questions.id", ondelete="CASCADE"),
                  primary_key=True),
        _member_fk(),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webinar_hands", _webinar_fk(), _member_fk(),
        sa.Column("raised_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "webinar_polls",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _webinar_fk(False),
        sa.Column("question", sa.String(300), nullable=False),
        sa.Column("options", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("closed_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_webinar_polls_webinar", "webinar_polls", ["webinar_id"])
    op.create_table(
        "webinar_poll_votes",
        sa.Column("poll_id", sa.BigInteger, sa.ForeignKey("webinar_polls.id", ondelete="CASCADE"),
                  primary_key=True),
        _member_fk(),
        sa.Column("option", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("webinar_poll_votes", "webinar_polls", "webinar_hands", "webinar_question_votes",
                  "webinar_questions", "webinar_attendance", "webinar_registrations", "webinar_roles",
                  "webinars"):
        op.drop_table(table)
