"""The webinar tables, on the chat core's metadata. Migrations 0003, 0004 and 0012 are the authority on their shape."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    false,
    true,
)

from rooms.store.schema import BigId, UTCDateTime, metadata


def _webinar_fk(primary_key: bool = True) -> Column:
    return Column("webinar_id", BigInteger, ForeignKey("webinars.id", ondelete="CASCADE"),
                  primary_key=primary_key, nullable=False)


def _member_fk(primary_key: bool = True) -> Column:
    return Column("member_id", BigInteger, ForeignKey("members.id", ondelete="CASCADE"),
                  primary_key=primary_key, nullable=False)


webinars = Table(
    "webinars", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    # The session's chat and Q&A live in this room's sequence.
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, unique=True),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("language", String(16), nullable=False),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("visibility", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("anonymous_questions", Boolean, nullable=False),
    Column("created_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    # False: the host opted out of recording (migration 0005); the live packager's end discards the media.
    Column("record", Boolean, nullable=False, server_default=true()),
    Index("ix_webinars_starts_at", "starts_at"),
)

# Hosts, panelists and promoted speakers; everyone else is an attendee.
webinar_roles = Table(
    "webinar_roles", metadata,
    _webinar_fk(), _member_fk(),
    Column("role", String(16), nullable=False),
    Column("granted_at", UTCDateTime, nullable=False),
)

webinar_registrations = Table(
    "webinar_registrations", metadata,
    _webinar_fk(), _member_fk(),
    Column("registered_at", UTCDateTime, nullable=False),
    # Set by a moderator: the member's audio is not forwarded while it is true (see docs/webinars.md).
    Column("muted", Boolean, nullable=False, server_default=false()),
)

# Members a moderator removed: they lose registration and the room, and may not register again.
webinar_removals = Table(
    "webinar_removals", metadata,
    _webinar_fk(), _member_fk(),
    Column("removed_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("removed_at", UTCDateTime, nullable=False),
)

# One row per visit to the live page; left_at stays NULL while the member is there.
webinar_attendance = Table(
    "webinar_attendance", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _webinar_fk(False), _member_fk(False),
    Column("joined_at", UTCDateTime, nullable=False),
    Column("left_at", UTCDateTime, nullable=True),
    Index("ix_webinar_attendance_member", "webinar_id", "member_id"),
)

webinar_questions = Table(
    "webinar_questions", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _webinar_fk(False),
    Column("seq", BigInteger, nullable=False),   # the question's event in the room
    # Kept even for anonymous questions (abuse handling by operators); never sent to any client.
    Column("author_id", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("anonymous", Boolean, nullable=False),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("upvotes", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_webinar_questions_webinar", "webinar_id"),
)

webinar_question_votes = Table(
    "webinar_question_votes", metadata,
    Column("question_id", BigInteger, ForeignKey("webinar_questions.id", ondelete="CASCADE"), primary_key=True),
    _member_fk(),
    Column("created_at", UTCDateTime, nullable=False),
)

webinar_hands = Table(
    "webinar_hands", metadata,
    _webinar_fk(), _member_fk(),
    Column("raised_at", UTCDateTime, nullable=False),
)

webinar_polls = Table(
    "webinar_polls", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _webinar_fk(False),
    Column("question", String(300), nullable=False),
    Column("options", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Index("ix_webinar_polls_webinar", "webinar_id"),
)

webinar_poll_votes = Table(
    "webinar_poll_votes", metadata,
    Column("poll_id", BigInteger, ForeignKey("webinar_polls.id", ondelete="CASCADE"), primary_key=True),
    _member_fk(),
    Column("option", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# Issue 17 (migration 0012). How many people had the webinar open, per process, at instants aligned to
# the sampling interval, so the processes' samples of one instant add up (the summary's concurrency).
webinar_viewer_samples = Table(
    "webinar_viewer_samples", metadata,
    _webinar_fk(),
    Column("at", UTCDateTime, primary_key=True, nullable=False),
    Column("process", String(80), primary_key=True, nullable=False),
    Column("viewers", Integer, nullable=False),
)

# A round of breakout groups: open until a host calls everyone back, its timer runs out, or the webinar ends.
webinar_breakouts = Table(
    "webinar_breakouts", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    _webinar_fk(False),
    Column("state", String(16), nullable=False),
    Column("created_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("warn_at", UTCDateTime, nullable=False),
    Column("warned_at", UTCDateTime, nullable=True),     # set once, by whichever process sent the warning
    Column("closed_at", UTCDateTime, nullable=True),
    Column("closed_by", BigInteger, ForeignKey("members.id", ondelete="SET NULL"), nullable=True),
    Column("close_reason", String(16), nullable=True),
    Index("ix_webinar_breakouts_webinar", "webinar_id"),
    Index("ix_webinar_breakouts_state", "state"),
)

# One group of a round, with its own chat room (kind breakout).
webinar_breakout_groups = Table(
    "webinar_breakout_groups", metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("breakout_id", BigInteger, ForeignKey("webinar_breakouts.id", ondelete="CASCADE"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("room_id", BigInteger, ForeignKey("rooms.id", ondelete="CASCADE"), nullable=False, unique=True),
    Index("ix_webinar_breakout_groups_breakout", "breakout_id"),
)

# Who is in which group of a round: one group per member per round.
webinar_breakout_members = Table(
    "webinar_breakout_members", metadata,
    Column("breakout_id", BigInteger, ForeignKey("webinar_breakouts.id", ondelete="CASCADE"), primary_key=True,
           nullable=False),
    _member_fk(),
    Column("group_id", BigInteger, ForeignKey("webinar_breakout_groups.id", ondelete="CASCADE"), nullable=False),
)
