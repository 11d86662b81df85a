"""Queries for emergency rooms themselves: creation with their attributes, lookup, changes, membership events."""

from __future__ import annotations

from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from rooms.emergency.models import Area, Emergency, EmergencyStatus
from rooms.emergency.store.schema import emergencies
from rooms.models import Event, EventKind, Membership, Role, RoomKind, Visibility
from rooms.store.database import Database
from rooms.store.rooms import membership_from_row, room_from_row, with_member_columns
from rooms.store.schema import memberships, rooms, utcnow
from rooms.store.sequence import Sequence

_columns = [*rooms.c, emergencies.c.region, emergencies.c.started_on, emergencies.c.status,
            emergencies.c.areas, emergencies.c.closed_at]


def emergency_from_row(row: Row) -> Emergency:
    return Emergency(room=room_from_row(row), region=row.region, started_on=row.started_on,
                     status=EmergencyStatus(row.status),
                     areas=tuple(Area(a["country"], a["admin_area"]) for a in row.areas or ()),
                     closed_at=row.closed_at)


def _select():
    return select(*_columns).select_from(rooms.join(emergencies, emergencies.c.room_id == rooms.c.id))


class EmergencyStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def create(self, *, name: str, topic: str, region: str, started_on: date, areas: list[Area],
                     owner_id: int) -> Emergency:
        """The room, its first coordinator and its attributes, in one transaction."""
        now = utcnow()
        async with self.db.write() as conn:
            room_id = (await conn.execute(
                insert(rooms).values(name=name, kind=RoomKind.EMERGENCY.value, visibility=Visibility.PRIVATE.value,
                                     topic=topic, created_by=owner_id, last_seq=0, created_at=now)
                .returning(rooms.c.id))).scalar_one()
            await conn.execute(insert(memberships).values(room_id=room_id, member_id=owner_id,
                                                          role=Role.OWNER.value, read_seq=0, joined_at=now))
            await conn.execute(insert(emergencies).values(
                room_id=room_id, region=region, started_on=started_on, status=EmergencyStatus.ACTIVE.value,
                areas=[a.public() for a in areas], created_at=now))
            row = (await conn.execute(_select().where(rooms.c.id == room_id))).one()
        return emergency_from_row(row)

    async def get(self, room_id: int) -> Emergency | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_select().where(rooms.c.id == room_id))).first()
        return emergency_from_row(row) if row else None

    async def with_membership(self, room_id: int, member_id: int) -> tuple[Emergency | None, Membership | None]:
        stmt = with_member_columns(_select(), member_id).where(rooms.c.id == room_id)
        async with self.db.read() as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None, None
        return emergency_from_row(row), membership_from_row(row, room_id, member_id)

    async def of_member(self, member_id: int) -> list[tuple[Emergency, Role]]:
        stmt = (_select().add_columns(memberships.c.role)
                .join(memberships, (memberships.c.room_id == rooms.c.id) & (memberships.c.member_id == member_id))
                .order_by(emergencies.c.status, emergencies.c.started_on.desc(), rooms.c.id))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(emergency_from_row(row), Role(row.role)) for row in rows]

    async def change(self, room_id: int, actor_id: int, values: dict, fields: dict) -> tuple[Emergency, Event]:
        """Updates the attributes and appends an `emergency` event saying what changed."""
        async with self.db.write() as conn:
            seq = await self.sequence.append(conn, room_id, EventKind.EMERGENCY, actor_id, fields)
            await conn.execute(update(emergencies).where(emergencies.c.room_id == room_id).values(**values))
            row = (await conn.execute(_select().where(rooms.c.id == room_id))).one()
            return emergency_from_row(row), await self.sequence.event(conn, room_id, seq)

    async def add_member(self, room_id: int, member_id: int, role: Role, actor_id: int,
                         fields: dict) -> Event | None:
        """Adds the member with a role, or changes their role; None when nothing changed."""
        async with self.db.write() as conn:
            current = await conn.scalar(select(memberships.c.role).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id))
            if current == role.value:
                return None
            seq = await self.sequence.append(conn, room_id, EventKind.MEMBERSHIP, actor_id,
                                             {**fields, "action": "added" if current is None else "role"})
            if current is None:
                await conn.execute(insert(memberships).values(room_id=room_id, member_id=member_id,
                                                              role=role.value, read_seq=0, joined_at=utcnow()))
            else:
                await conn.execute(update(memberships).where(memberships.c.room_id == room_id,
                                                             memberships.c.member_id == member_id)
                                   .values(role=role.value))
            return await self.sequence.event(conn, room_id, seq)

    async def record_membership(self, room_id: int, member_id: int, fields: dict) -> Event:
        """A join or departure made through the chat core's endpoints, for the record."""
        async with self.db.write() as conn:
            seq = await self.sequence.append(conn, room_id, EventKind.MEMBERSHIP, member_id, fields)
            return await self.sequence.event(conn, room_id, seq)
