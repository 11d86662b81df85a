"""Plain values of the archive: a recording, its job, chapters and captions."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from rooms.models import Member


class RecordingVisibility(str, enum.Enum):
    PUBLIC = "public"     # anyone, logged in or not; media may be fetched unsigned
    MEMBERS = "members"   # logged-in members
    INVITE = "invite"     # its hosts and the members they invited


class JobState(str, enum.Enum):
    """queued → processing → ready | failed; failed → queued again when a host retries."""

    QUEUED = "queued"
    PROCESSING = "processing"
    READY = "ready"
    FAILED = "failed"


class SourceKind(str, enum.Enum):
    LIVE = "live"       # the live packager's HLS directory
    UPLOAD = "upload"   # an imported file in storage


@dataclass(frozen=True)
class Chapter:
    t: float
    title: str

    def public(self) -> dict:
        return {"t": self.t, "title": self.title}


@dataclass(frozen=True)
class Caption:
    id: int
    recording_id: int
    language: str
    label: str
    created_at: datetime

    @property
    def name(self) -> str:
        return f"captions/{self.id}.vtt"


@dataclass(frozen=True)
class Job:
    id: int
    recording_id: int
    state: JobState
    progress: float
    error: str | None
    attempts: int
    lease_owner: str | None = None

    def public(self) -> dict:
        return {"state": self.state.value, "progress": round(self.progress, 3), "error": self.error,
                "attempts": self.attempts}


@dataclass(frozen=True)
class Recording:
    id: int
    title: str
    description: str
    language: str
    visibility: RecordingVisibility
    state: JobState
    webinar_id: int | None
    room_id: int | None
    owner_id: int | None
    recorded_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    has_video: bool
    views: int
    chapters: tuple[Chapter, ...]
    source_kind: SourceKind
    source: str
    created_at: datetime
    tags: tuple[str, ...] = ()
    presenters: tuple[Member, ...] = field(default=())

    def summary(self) -> dict:
        """What the catalogue lists (without URLs: those are signed by the web layer)."""
        return {"id": self.id, "title": self.title, "description": self.description, "language": self.language,
                "tags": list(self.tags), "presenters": [{"id": m.id, "display_name": m.display_name}
                                                         for m in self.presenters],
                "recorded_at": self.recorded_at.isoformat(), "duration_s": self.duration_s, "views": self.views,
                "visibility": self.visibility.value, "state": self.state.value, "webinar_id": self.webinar_id,
                "room_id": self.room_id, "owner_id": self.owner_id, "has_video": self.has_video}
