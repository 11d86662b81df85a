"""The recordings tables, on the chat core's metadata. Migration 0005 is the authority on their shape."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text

from rooms.store.schema import BigId, UTCDateTime, metadata


def _recording_fk(primary_key: bool = True) -> Column:
    return Column("recording_id", BigInteger, ForeignKey("recordings.id", ondelete="CASCADE"),
                  primary_key=primary_key, nullable=False)


def _member_fk(primary_key: bool = True) -> Column:
    return Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"),
                  primary_key=primary_key, nullable=False)


recordings = Table(
    "recordings", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("state", String(16), nullable=False),             # mirrors its job's state, for listings
    Column("webinar_id", BigInteger, ForeignKey("webinars.id", ondelete="SET NULL"), nullable=True, unique=True),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="SET NULL"), nullable=True),
    Column("owner_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("recorded_at", UTCDateTime, nullable=False),       # when the live stream started (replay's zero)
    Column("ended_at", UTCDateTime, nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("has_video", Boolean, nullable=False, default=False),
    Column("views", Integer, nullable=False, default=0),
    Column("chapters", JSON, nullable=False),
    Column("source_kind", String(16), nullable=False),        # "live" (a packager directory) or "upload"
    Column("source", String(1000), nullable=False),           # the live directory, or the upload's storage key
    # Title, description, tags and presenters' names: what full-text search indexes.
    Column("search_text", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_recordings_recorded_at", "recorded_at"),
    Index("ix_recordings_views", "views"),
)

recording_tags = Table(
    "recording_tags", metadata,
    _recording_fk(),
    Column("tag", String(40), primary_key=True, nullable=False),
    Index("ix_recording_tags_tag", "tag"),
)

recording_presenters = Table(
    "recording_presenters", metadata,
    _recording_fk(), _member_fk(),
    Column("position", Integer, nullable=False),
    Index("ix_recording_presenters_member", "member_id"),
)

recording_captions = Table(
    "recording_captions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _recording_fk(False),
    Column("language", String(16), nullable=False),
    Column("label", String(80), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_recording_captions_recording", "recording_id"),
)

recording_invites = Table(
    "recording_invites", metadata,
    _recording_fk(), _member_fk(),
    Column("invited_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# A member's resume position; its first row for a recording is what counts one view.
recording_positions = Table(
    "recording_positions", metadata,
    _recording_fk(), _member_fk(),
    Column("position_s", Float, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

recording_jobs = Table(
    "recording_jobs", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("recording_id", BigInteger, ForeignKey("recordings.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("state", String(16), nullable=False),
    Column("progress", Float, nullable=False),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False),
    # The process running it and until when; another process takes the job over once this passes.
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    Index("ix_recording_jobs_state", "state"),
)
