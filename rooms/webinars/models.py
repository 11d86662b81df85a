"""Plain values of webinars: the session, its roles, questions, polls and attendance."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from rooms.models import Member


class WebinarState(str, enum.Enum):
    """scheduled → live → ended; ended is final."""

    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"

    def may_become(self, other: "WebinarState") -> bool:
        return (self, other) in {(WebinarState.SCHEDULED, WebinarState.LIVE),
                                 (WebinarState.LIVE, WebinarState.ENDED)}


class WebinarVisibility(str, enum.Enum):
    PUBLIC = "public"     # listed to everyone, its page and .ics readable without logging in
    MEMBERS = "members"   # listed and readable by logged-in members only


class WebinarRole(str, enum.Enum):
    HOST = "host"           # runs the session: starts, ends, names panelists
    PANELIST = "panelist"   # presents and moderates Q&A, hands and polls
    SPEAKER = "speaker"     # an attendee promoted by a moderator; may publish once media exists

    @property
    def moderates(self) -> bool:
        return self in (WebinarRole.HOST, WebinarRole.PANELIST)


class QuestionState(str, enum.Enum):
    OPEN = "open"
    ANSWERED = "answered"
    DISMISSED = "dismissed"


class PollState(str, enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class Webinar:
    id: int
    room_id: int
    title: str
    description: str
    language: str
    starts_at: datetime
    ends_at: datetime
    visibility: WebinarVisibility
    state: WebinarState
    anonymous_questions: bool
    created_by: int | None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    record: bool = True          # recorded unless the host opted out

    def public(self) -> dict:
        return {
            "id": self.id, "room": self.room_id, "title": self.title, "description": self.description,
            "language": self.language, "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat(), "visibility": self.visibility.value,
            "state": self.state.value, "anonymous_questions": self.anonymous_questions,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "record": self.record,
        }


@dataclass(frozen=True)
class Question:
    id: int
    webinar_id: int
    seq: int
    body: str
    anonymous: bool
    author: Member | None     # None when anonymous: the author never leaves the store
    state: QuestionState
    upvotes: int
    created_at: datetime

    def public(self) -> dict:
        return {"id": self.id, "seq": self.seq, "body": self.body, "anonymous": self.anonymous,
                "author": None if self.anonymous or self.author is None else self.author.brief(),
                "state": self.state.value, "upvotes": self.upvotes, "ts": self.created_at.isoformat()}


@dataclass(frozen=True)
class Poll:
    id: int
    webinar_id: int
    question: str
    options: tuple[str, ...]
    state: PollState
    counts: tuple[int, ...]
    created_at: datetime
    closed_at: datetime | None = None

    def public(self) -> dict:
        return {"id": self.id, "question": self.question, "options": list(self.options),
                "state": self.state.value, "counts": list(self.counts), "votes": sum(self.counts),
                "ts": self.created_at.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None}


@dataclass(frozen=True)
class Attendance:
    """One member's time on the live page: the sum of their join → leave visits."""

    member: Member
    visits: int
    seconds: float
    first_joined_at: datetime
    present: bool   # a visit is still open

    def public(self) -> dict:
        return {"member": self.member.brief(), "visits": self.visits, "seconds": round(self.seconds, 3),
                "first_joined_at": self.first_joined_at.isoformat(), "present": self.present}


class BreakoutState(str, enum.Enum):
    """open → closed, once."""

    OPEN = "open"
    CLOSED = "closed"


class BreakoutEnd(str, enum.Enum):
    """Why breakout groups ended."""

    CALLED_BACK = "called_back"   # a host called everyone back to the main session
    TIMER = "timer"               # their time ran out
    ENDED = "ended"               # the webinar ended


@dataclass(frozen=True)
class BreakoutGroup:
    id: int
    number: int                  # 1, 2, … as the host sees them
    room_id: int                 # the group's chat: a room of kind breakout
    members: tuple[int, ...]

    def public(self) -> dict:
        return {"id": self.id, "number": self.number, "room": self.room_id, "members": list(self.members)}


@dataclass(frozen=True)
class Breakout:
    """One round of breakout groups in a webinar."""

    id: int
    webinar_id: int
    state: BreakoutState
    created_at: datetime
    ends_at: datetime
    warn_at: datetime
    groups: tuple[BreakoutGroup, ...]
    closed_at: datetime | None = None
    close_reason: BreakoutEnd | None = None

    def group_of(self, member_id: int) -> BreakoutGroup | None:
        return next((g for g in self.groups if member_id in g.members), None)

    def public(self) -> dict:
        return {"id": self.id, "webinar": self.webinar_id, "state": self.state.value,
                "created_at": self.created_at.isoformat(), "ends_at": self.ends_at.isoformat(),
                "warn_at": self.warn_at.isoformat(), "groups": [g.public() for g in self.groups],
                "closed_at": self.closed_at.isoformat() if self.closed_at else None,
                "reason": self.close_reason.value if self.close_reason else None}
