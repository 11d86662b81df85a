"""Queries for rooms themselves: creation, lookup, listing and their sequence heads."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import ColumnElement, Select, ScalarSelect, and_, bindparam, exists, func, insert, literal, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from rooms.errors import Conflict
from rooms.models import Membership, Role, Room, RoomAccess, RoomKind, Visibility
from rooms.store.database import Database
from rooms.store.schema import UTCDateTime, memberships, room_restrictions, rooms, utcnow

# How a ban without end reads in `until` comparisons and answers: later than anything.
FOREVER = datetime(9999, 12, 31, tzinfo=timezone.utc)


def room_from_row(row: Row) -> Room:
    return Room(
        id=row.id,
        name=row.name,
        kind=RoomKind(row.kind),
        visibility=Visibility(row.visibility),
        topic=row.topic,
        created_by=row.created_by,
        last_seq=row.last_seq,
        created_at=row.created_at,
        dm_key=row.dm_key,
        slow_mode_s=row.slow_mode_s,
        retention_days=row.retention_days,
        removed_through=row.removed_through,
    )



def with_member_columns(stmt: Select, member_id: int) -> Select:
    """`stmt` over `rooms`, plus the member's role and read marker (NULL when not a member): one
    query answers both "what is this room" and "may this member use it"."""
    return (stmt.add_columns(memberships.c.role, memberships.c.read_seq)
            .outerjoin(memberships, (memberships.c.room_id == rooms.c.id) & (memberships.c.member_id == member_id)))


def membership_from_row(row: Row, room_id: int, member_id: int) -> Membership | None:
    """The membership in a row selected through `with_member_columns`."""
    if row.role is None:
        return None
    return Membership(room_id=room_id, member_id=member_id, role=Role(row.role), read_seq=row.read_seq)


def restricted(room_id: ColumnElement, member_id: ColumnElement, now: ColumnElement,
               kind: str | None = None) -> ColumnElement[bool]:
    """Whether the member is muted or banned in the room right now (either, or only `kind`)."""
    conditions = [room_restrictions.c.room_id == room_id, room_restrictions.c.member_id == member_id,
                  or_(room_restrictions.c.until.is_(None), room_restrictions.c.until > now)]
    if kind is not None:
        conditions.append(room_restrictions.c.kind == kind)
    return exists().where(*conditions)


def restricted_until(room_id: ColumnElement, member_id: ColumnElement, now: ColumnElement,
                     kind: str) -> ScalarSelect:
    """When the member's mute or ban ends: NULL when there is none, FOREVER for a ban without end."""
    return (select(func.coalesce(room_restrictions.c.until, literal(FOREVER, UTCDateTime)))
            .where(room_restrictions.c.room_id == room_id, room_restrictions.c.member_id == member_id,
                   room_restrictions.c.kind == kind,
                   or_(room_restrictions.c.until.is_(None), room_restrictions.c.until > now))
            .scalar_subquery())


def readable_by(room_id: ColumnElement, member_id: ColumnElement, now: ColumnElement) -> ColumnElement[bool]:
    """RoomService.readable's rule in SQL (a member, or anyone for a public room; never someone banned
    from it), for a query that checks access in the same round trip as its work. It only ever narrows
    what the query answers: when nothing comes back, the caller asks RoomService.readable, the
    authority, for the error."""
    return exists().where(
        rooms.c.id == room_id,
        or_(and_(rooms.c.kind == RoomKind.ROOM.value, rooms.c.visibility == Visibility.PUBLIC.value),
            exists().where(memberships.c.room_id == room_id, memberships.c.member_id == member_id)),
        ~restricted(room_id, member_id, now, "ban"))


# Built once: every subscribe asks it, and building it cost more than running it.
_access = (with_member_columns(select(rooms), bindparam("member"))
           .add_columns(restricted_until(bindparam("room"), bindparam("member"), bindparam("now"), "ban")
                        .label("banned_until"),
                        restricted_until(bindparam("room"), bindparam("member"), bindparam("now"), "mute")
                        .label("muted_until"))
           .where(rooms.c.id == bindparam("room")))


class RoomStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, name: str, kind: RoomKind, visibility: Visibility, topic: str,
                     owner_id: int, other_member_ids: tuple[int, ...] = (),
                     dm_key: str | None = None) -> Room:
        """A room and its first members, in one transaction."""
        now = utcnow()
        try:
            async with self.db.write() as conn:
                row = (await conn.execute(
                    insert(rooms).values(name=name, kind=kind.value, visibility=visibility.value,
                                         topic=topic, created_by=owner_id, last_seq=0,
                                         dm_key=dm_key, created_at=now)
                    .returning(*rooms.c)
                )).one()
                owner_role = Role.MEMBER if kind is RoomKind.DM else Role.OWNER
                values = [dict(room_id=row.id, member_id=owner_id, role=owner_role.value,
                               read_seq=0, joined_at=now)]
                values += [dict(room_id=row.id, member_id=member_id, role=Role.MEMBER.value,
                                read_seq=0, joined_at=now)
                           for member_id in other_member_ids if member_id != owner_id]
                await conn.execute(insert(memberships), values)
                return room_from_row(row)
        except IntegrityError as error:
            raise Conflict("this room already exists") from error

    async def get(self, room_id: int) -> Room | None:
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(select(rooms).where(rooms.c.id == room_id))).first()
        return room_from_row(row) if row else None

    async def access(self, room_id: int, member_id: int) -> RoomAccess:
        """The room, the member's membership, and their ban and mute if any: every access decision
        about a room, in one query."""
        row = await self.db.first_row(_access, {"room": room_id, "member": member_id, "now": utcnow()})
        if row is None:
            return RoomAccess(None, None)
        return RoomAccess(room_from_row(row), membership_from_row(row, room_id, member_id),
                          banned_until=row.banned_until, muted_until=row.muted_until)

    async def by_dm_key(self, dm_key: str) -> Room | None:
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(select(rooms).where(rooms.c.dm_key == dm_key))).first()
        return room_from_row(row) if row else None

    async def public_rooms(self, limit: int = 200) -> list[Room]:
        stmt = (select(rooms)
                .where(rooms.c.kind == RoomKind.ROOM.value)
                .where(rooms.c.visibility == Visibility.PUBLIC.value)
                .order_by(rooms.c.name, rooms.c.id).limit(limit))
        async with self.db.read() as conn:
            return [room_from_row(row) for row in (await conn.execute(stmt)).all()]

    async def heads(self, room_ids: list[int]) -> dict[int, int]:
        """The newest sequence number of each room: what gap repair compares against."""
        if not room_ids:
            return {}
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(
                select(rooms.c.id, rooms.c.last_seq).where(rooms.c.id.in_(room_ids)))).all()
        return {row.id: row.last_seq for row in rows}
