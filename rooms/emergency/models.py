"""Plain values of emergency rooms: the emergency itself, alerts, sitreps and 4W entries."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime

from rooms.models import Room


class EmergencyStatus(str, enum.Enum):
    ACTIVE = "active"
    CLOSED = "closed"


class Layer(str, enum.Enum):
    """The IASC MHPSS intervention pyramid, from its base to its tip."""

    BASIC_SERVICES = "basic_services"
    COMMUNITY_FAMILY = "community_family"
    FOCUSED = "focused_non_specialised"
    SPECIALISED = "specialised"

    @property
    def label(self) -> str:
        return LAYER_LABELS[self]

    @classmethod
    def parse(cls, text: str) -> "Layer":
        """A code or its label, in any case: what people type in spreadsheets."""
        wanted = " ".join(text.strip().lower().replace("_", " ").split())
        for layer in cls:
            if wanted in (layer.value.replace("_", " "), layer.label.lower()):
                return layer
        raise ValueError(text)


LAYER_LABELS = {
    Layer.BASIC_SERVICES: "Basic services and security",
    Layer.COMMUNITY_FAMILY: "Community and family supports",
    Layer.FOCUSED: "Focused, non-specialised supports",
    Layer.SPECIALISED: "Specialised services",
}


@dataclass(frozen=True)
class Area:
    country: str        # ISO 3166 alpha-2
    admin_area: str

    def public(self) -> dict:
        return {"country": self.country, "admin_area": self.admin_area}


@dataclass(frozen=True)
class Emergency:
    room: Room
    region: str
    started_on: date
    status: EmergencyStatus
    areas: tuple[Area, ...]
    closed_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.status is EmergencyStatus.ACTIVE

    def public(self) -> dict:
        return {
            "id": self.room.id, "name": self.room.name, "topic": self.room.topic,
            "region": self.region, "started_on": self.started_on.isoformat(), "status": self.status.value,
            "areas": [area.public() for area in self.areas], "last_seq": self.room.last_seq,
            "closed_at": self.closed_at.isoformat() if self.closed_at else None,
        }


@dataclass(frozen=True)
class Alert:
    room_id: int
    seq: int
    author_id: int | None
    author_name: str
    body: str
    created_at: datetime
    reminders_sent: int = 0
    renotify_s: float = 0.0

    def public(self) -> dict:
        return {"room": self.room_id, "seq": self.seq, "body": self.body, "priority": "urgent",
                "sender": {"id": self.author_id, "display_name": self.author_name},
                "ts": self.created_at.isoformat()}


@dataclass(frozen=True)
class AlertAck:
    member_id: int
    display_name: str
    organisation: str
    seq: int
    acked_at: datetime

    def public(self) -> dict:
        return {"member": {"id": self.member_id, "display_name": self.display_name,
                           "organisation": self.organisation},
                "seq": self.seq, "ts": self.acked_at.isoformat()}


@dataclass(frozen=True)
class Sitrep:
    room_id: int
    version: int
    title: str
    body: str
    author_id: int | None
    author_name: str
    seq: int
    created_at: datetime

    def public(self, html: str | None = None) -> dict:
        data = {"version": self.version, "title": self.title, "body": self.body, "seq": self.seq,
                "author": {"id": self.author_id, "display_name": self.author_name},
                "ts": self.created_at.isoformat()}
        if html is not None:
            data["html"] = html
        return data


@dataclass(frozen=True)
class FourW:
    """Who does What, Where and When: one organisation's activity in one area."""

    organisation: str
    activity: str
    layer: Layer
    country: str
    admin_area: str
    start_date: date
    end_date: date | None

    def fields(self) -> dict:
        return {"organisation": self.organisation, "activity": self.activity, "layer": self.layer.value,
                "country": self.country, "admin_area": self.admin_area,
                "start_date": self.start_date.isoformat(),
                "end_date": self.end_date.isoformat() if self.end_date else None}


@dataclass(frozen=True)
class FourWEntry:
    id: int
    room_id: int
    owner_id: int | None
    owner_name: str
    what: FourW
    updated_at: datetime

    def public(self) -> dict:
        return {"id": self.id, **self.what.fields(), "layer_label": self.what.layer.label,
                "owner": {"id": self.owner_id, "display_name": self.owner_name},
                "updated_at": self.updated_at.isoformat()}
