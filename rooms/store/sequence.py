"""Appends a structured event (emergency, webinar) to a room's sequence inside the caller's transaction.

The sequence number comes from the chat core's room-row lock (MessageStore._next_seq),
so these events and chat messages share one gap-free order per room.
"""

from __future__ import annotations

from datetime import datetime

import orjson
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind
from rooms.store.messages import MessageStore
from rooms.store.schema import messages, utcnow


class Sequence:
    def __init__(self, store: MessageStore) -> None:
        self.store = store

    async def append(self, conn: AsyncConnection, room_id: int, kind: EventKind, sender_id: int | None,
                     fields: dict, client_id: str | None = None, at: datetime | None = None) -> int:
        """The event's sequence number; `at` gives it the same time as the rows stored with it."""
        seq = await self.store._next_seq(conn, room_id)
        await conn.execute(insert(messages).values(
            room_id=room_id, seq=seq, kind=kind.value, sender_id=sender_id, client_id=client_id,
            body=orjson.dumps(fields).decode(), created_at=at or utcnow()))
        return seq

    async def event(self, conn: AsyncConnection, room_id: int, seq: int) -> Event:
        event = await self.store._get(conn, room_id, seq)
        assert event is not None, "an event read back in its own transaction"
        return event
