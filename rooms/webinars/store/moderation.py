"""Queries for moderation: muting a member on stage, and removing a member from a webinar for good."""

from __future__ import annotations

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.schema import memberships, utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.models import Webinar
from rooms.webinars.store.schema import (
    webinar_attendance,
    webinar_hands,
    webinar_registrations,
    webinar_removals,
    webinar_roles,
)


class ModerationStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def set_muted(self, webinar: Webinar, member_id: int, muted: bool, actor_id: int,
                        fields: dict) -> Event | None:
        """Sets the flag and appends a MUTE event; None when it already was so (or the member left)."""
        async with self.db.write() as conn:
            changed = await conn.execute(update(webinar_registrations).where(
                webinar_registrations.c.webinar_id == webinar.id, webinar_registrations.c.member_id == member_id,
                webinar_registrations.c.muted != muted).values(muted=muted))
            if changed.rowcount != 1:
                return None
            seq = await self.sequence.append(conn, webinar.room_id, EventKind.MUTE, actor_id, fields)
            return await self.sequence.event(conn, webinar.room_id, seq)

    async def remove(self, webinar: Webinar, member_id: int, actor_id: int, fields: dict,
                     group_rooms: tuple[int, ...] = ()) -> Event | None:
        """Takes away registration, role, hand and room seat (the webinar's room, and `group_rooms`: the chats
        of its breakout groups), closes the open visit, remembers the removal and appends a REMOVAL event, in
        one transaction; None when the member was already removed."""
        try:
            async with self.db.write() as conn:
                now = utcnow()
                await conn.execute(insert(webinar_removals).values(
                    webinar_id=webinar.id, member_id=member_id, removed_by=actor_id, removed_at=now))
                for table in (webinar_registrations, webinar_roles, webinar_hands):
                    await conn.execute(delete(table).where(table.c.webinar_id == webinar.id,
                                                           table.c.member_id == member_id))
                await conn.execute(delete(memberships).where(
                    memberships.c.room_id.in_((webinar.room_id, *group_rooms)), memberships.c.member_id == member_id))
                await conn.execute(update(webinar_attendance).where(
                    webinar_attendance.c.webinar_id == webinar.id, webinar_attendance.c.member_id == member_id,
                    webinar_attendance.c.left_at.is_(None)).values(left_at=now))
                seq = await self.sequence.append(conn, webinar.room_id, EventKind.REMOVAL, actor_id, fields,
                                                 at=now)
                return await self.sequence.event(conn, webinar.room_id, seq)
        except IntegrityError:   # removed already (perhaps by another moderator at the same moment)
            return None

    async def removed(self, webinar_id: int) -> list[int]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinar_removals.c.member_id).where(
                webinar_removals.c.webinar_id == webinar_id).order_by(webinar_removals.c.removed_at))).all()
        return [row.member_id for row in rows]
