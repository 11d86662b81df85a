"""Queries for the inbox: notifications created once per member and event, listed, counted and marked read.

A notification of a room event also counts as read once the member's read marker in that room
has moved past it: reading the message is reading its notification, on any device.
"""

from __future__ import annotations

from sqlalchemy import and_, false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.orm import aliased

from rooms.notifications.models import Kind, Notification
from rooms.notifications.store.schema import notifications
from rooms.store.database import Database
from rooms.store.schema import members, memberships, rooms, utcnow

_actors = aliased(members)
_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def _read() -> object:
    return or_(notifications.c.read_at.is_not(None),
               and_(notifications.c.seq > 0, func.coalesce(memberships.c.read_seq, 0) >= notifications.c.seq))


def _select():
    return (select(notifications, rooms.c.name.label("room_name"), rooms.c.kind.label("room_kind"),
                   rooms.c.visibility.label("room_visibility"),
                   _actors.c.display_name.label("actor_name"), _read().label("is_read"))
            .join(rooms, rooms.c.id == notifications.c.room_id)
            .outerjoin(_actors, _actors.c.id == notifications.c.actor_id)
            .outerjoin(memberships, and_(memberships.c.room_id == notifications.c.room_id,
                                         memberships.c.member_id == notifications.c.member_id)))


def notification_from_row(row: Row) -> Notification:
    return Notification(id=row.id, member_id=row.member_id, kind=Kind(row.kind), room_id=row.room_id, seq=row.seq,
                        actor_id=row.actor_id, actor_name=row.actor_name or "", room_name=row.room_name,
                        room_kind=row.room_kind, private=row.room_visibility == "private", excerpt=row.excerpt, data=row.data or {},
                        created_at=row.created_at, read=bool(row.is_read))


class InboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_in(self, conn: AsyncConnection, rows: list[dict]) -> list[int]:
        """Inserts the rows that do not exist yet (unique per member, room, seq and kind); answers the new ids."""
        if not rows:
            return []
        stmt = (_insert[self.db.dialect](notifications).values(rows)
                .on_conflict_do_nothing(index_elements=["member_id", "room_id", "seq", "kind"])
                .returning(notifications.c.id))
        return [row.id for row in (await conn.execute(stmt)).all()]

    async def get_many(self, ids: list[int], conn: AsyncConnection | None = None) -> list[Notification]:
        if not ids:
            return []
        stmt = _select().where(notifications.c.id.in_(ids)).order_by(notifications.c.id)
        if conn is not None:
            return [notification_from_row(row) for row in (await conn.execute(stmt)).all()]
        async with self.db.read() as reader:
            return [notification_from_row(row) for row in (await reader.execute(stmt)).all()]

    async def page(self, member_id: int, before_id: int | None, limit: int,
                   unread_only: bool = False) -> tuple[list[Notification], bool]:
        stmt = _select().where(notifications.c.member_id == member_id)
        if before_id is not None:
            stmt = stmt.where(notifications.c.id < before_id)
        if unread_only:
            stmt = stmt.where(~_read())
        stmt = stmt.order_by(notifications.c.id.desc()).limit(limit + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [notification_from_row(row) for row in rows[:limit]], len(rows) > limit

    async def counts(self, member_id: int) -> tuple[int, dict[int, int]]:
        """Unread notifications in all, and unread mentions by room (the rooms list's mention badges)."""
        stmt = (select(notifications.c.room_id, notifications.c.kind, func.count().label("n"))
                .select_from(notifications.outerjoin(memberships, and_(
                    memberships.c.room_id == notifications.c.room_id,
                    memberships.c.member_id == notifications.c.member_id)))
                .where(notifications.c.member_id == member_id, ~_read())
                .group_by(notifications.c.room_id, notifications.c.kind))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        mentions: dict[int, int] = {}
        for row in rows:
            if row.kind in (Kind.MENTION.value, Kind.REPLY.value):
                mentions[row.room_id] = mentions.get(row.room_id, 0) + row.n
        return sum(row.n for row in rows), mentions

    async def mark_read(self, member_id: int, ids: list[int] | None) -> int:
        """Marks the given notifications (all of the member's with None) read; answers how many changed."""
        stmt = (update(notifications)
                .where(notifications.c.member_id == member_id, notifications.c.read_at.is_(None))
                .values(read_at=utcnow()))
        if ids is not None:
            stmt = stmt.where(notifications.c.id.in_(ids) if ids else false())
        async with self.db.write() as conn:
            return (await conn.execute(stmt)).rowcount
