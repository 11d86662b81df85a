"""Queries for the notifier's per-room cursor: how far each room's sequence has been turned into notifications."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.notifications.store.schema import notifier_cursors
from rooms.store.database import Database
from rooms.store.schema import rooms

_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


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
        async with self.db.write() as conn:
            await conn.execute(_insert[self.db.dialect](notifier_cursors)
                               .values(room_id=room_id, notified_seq=0)
                               .on_conflict_do_nothing(index_elements=["room_id"]))
            row = (await conn.execute(select(notifier_cursors.c.notified_seq, rooms.c.last_seq)
                                      .join(rooms, rooms.c.id == notifier_cursors.c.room_id)
                                      .where(notifier_cursors.c.room_id == room_id))).first()
        return (row.notified_seq, row.last_seq) if row else (0, 0)

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
