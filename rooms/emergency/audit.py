"""The audit trail: the emergency room's sequence, read back as a log and exported as JSON or CSV.

Every message, alert, acknowledgement, sitrep version, 4W change, change to the emergency
and membership change is an event of the room's gap-free sequence, which is append-only:
rows are never removed, so a gap in the exported seq numbers would show a loss. A deleted
message keeps its place and its author but not its text (deletion is meant to remove it).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator

import orjson

from rooms.emergency.models import Emergency
from rooms.emergency.rooms import EmergencyRooms
from rooms.models import Event, EventKind, Member
from rooms.store import Stores

COLUMNS = ("seq", "ts", "actor_id", "actor", "action", "details")
PAGE = 500
_FRAME_KEYS = {"type", "room", "seq", "sender", "ts"}


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    ts: datetime
    actor_id: int | None
    actor: str
    action: str
    details: dict

    def public(self) -> dict:
        return {"seq": self.seq, "ts": self.ts.isoformat(), "actor_id": self.actor_id, "actor": self.actor,
                "action": self.action, "details": self.details}


def entry(event: Event) -> AuditEntry:
    if event.kind is EventKind.MESSAGE:
        details: dict = {"body": "" if event.deleted else event.body, "client_id": event.client_id}
        if event.deleted:
            details["deleted"] = True
    elif event.kind is EventKind.EDIT:
        details = {"target": event.target_seq, "body": event.body}
    elif event.kind is EventKind.DELETE:
        details = {"target": event.target_seq}
    else:
        details = {key: value for key, value in event.frame().items() if key not in _FRAME_KEYS}
    action = event.kind.value
    if event.kind is EventKind.MEMBERSHIP:
        action = f"membership.{details.get('action')}"
    return AuditEntry(seq=event.seq, ts=event.created_at, actor_id=event.sender_id, actor=event.sender_name,
                      action=action, details=details)


class AuditService:
    def __init__(self, rooms: EmergencyRooms, stores: Stores) -> None:
        self.rooms = rooms
        self.stores = stores

    async def open(self, member: Member, room_id: int) -> Emergency:
        """Coordinators only; a closed emergency's trail stays readable."""
        return (await self.rooms.coordinator_seat(member, room_id, active=False)).emergency

    async def entries(self, room_id: int) -> AsyncIterator[AuditEntry]:
        after = 0
        while True:
            events = await self.stores.messages.after(room_id, after, PAGE)
            for event in events:
                yield entry(event)
            if len(events) < PAGE:
                return
            after = events[-1].seq

    async def as_json(self, member: Member, room_id: int) -> bytes:
        emergency = await self.open(member, room_id)
        rows = [e.public() async for e in self.entries(room_id)]
        return orjson.dumps({"emergency": emergency.public(), "entries": rows})

    async def as_csv(self, member: Member, room_id: int) -> str:
        await self.open(member, room_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        async for e in self.entries(room_id):
            # Details as JSON in one cell; a leading quote keeps spreadsheets from running it as a formula.
            details = orjson.dumps(e.details).decode()
            actor = "'" + e.actor if e.actor.startswith(("=", "+", "-", "@")) else e.actor
            writer.writerow([e.seq, e.ts.isoformat(), e.actor_id or "", actor, e.action, details])
        return out.getvalue()
