"""The low-bandwidth digest: what changed in an emergency since the member last looked, as plain text.

It is the room's sequence after the member's cursor, keeping alerts, sitrep versions, 4W
changes, changes to the emergency itself and messages that mention the member. Looking
(the page, the API, or the e-mail) moves the cursor to where the digest ended.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from rooms.emergency.models import Emergency, Layer
from rooms.emergency.rooms import EmergencyRooms
from rooms.emergency.store import EmergencyStores
from rooms.errors import BadRequest
from rooms.models import Event, EventKind, Member
from rooms.store import Stores

SECTIONS = ("Alerts", "Situation report", "4Ws", "Emergency", "Mentions")
PAGE = 500


@dataclass(frozen=True)
class DigestItem:
    section: str
    seq: int
    line: str

    def public(self) -> dict:
        return {"section": self.section, "seq": self.seq, "line": self.line}


@dataclass(frozen=True)
class Digest:
    emergency: Emergency
    since: datetime | None
    from_seq: int                 # exclusive
    to_seq: int                   # inclusive: where the cursor moves
    items: tuple[DigestItem, ...]
    pending_alerts: int

    @property
    def text(self) -> str:
        e = self.emergency
        lines = [f"Convene digest: {e.room.name} ({e.region}), {e.status.value} since {e.started_on.isoformat()}",
                 f"Changes since {_when(self.since) if self.since else 'the start'}: {len(self.items)}"]
        if self.pending_alerts:
            lines.append(f"Alerts waiting for your acknowledgement: {self.pending_alerts}")
        for section in SECTIONS:
            found = [item.line for item in self.items if item.section == section]
            if found:
                lines += ["", section, *(f"- {line}" for line in found)]
        if not self.items:
            lines += ["", "Nothing new."]
        return "\n".join(lines) + "\n"

    def public(self) -> dict:
        return {"room": self.emergency.room.id, "since": self.since.isoformat() if self.since else None,
                "from_seq": self.from_seq, "to_seq": self.to_seq, "pending_alerts": self.pending_alerts,
                "items": [item.public() for item in self.items], "text": self.text}


class DigestService:
    def __init__(self, rooms: EmergencyRooms, stores: Stores, emergency_stores: EmergencyStores) -> None:
        self.rooms = rooms
        self.stores = stores
        self.estores = emergency_stores

    async def look(self, member: Member, room_id: int) -> Digest:
        """The digest since the last look, and the cursor moved past it."""
        digest = await self.peek(member, room_id)
        await self.estores.digests.advance(room_id, member.id, digest.to_seq)
        return digest

    async def email(self, member: Member, room_id: int) -> Digest:
        """The digest queued in the outbox for the member's notification address; counts as a look."""
        digest = await self.peek(member, room_id)   # who may, before anything about their address
        address = await self.estores.outbox.address(member.id)
        if address is None:
            raise BadRequest("set a notification address first (PUT /api/me/notifications)", field="email")
        await self.estores.outbox.enqueue(member.id, address, f"[Convene] Digest: {digest.emergency.room.name}",
                                          digest.text, "digest")
        await self.estores.digests.advance(room_id, member.id, digest.to_seq)
        return digest

    async def peek(self, member: Member, room_id: int) -> Digest:
        seat = await self.rooms.seat(member, room_id)
        seen, since = await self.estores.digests.cursor(room_id, member.id)
        head = seat.emergency.room.last_seq
        mention = re.compile(rf"(?<![\w@])@{re.escape(member.username)}\b", re.IGNORECASE)
        items: list[DigestItem] = []
        cursor = seen
        while cursor < head:
            events = await self.stores.messages.after(room_id, cursor, min(PAGE, head - cursor))
            if not events:
                break
            for event in events:
                item = _item(event, member, mention)
                if item is not None:
                    items.append(item)
            cursor = events[-1].seq
        pending = len(await self.estores.alerts.pending_for(room_id, member.id))
        return Digest(emergency=seat.emergency, since=since, from_seq=seen, to_seq=max(seen, cursor),
                      items=tuple(items), pending_alerts=pending)


def _when(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def _item(event: Event, member: Member, mention: re.Pattern[str]) -> DigestItem | None:
    frame = event.frame()
    who = event.sender_name or "someone"
    at = _when(event.created_at)
    if event.kind is EventKind.ALERT:
        return DigestItem("Alerts", event.seq, f"{at} {who}: {_oneline(frame['body'])}")
    if event.kind is EventKind.SITREP:
        return DigestItem("Situation report", event.seq,
                          f"version {frame['version']} \"{frame['title']}\" by {who} at {at}")
    if event.kind is EventKind.FOURW:
        if frame["action"] == "imported":
            return DigestItem("4Ws", event.seq, f"{frame['count']} entries imported by {who} at {at}")
        e = frame["entry"]
        dates = f"from {e['start_date']}" + (f" to {e['end_date']}" if e.get("end_date") else "")
        return DigestItem("4Ws", event.seq, f"{frame['action']} by {who}: {e['organisation']}, {e['activity']} "
                          f"({Layer(e['layer']).label}), {e['country']} {e['admin_area']}, {dates}")
    if event.kind is EventKind.EMERGENCY:
        changes = ", ".join(f"{key} {_plain(value)}" for key, value in sorted(frame.items())
                            if key in ("status", "region", "areas"))
        return DigestItem("Emergency", event.seq, f"{changes} by {who} at {at}")
    if (event.kind is EventKind.MESSAGE and not event.deleted and event.sender_id != member.id
            and mention.search(event.body)):
        return DigestItem("Mentions", event.seq, f"{who} at {at}: {_oneline(event.body)}")
    return None


def _plain(value: object) -> str:
    if isinstance(value, list):
        return "; ".join(f"{a['country']} {a['admin_area']}" for a in value) or "none"
    return str(value)


def _oneline(text: str) -> str:
    return " ".join(text.split())
