"""Queries for situation reports: numbered versions, each one an event in the room's sequence."""

from __future__ import annotations

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Row

from rooms.emergency.models import Sitrep
from rooms.emergency.store.schema import sitreps
from rooms.errors import Conflict
from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.store.sequence import Sequence


def _sitrep(row: Row) -> Sitrep:
    return Sitrep(room_id=row.room_id, version=row.version, title=row.title, body=row.body,
                  author_id=row.author_id, author_name=row.display_name or "", seq=row.seq,
                  created_at=row.created_at)


def _sitreps():
    return (select(sitreps, members.c.display_name)
            .select_from(sitreps.outerjoin(members, members.c.id == sitreps.c.author_id)))


class SitrepStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def publish(self, room_id: int, author_id: int, title: str, body: str,
                      base_version: int) -> tuple[Sitrep, Event]:
        """Stores the next version, if `base_version` is still the newest (else Conflict: someone
        published in between and the author should merge their change into theirs)."""
        async with self.db.write() as conn:
            now = utcnow()
            # The room-row lock comes first, so two authors cannot both read the same newest version.
            seq = await self.sequence.append(conn, room_id, EventKind.SITREP, author_id,
                                             {"version": base_version + 1, "title": title}, at=now)
            newest = await conn.scalar(select(func.coalesce(func.max(sitreps.c.version), 0))
                                       .where(sitreps.c.room_id == room_id))
            if newest != base_version:
                raise Conflict(f"version {newest} was published meanwhile; start from it")
            await conn.execute(insert(sitreps).values(room_id=room_id, version=base_version + 1, title=title,
                                                      body=body, author_id=author_id, seq=seq,
                                                      created_at=now))
            row = (await conn.execute(_sitreps().where(sitreps.c.room_id == room_id,
                                                       sitreps.c.version == base_version + 1))).one()
            return _sitrep(row), await self.sequence.event(conn, room_id, seq)

    async def current(self, room_id: int) -> Sitrep | None:
        stmt = _sitreps().where(sitreps.c.room_id == room_id).order_by(sitreps.c.version.desc()).limit(1)
        async with self.db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return _sitrep(row) if row else None

    async def get(self, room_id: int, version: int) -> Sitrep | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_sitreps().where(sitreps.c.room_id == room_id,
                                                       sitreps.c.version == version))).first()
        return _sitrep(row) if row else None

    async def history(self, room_id: int) -> list[Sitrep]:
        """Every version, newest first."""
        stmt = _sitreps().where(sitreps.c.room_id == room_id).order_by(sitreps.c.version.desc())
        async with self.db.read() as conn:
            return [_sitrep(row) for row in (await conn.execute(stmt)).all()]
