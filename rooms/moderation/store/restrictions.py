"""Queries for mutes and bans: impose, lift and list them, each with its event on the room's sequence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, or_, select
from sqlalchemy.orm import aliased

from rooms.models import Event, EventKind
from rooms.moderation.models import ActiveRestriction, Restriction
from rooms.moderation.store.changes import Unchanged
from rooms.store.accounts import _member_columns, member_from_row
from rooms.store.database import Database
from rooms.store.schema import invites, members, memberships, room_restrictions, utcnow
from rooms.store.sequence import Sequence

_by = aliased(members)


def _key(room_id: int, member_id: int, kind: Restriction) -> list:
    return [room_restrictions.c.room_id == room_id, room_restrictions.c.member_id == member_id,
            room_restrictions.c.kind == kind.value]


class RestrictionStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def impose(self, room_id: int, member_id: int, kind: Restriction, until: datetime | None, reason: str,
                     actor_id: int, fields: dict) -> tuple[Event, bool]:
        """Mutes or bans the member (replacing an earlier mute or ban) and appends the event, in one
        transaction; a ban also ends their membership and any invitation. Answers (event, was a member)."""
        async with self.db.write() as conn:
            now = utcnow()
            # The event first: it takes the room's row lock, the one every writer of the room queues on.
            seq = await self.sequence.append(conn, room_id, EventKind.MODERATION, actor_id, fields, at=now)
            await conn.execute(delete(room_restrictions).where(*_key(room_id, member_id, kind)))
            await conn.execute(insert(room_restrictions).values(
                room_id=room_id, member_id=member_id, kind=kind.value, until=until, reason=reason,
                created_by=actor_id, created_at=now))
            was_member = False
            if kind is Restriction.BAN:
                left = await conn.execute(delete(memberships).where(memberships.c.room_id == room_id,
                                                                    memberships.c.member_id == member_id))
                was_member = left.rowcount > 0
                await conn.execute(delete(invites).where(invites.c.room_id == room_id,
                                                         invites.c.member_id == member_id))
            return await self.sequence.event(conn, room_id, seq), was_member

    async def lift(self, room_id: int, member_id: int, kind: Restriction, actor_id: int,
                   fields: dict) -> Event | None:
        """Ends a mute or ban that is still running, with its event; None when there was none."""
        try:
            async with self.db.write() as conn:
                now = utcnow()
                seq = await self.sequence.append(conn, room_id, EventKind.MODERATION, actor_id, fields, at=now)
                lifted = await conn.execute(delete(room_restrictions).where(
                    *_key(room_id, member_id, kind),
                    or_(room_restrictions.c.until.is_(None), room_restrictions.c.until > now)))
                if lifted.rowcount == 0:
                    raise Unchanged
                return await self.sequence.event(conn, room_id, seq)
        except Unchanged:
            return None

    async def active(self, room_id: int, kind: Restriction) -> list[ActiveRestriction]:
        """The room's running mutes or bans, newest first."""
        now = utcnow()
        stmt = (select(room_restrictions, *_member_columns, _by.c.display_name.label("by_name"))
                .join(members, members.c.id == room_restrictions.c.member_id)
                .outerjoin(_by, _by.c.id == room_restrictions.c.created_by)
                .where(room_restrictions.c.room_id == room_id, room_restrictions.c.kind == kind.value,
                       or_(room_restrictions.c.until.is_(None), room_restrictions.c.until > now))
                .order_by(room_restrictions.c.created_at.desc()))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [ActiveRestriction(room_id=row.room_id, member=member_from_row(row), kind=Restriction(row.kind),
                                  until=row.until, reason=row.reason, created_by=row.created_by,
                                  created_by_name=row.by_name or "", created_at=row.created_at)
                for row in rows]
