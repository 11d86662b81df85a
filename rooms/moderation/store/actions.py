"""Queries for a room's roles and kicks, and its slow mode: each change with its event on the room's sequence."""

from __future__ import annotations

from sqlalchemy import delete, select, update

from rooms.models import Event, EventKind, Role
from rooms.moderation.store.changes import Unchanged
from rooms.store.database import Database
from rooms.store.schema import memberships, rooms, utcnow
from rooms.store.sequence import Sequence


class RoomActionStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def kick(self, room_id: int, member_id: int, actor_id: int, fields: dict) -> Event | None:
        """Removes the member from the room, with its event; None when they were not a member."""
        try:
            async with self.db.write() as conn:
                seq = await self.sequence.append(conn, room_id, EventKind.MODERATION, actor_id, fields)
                removed = await conn.execute(delete(memberships).where(memberships.c.room_id == room_id,
                                                                       memberships.c.member_id == member_id))
                if removed.rowcount == 0:
                    raise Unchanged
                return await self.sequence.event(conn, room_id, seq)
        except Unchanged:
            return None

    async def set_role(self, room_id: int, member_id: int, role: Role, actor_id: int,
                       fields: dict) -> tuple[Event | None, Role | None]:
        """Changes a member's role, with its event naming the role before. Answers (event, role before):
        (None, None) when they are not a member, (None, role) when their role already was that."""
        async with self.db.write() as conn:
            before = await conn.scalar(select(memberships.c.role).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id))
            if before is None or before == role.value:
                return None, Role(before) if before else None
            seq = await self.sequence.append(conn, room_id, EventKind.MODERATION, actor_id,
                                             {**fields, "previous": before})
            await conn.execute(update(memberships).where(memberships.c.room_id == room_id,
                                                         memberships.c.member_id == member_id)
                               .values(role=role.value))
            return await self.sequence.event(conn, room_id, seq), Role(before)

    async def set_slow_mode(self, room_id: int, seconds: int, actor_id: int, fields: dict) -> Event | None:
        """Sets the room's slow-mode interval, with its event; None when it already was that."""
        try:
            async with self.db.write() as conn:
                seq = await self.sequence.append(conn, room_id, EventKind.MODERATION, actor_id, fields,
                                                 at=utcnow())
                changed = await conn.execute(update(rooms).where(rooms.c.id == room_id,
                                                                 rooms.c.slow_mode_s != seconds)
                                             .values(slow_mode_s=seconds))
                if changed.rowcount == 0:
                    raise Unchanged
                return await self.sequence.event(conn, room_id, seq)
        except Unchanged:
            return None
