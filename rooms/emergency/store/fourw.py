"""Queries for the 4W table: entries by room with filters, changes as events, all-or-nothing imports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Row

from rooms.emergency.models import FourW, FourWEntry, Layer
from rooms.emergency.store.schema import fourw_entries
from rooms.errors import NotFound
from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.store.sequence import Sequence


@dataclass(frozen=True)
class FourWFilter:
    organisation: str | None = None
    activity: str | None = None
    layer: Layer | None = None
    country: str | None = None
    admin_area: str | None = None
    active_on: date | None = None


def _entry(row: Row) -> FourWEntry:
    return FourWEntry(
        id=row.id, room_id=row.room_id, owner_id=row.owner_id, owner_name=row.display_name or "",
        what=FourW(organisation=row.organisation, activity=row.activity, layer=Layer(row.layer),
                   country=row.country, admin_area=row.admin_area, start_date=row.start_date,
                   end_date=row.end_date),
        updated_at=row.updated_at)


def _entries():
    return (select(fourw_entries, members.c.display_name)
            .select_from(fourw_entries.outerjoin(members, members.c.id == fourw_entries.c.owner_id)))


class FourWStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def list(self, room_id: int, where: FourWFilter | None = None) -> list[FourWEntry]:
        where = where or FourWFilter()
        stmt = _entries().where(fourw_entries.c.room_id == room_id)
        for name in ("organisation", "activity", "country", "admin_area"):
            value = getattr(where, name)
            if value:
                stmt = stmt.where(func.lower(fourw_entries.c[name]) == value.lower())
        if where.layer is not None:
            stmt = stmt.where(fourw_entries.c.layer == where.layer.value)
        if where.active_on is not None:
            stmt = stmt.where(fourw_entries.c.start_date <= where.active_on,
                              or_(fourw_entries.c.end_date.is_(None), fourw_entries.c.end_date >= where.active_on))
        stmt = stmt.order_by(fourw_entries.c.country, fourw_entries.c.admin_area, fourw_entries.c.layer,
                             fourw_entries.c.organisation, fourw_entries.c.activity, fourw_entries.c.id)
        async with self.db.read() as conn:
            return [_entry(row) for row in (await conn.execute(stmt)).all()]

    async def get(self, room_id: int, entry_id: int) -> FourWEntry | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_entries().where(fourw_entries.c.room_id == room_id,
                                                       fourw_entries.c.id == entry_id))).first()
        return _entry(row) if row else None

    async def add(self, room_id: int, owner_id: int, what: FourW) -> tuple[FourWEntry, Event]:
        async with self.db.write() as conn:
            now = utcnow()
            entry_id = (await conn.execute(insert(fourw_entries).values(
                room_id=room_id, owner_id=owner_id, created_at=now, updated_at=now, **_values(what))
                .returning(fourw_entries.c.id))).scalar_one()
            return await self._changed(conn, room_id, owner_id, entry_id, "added")

    async def change(self, room_id: int, entry_id: int, actor_id: int, what: FourW) -> tuple[FourWEntry, Event]:
        async with self.db.write() as conn:
            done = await conn.execute(update(fourw_entries)
                                      .where(fourw_entries.c.room_id == room_id, fourw_entries.c.id == entry_id)
                                      .values(updated_at=utcnow(), **_values(what)))
            if done.rowcount != 1:
                raise NotFound("no such entry")
            return await self._changed(conn, room_id, actor_id, entry_id, "updated")

    async def remove(self, room_id: int, entry_id: int, actor_id: int) -> Event:
        async with self.db.write() as conn:
            row = (await conn.execute(_entries().where(fourw_entries.c.room_id == room_id,
                                                       fourw_entries.c.id == entry_id))).first()
            if row is None:
                raise NotFound("no such entry")
            await conn.execute(delete(fourw_entries).where(fourw_entries.c.id == entry_id))
            seq = await self.sequence.append(conn, room_id, EventKind.FOURW, actor_id,
                                             {"action": "deleted", "entry": _entry(row).public()})
            return await self.sequence.event(conn, room_id, seq)

    async def import_all(self, room_id: int, owner_id: int, rows: list[FourW]) -> Event:
        """Every row or none: one transaction, one event."""
        async with self.db.write() as conn:
            now = utcnow()
            if rows:
                await conn.execute(insert(fourw_entries), [
                    dict(room_id=room_id, owner_id=owner_id, created_at=now, updated_at=now, **_values(what))
                    for what in rows])
            seq = await self.sequence.append(conn, room_id, EventKind.FOURW, owner_id,
                                             {"action": "imported", "count": len(rows)})
            return await self.sequence.event(conn, room_id, seq)

    async def _changed(self, conn, room_id: int, actor_id: int, entry_id: int,
                       action: str) -> tuple[FourWEntry, Event]:
        row = (await conn.execute(_entries().where(fourw_entries.c.id == entry_id))).one()
        entry = _entry(row)
        seq = await self.sequence.append(conn, room_id, EventKind.FOURW, actor_id,
                                         {"action": action, "entry": entry.public()})
        return entry, await self.sequence.event(conn, room_id, seq)


def _values(what: FourW) -> dict:
    return dict(organisation=what.organisation, activity=what.activity, layer=what.layer.value,
                country=what.country, admin_area=what.admin_area, start_date=what.start_date,
                end_date=what.end_date)
