"""Queries for pinned messages: pinning and unpinning are `pin` events of the room's sequence,
committed with the row."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.conversations.models import Pin
from rooms.conversations.store.reactions import live_message
from rooms.conversations.store.schema import pins
from rooms.errors import BadRequest
from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.messages import event_from_row, event_query
from rooms.store.schema import members, messages, utcnow
from rooms.store.sequence import Sequence

MAX_PINS_PER_ROOM = 50

_pinner = members.alias("pinner")


class _Unchanged(Exception):
    """Leaves the transaction: already pinned (or not), so no event is appended."""


class PinStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def set(self, room_id: int, target_seq: int, member_id: int, active: bool) -> Event | None:
        """Pins or unpins. Answers the event, or None when the message already was as asked."""
        this = (pins.c.room_id == room_id) & (pins.c.target_seq == target_seq)
        try:
            async with self.db.write() as conn:
                await live_message(conn, room_id, target_seq)
                now = utcnow()
                if active:
                    count = await conn.scalar(select(func.count()).select_from(pins).where(pins.c.room_id == room_id))
                    if await conn.scalar(select(func.count()).select_from(pins).where(this)):
                        raise _Unchanged
                    if count >= MAX_PINS_PER_ROOM:
                        raise BadRequest(f"a room keeps at most {MAX_PINS_PER_ROOM} pinned messages; unpin one first",
                                         field="target")
                    seq = await self._append(conn, room_id, target_seq, member_id, True, now)
                    await conn.execute(insert(pins).values(room_id=room_id, target_seq=target_seq, pinned_by=member_id,
                                                           seq=seq, pinned_at=now))
                else:
                    if not (await conn.execute(delete(pins).where(this))).rowcount:
                        raise _Unchanged
                    seq = await self._append(conn, room_id, target_seq, member_id, False, now)
                return await self.sequence.event(conn, room_id, seq)
        except (_Unchanged, IntegrityError):
            return None

    async def list(self, room_id: int) -> list[Pin]:
        """The room's pinned messages, most recently pinned first."""
        stmt = (event_query(pins.c.pinned_by, pins.c.pinned_at, _pinner.c.display_name.label("pinner_name"))
                .join(pins, (pins.c.room_id == messages.c.room_id) & (pins.c.target_seq == messages.c.seq))
                .outerjoin(_pinner, _pinner.c.id == pins.c.pinned_by)
                .where(messages.c.room_id == room_id, messages.c.deleted_at.is_(None))
                .order_by(pins.c.seq.desc()))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [Pin(message=event_from_row(row), pinned_by=row.pinned_by, pinned_by_name=row.pinner_name or "",
                    pinned_at=row.pinned_at) for row in rows]

    async def forget(self, conn: AsyncConnection, room_id: int, seq: int) -> None:
        """A deleted message is no longer pinned (MessageStore.on_delete)."""
        await conn.execute(delete(pins).where(pins.c.room_id == room_id, pins.c.target_seq == seq))

    async def _append(self, conn: AsyncConnection, room_id: int, target_seq: int, member_id: int, active: bool,
                      now) -> int:
        return await self.sequence.append(conn, room_id, EventKind.PIN, member_id,
                                          {"target": target_seq, "active": active}, at=now)
