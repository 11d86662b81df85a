"""Queries for what members chose: their preferences, language and time zone, and per-room levels."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from rooms.notifications.models import Preferences, RoomLevel
from rooms.notifications.store.schema import member_settings, room_levels
from rooms.store.database import Database
from rooms.store.schema import utcnow


class PreferenceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, member_id: int) -> Preferences:
        return (await self.get_many([member_id]))[member_id]

    async def get_many(self, member_ids: list[int]) -> dict[int, Preferences]:
        found: dict[int, Preferences] = {}
        if member_ids:
            async with self.db.read(quick=True) as conn:
                rows = (await conn.execute(select(member_settings)
                                           .where(member_settings.c.member_id.in_(member_ids)))).all()
            found = {row.member_id: Preferences.from_stored(row.preferences, row.language, row.time_zone)
                     for row in rows}
        return {member_id: found.get(member_id) or Preferences() for member_id in member_ids}

    async def save(self, member_id: int, prefs: Preferences) -> None:
        values = dict(language=prefs.language, time_zone=prefs.time_zone, preferences=prefs.stored(),
                      updated_at=utcnow())
        async with self.db.write() as conn:
            done = await conn.execute(update(member_settings).where(member_settings.c.member_id == member_id)
                                      .values(**values))
            if done.rowcount == 0:
                await conn.execute(insert(member_settings).values(member_id=member_id, **values))

    async def levels(self, room_id: int, member_ids: list[int] | None = None) -> dict[int, RoomLevel]:
        stmt = select(room_levels.c.member_id, room_levels.c.level).where(room_levels.c.room_id == room_id)
        if member_ids is not None:
            stmt = stmt.where(room_levels.c.member_id.in_(member_ids))
        async with self.db.read(quick=True) as conn:
            return {row.member_id: RoomLevel(row.level) for row in (await conn.execute(stmt)).all()}

    async def rooms_with_levels(self, room_ids: list[int]) -> set[int]:
        """Which of these rooms have a member who chose a notification level there."""
        stmt = select(room_levels.c.room_id).where(room_levels.c.room_id.in_(room_ids)).distinct()
        async with self.db.read(quick=True) as conn:
            return set((await conn.execute(stmt)).scalars())

    async def levels_of(self, member_id: int) -> dict[int, RoomLevel]:
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(room_levels.c.room_id, room_levels.c.level)
                                       .where(room_levels.c.member_id == member_id))).all()
        return {row.room_id: RoomLevel(row.level) for row in rows}

    async def set_level(self, room_id: int, member_id: int, level: RoomLevel | None) -> None:
        """None goes back to the room kind's default."""
        async with self.db.write() as conn:
            await conn.execute(delete(room_levels).where(room_levels.c.room_id == room_id,
                                                         room_levels.c.member_id == member_id))
            if level is not None:
                await conn.execute(insert(room_levels).values(room_id=room_id, member_id=member_id,
                                                              level=level.value))
