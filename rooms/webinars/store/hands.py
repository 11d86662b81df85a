"""Queries for raised hands: who is waiting to speak, in the order they asked."""

from __future__ import annotations

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from rooms.models import Event, EventKind, Member
from rooms.store.accounts import _member_columns, member_from_row
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.store.schema import webinar_hands


class HandStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def set(self, webinar_id: int, room_id: int, member_id: int, raised: bool, actor_id: int,
                  fields: dict) -> Event | None:
        """Raises or lowers the hand (a moderator may lower anyone's); None when nothing changed."""
        try:
            return await self._set(webinar_id, room_id, member_id, raised, actor_id, fields)
        except IntegrityError:   # a concurrent raise by the same member won
            return None

    async def _set(self, webinar_id: int, room_id: int, member_id: int, raised: bool, actor_id: int,
                   fields: dict) -> Event | None:
        async with self.db.write() as conn:
            up = await conn.scalar(select(webinar_hands.c.member_id).where(
                webinar_hands.c.webinar_id == webinar_id, webinar_hands.c.member_id == member_id))
            if (up is not None) == raised:
                return None
            if raised:
                await conn.execute(insert(webinar_hands).values(webinar_id=webinar_id, member_id=member_id,
                                                                raised_at=utcnow()))
            else:
                await conn.execute(delete(webinar_hands).where(webinar_hands.c.webinar_id == webinar_id,
                                                               webinar_hands.c.member_id == member_id))
            seq = await self.sequence.append(conn, room_id, EventKind.HAND, actor_id, fields)
            return await self.sequence.event(conn, room_id, seq)

    async def raised(self, webinar_id: int) -> list[Member]:
        stmt = (select(*_member_columns).join(webinar_hands, webinar_hands.c.member_id == members.c.id)
                .where(webinar_hands.c.webinar_id == webinar_id).order_by(webinar_hands.c.raised_at))
        async with self.db.read() as conn:
            return [member_from_row(row) for row in (await conn.execute(stmt)).all()]
