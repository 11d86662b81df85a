"""Recordings archive: recordings, tags, presenters, chapters, captions, invites, positions, jobs; webinars.record.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

from rooms.store.schema import BigId, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _recording_fk(primary_key: bool = True) -> sa.Column:
    return sa.Column("recording_id", sa.BigInteger, sa.ForeignKey("recordings.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def _member_fk(primary_key: bool = True) -> sa.Column:
    return sa.Column("member_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="CASCADE"),
                     primary_key=primary_key, nullable=False)


def upgrade() -> None:
    # Hosts may opt a webinar out of recording; every webinar is recorded unless they do.
    op.add_column("webinars", sa.Column("record", sa.Boolean, nullable=False, server_default=sa.true()))
    op.create_table(
        "recordings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("visibility", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("webinar_id", sa.BigInteger, sa.ForeignKey("webinars.id", ondelete="SET NULL"), nullable=True,
                  unique=True),
        sa.Column("room_id", sa.BigInteger, sa.ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
        sa.Column("owner_id", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("recorded_at", UTCDateTime, nullable=False),
        sa.Column("ended_at", UTCDateTime, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("has_video", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("views", sa.Integer, nullable=False, server_default="0"),
        sa.Column("chapters", sa.JSON, nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source", sa.String(1000), nullable=False),
        sa.Column("search_text", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_recordings_recorded_at", "recordings", ["recorded_at"])
    op.create_index("ix_recordings_views", "recordings", ["views"])
    op.create_table(
        "recording_tags", _recording_fk(),
        sa.Column("tag", sa.String(40), primary_key=True, nullable=False),
    )
    op.create_index("ix_recording_tags_tag", "recording_tags", ["tag"])
    op.create_table(
        "recording_presenters", _recording_fk(), _member_fk(),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_recording_presenters_member", "recording_presenters", ["member_id"])
    op.create_table(
        "recording_captions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        _recording_fk(False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("label", sa.String(80), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_recording_captions_recording", "recording_captions", ["recording_id"])
    op.create_table(
        "recording_invites", _recording_fk(), _member_fk(),
        sa.Column("invited_by", sa.BigInteger, sa.ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "recording_positions", _recording_fk(), _member_fk(),
        sa.Column("position_s", sa.Float, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "recording_jobs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("recording_id", sa.BigInteger, sa.ForeignKey("recordings.id", ondelete="CASCADE"),
                  nullable=False, unique=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_expires", UTCDateTime, nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("finished_at", UTCDateTime, nullable=True),
    )
    op.create_index("ix_recording_jobs_state", "recording_jobs", ["state"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_recordings_fts ON recordings USING GIN (to_tsvector('simple', search_text))")
    else:
        op.execute("CREATE VIRTUAL TABLE recordings_fts USING fts5("
                   "search_text, content='recordings', content_rowid='id', tokenize='unicode61')")
        op.execute("CREATE TRIGGER recordings_fts_insert AFTER INSERT ON recordings "
                   "BEGIN INSERT INTO recordings_fts(rowid, search_text) VALUES (new.id, new.search_text); END")
        op.execute("CREATE TRIGGER recordings_fts_update AFTER UPDATE OF search_text ON recordings "
                   "BEGIN INSERT INTO recordings_fts(recordings_fts, rowid, search_text) "
                   "VALUES ('delete', old.id, old.search_text); "
                   "INSERT INTO recordings_fts(rowid, search_text) VALUES (new.id, new.search_text); END")
        op.execute("CREATE TRIGGER recordings_fts_delete AFTER DELETE ON recordings "
                   "BEGIN INSERT INTO recordings_fts(recordings_fts, rowid, search_text) "
                   "VALUES ('delete', old.id, old.search_text); END")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.execute("DROP TABLE IF EXISTS recordings_fts")
    for table in ("recording_jobs", "recording_positions", "recording_invites", "recording_captions",
                  "recording_presenters", "recording_tags", "recordings"):
        op.drop_table(table)
    with op.batch_alter_table("webinars") as batch:   # SQLite rebuilds the table
        batch.drop_column("record")
