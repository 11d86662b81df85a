"""Queries for the notifier's per-room cursor: how far each room's sequence has been turned into notifications."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.notifications.store.schema import notifier_cursors
from rooms.models import Room
from rooms.store.database import Database
from rooms.store.rooms import room_from_row
from rooms.store.schema import rooms

_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True)
class Position:
    room: Room
    seen: int   # the notifier's cursor


# The optimistic claim of `advance`, for many rooms in one statement (executemany).
_advance_many = (update(notifier_cursors)
                 .where(notifier_cursors.c.room_id == bindparam("room"), notifier_cursors.c.notified_seq == bindparam("seen"))
                 .values(notified_seq=bindparam("to")))


class CursorStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def behind(self, limit: int = 500) -> list[int]:
        """Rooms with events the notifier has not looked at: the sweep that repairs after a crash."""
        stmt = (select(rooms.c.id)
                .select_from(rooms.outerjoin(notifier_cursors, notifier_cursors.c.room_id == rooms.c.id))
                .where(rooms.c.last_seq > func.coalesce(notifier_cursors.c.notified_seq, 0))
                .limit(limit))
        async with self.db.read() as conn:
            return [row.id for row in (await conn.execute(stmt)).all()]

    async def position(self, room_id: int) -> tuple[int, int]:
        """(notified_seq, the room's last_seq); a room the notifier has never seen starts at 0 (it is new:
        the migration put every older room's cursor at its head)."""
        found = (await self.positions([room_id])).get(room_id)
        return (found.seen, found.room.last_seq) if found else (0, 0)

    async def positions(self, room_ids: list[int]) -> dict[int, Position]:
        """Each existing room with its cursor, in one read; a room without a cursor gets one at 0 (new)."""
        stmt = (select(*rooms.c, notifier_cursors.c.notified_seq)
                .select_from(rooms.outerjoin(notifier_cursors, notifier_cursors.c.room_id == rooms.c.id))
                .where(rooms.c.id.in_(room_ids)))
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(stmt)).all()
        missing = [row.id for row in rows if row.notified_seq is None]
        if missing:
            async with self.db.write() as conn:
                await conn.execute(_insert[self.db.dialect](notifier_cursors)
                                   .values([{"room_id": room_id, "notified_seq": 0} for room_id in missing])
                                   .on_conflict_do_nothing(index_elements=["room_id"]))
        return {row.id: Position(room_from_row(row), row.notified_seq or 0) for row in rows}

    async def advance_many(self, moves: dict[int, tuple[int, int]]) -> None:
        """`advance` for many rooms ({room: (seen, to)}) in one transaction; a room another process has
        moved already stays where that process put it."""
        async with self.db.write() as conn:
            # In ascending room order, as a batch of sends moves them (rooms/notifications/quiet.py): no deadlock.
            await conn.execute(_advance_many, [{"room": room_id, "seen": seen, "to": to}
                                               for room_id, (seen, to) in sorted(moves.items())])

    @staticmethod
    async def advance(conn: AsyncConnection, room_id: int, seen: int, to: int) -> bool:
        """The optimistic claim: moves the cursor only if it is still where this process read it."""
        done = await conn.execute(update(notifier_cursors)
                                  .where(notifier_cursors.c.room_id == room_id, notifier_cursors.c.notified_seq == seen)
                                  .values(notified_seq=to))
        return done.rowcount == 1

    async def lag(self) -> int:
        """Events not yet looked at, over every room (the notifier-lag metric)."""
        stmt = (select(func.coalesce(func.sum(rooms.c.last_seq - func.coalesce(notifier_cursors.c.notified_seq, 0)), 0))
                .select_from(rooms.outerjoin(notifier_cursors, notifier_cursors.c.room_id == rooms.c.id))
                .where(rooms.c.last_seq > func.coalesce(notifier_cursors.c.notified_seq, 0)))
        async with self.db.read() as conn:
            return int(await conn.scalar(stmt) or 0)
