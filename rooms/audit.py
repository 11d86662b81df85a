"""A room's audit trail: its sequence read back as a log of who did what, exported as JSON or CSV.

A room's sequence is append-only: rows are never removed, so a gap in an exported seq column
would show a loss. A deleted message keeps its place and its author but not its text (deletion is
meant to remove it). Emergency rooms export every event (rooms/emergency/audit.py); other rooms
export what was done rather than what was said (rooms/moderation/audit.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from typing import AsyncIterator, Iterable

import orjson

from rooms.models import Event, EventKind
from rooms.store import Stores

COLUMNS = ("seq", "ts", "actor_id", "actor", "action", "details")
PAGE = 500
_FRAME_KEYS = {"type", "room", "seq", "sender", "ts"}
# Structured events whose `action` field says what happened: exported as "<kind>.<action>".
_WITH_ACTION = (EventKind.MEMBERSHIP, EventKind.MODERATION)


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
    if event.kind in _WITH_ACTION:
        action = f"{action}.{details.get('action')}"
    return AuditEntry(seq=event.seq, ts=event.created_at, actor_id=event.sender_id, actor=event.sender_name,
                      action=action, details=details)


class AuditTrail:
    def __init__(self, stores: Stores) -> None:
        self.stores = stores

    async def entries(self, room_id: int, kinds: Iterable[EventKind] | None = None) -> AsyncIterator[AuditEntry]:
        """The room's events (only `kinds`, if given), oldest first, a page at a time."""
        kinds = tuple(kinds) if kinds is not None else None
        after = 0
        while True:
            events = await self.stores.messages.after(room_id, after, PAGE, kinds=kinds)
            for event in events:
                yield entry(event)
            if len(events) < PAGE:
                return
            after = events[-1].seq

    async def as_json(self, heading: dict, room_id: int, kinds: Iterable[EventKind] | None = None) -> bytes:
        """`heading` (what the trail is of) and the entries."""
        rows = [e.public() async for e in self.entries(room_id, kinds)]
        return orjson.dumps({**heading, "entries": rows})

    async def as_csv(self, room_id: int, kinds: Iterable[EventKind] | None = None) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        async for e in self.entries(room_id, kinds):
            # Details as JSON in one cell; a leading quote keeps spreadsheets from running it as a formula.
            details = orjson.dumps(e.details).decode()
            actor = "'" + e.actor if e.actor.startswith(("=", "+", "-", "@")) else e.actor
            writer.writerow([e.seq, e.ts.isoformat(), e.actor_id or "", actor, e.action, details])
        return out.getvalue()
