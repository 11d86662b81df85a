"""The webinar tables, on the chat core's metadata. Migrations 0003 and 0004 are the authority on their shape."""

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
