"""Plain values of moderation: restrictions (mutes and bans), reports, and the actions recorded on a room's sequence."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

import orjson

from rooms.models import Member
from rooms.store.rooms import FOREVER


class Restriction(str, enum.Enum):
    MUTE = "mute"   # reads, but sends, edits and reacts nothing until it ends
    BAN = "ban"     # neither reads, nor joins, nor subscribes, until it ends (or for good)


class Action(str, enum.Enum):
    """The `action` of a `moderation` event (docs/protocol.md, "Moderation")."""

    MUTE = "mute"
    UNMUTE = "unmute"
    BAN = "ban"
    UNBAN = "unban"
    KICK = "kick"
    ROLE = "role"
    SLOW_MODE = "slow_mode"


# The actions that end their target's live subscriptions, and the `reason` their `unsubscribed` gives.
ENDS_SUBSCRIPTIONS = {Action.BAN.value: "banned", Action.KICK.value: "removed"}
_MARK = '"type":"moderation"'


def moderation_of(frame_text: str) -> tuple[str, int] | None:
    """(action, target member id) of a `moderation` event as sent; None for any other frame. A cheap
    substring test first: every event of every room passes here (realtime/hub.py), and a quote inside
    a message body is always escaped, so only a moderation event carries the mark unescaped."""
    if _MARK not in frame_text:
        return None
    frame = orjson.loads(frame_text)
    member = frame.get("member")
    if frame.get("type") != "moderation" or not isinstance(member, dict):
        return None
    return frame.get("action", ""), member.get("id", 0)


class ReportStatus(str, enum.Enum):
    OPEN = "open"
    DISMISSED = "dismissed"
    ACTIONED = "actioned"


class Resolution(str, enum.Enum):
    """What a moderator does about a report."""

    DISMISS = "dismiss"
    DELETE = "delete"
    MUTE = "mute"
    BAN = "ban"


@dataclass(frozen=True)
class ActiveRestriction:
    room_id: int
    member: Member
    kind: Restriction
    until: datetime | None      # None: a ban without end
    reason: str
    created_by: int | None
    created_by_name: str
    created_at: datetime

    def public(self) -> dict:
        return {"room": self.room_id, "member": self.member.brief(), "kind": self.kind.value,
                "until": self.until.isoformat() if self.until else None, "reason": self.reason,
                "by": {"id": self.created_by, "display_name": self.created_by_name},
                "ts": self.created_at.isoformat()}


def until_or_none(until: datetime | None) -> datetime | None:
    return None if until is None or until >= FOREVER else until


@dataclass(frozen=True)
class Report:
    id: int
    room_id: int
    room_name: str
    seq: int
    reporter_id: int | None
    reporter_name: str
    reason: str
    sender_id: int | None
    sender_name: str
    body: str
    status: ReportStatus
    action: Resolution | None
    handled_by: int | None
    handled_by_name: str
    handled_at: datetime | None
    created_at: datetime

    def public(self) -> dict:
        return {
            "id": self.id, "room": self.room_id, "room_name": self.room_name, "seq": self.seq,
            "reporter": {"id": self.reporter_id, "display_name": self.reporter_name}, "reason": self.reason,
            "message": {"sender": {"id": self.sender_id, "display_name": self.sender_name}, "body": self.body},
            "status": self.status.value, "action": self.action.value if self.action else None,
            "handled_by": ({"id": self.handled_by, "display_name": self.handled_by_name}
                           if self.handled_at else None),
            "handled_at": self.handled_at.isoformat() if self.handled_at else None,
            "ts": self.created_at.isoformat(),
        }
