"""Queries for a member's export: their profile, and every row that names them, read a page at a time.

Tables are found by name on the shared metadata (rooms/members_data/registry.py lists them), so this
module imports no feature's schema; by the time a process serves an export every feature has loaded.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from sqlalchemy import Table, or_, select, tuple_

from rooms.members_data.registry import HOLDINGS, PROFILE_HIDDEN, Holding
from rooms.models import EventKind
from rooms.store.database import Database
from rooms.store.schema import memberships, members, messages, metadata, rooms

PAGE = 500
# A member's own writing in a room's sequence; other events they caused (a reaction, an alert) are
# exported from their own tables, whose rows hold only what is theirs.
WRITTEN = (EventKind.MESSAGE.value, EventKind.EDIT.value, EventKind.DELETE.value)
_MESSAGES_HIDDEN = next(h.hidden for h in HOLDINGS if h.table == "messages")


def _visible(table: Table, hidden: tuple[str, ...]):
    return [column for column in table.c if column.name not in hidden]


class ExportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def profile(self, member_id: int) -> dict | None:
        stmt = select(*_visible(members, PROFILE_HIDDEN)).where(members.c.id == member_id)
        async with self.db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return dict(row._mapping) if row else None

    async def rooms_of(self, member_id: int) -> list[dict]:
        """The rooms the member belongs to or wrote in, so the export's room ids have names."""
        wrote = select(messages.c.room_id).where(messages.c.sender_id == member_id).distinct()
        joined = select(memberships.c.room_id).where(memberships.c.member_id == member_id)
        stmt = (select(rooms.c.id, rooms.c.name, rooms.c.kind, rooms.c.visibility)
                .where(or_(rooms.c.id.in_(wrote), rooms.c.id.in_(joined))).order_by(rooms.c.id))
        async with self.db.read() as conn:
            return [dict(row._mapping) for row in (await conn.execute(stmt)).all()]

    async def rows(self, holding: Holding, member_id: int) -> AsyncIterator[dict]:
        """The holding's rows for this member, a page at a time (ordered by primary key)."""
        if holding.table == "messages":
            async for row in self.messages(member_id):
                yield row
            return
        table = metadata.tables[holding.table]
        stmt = (select(*_visible(table, holding.hidden)).where(table.c[holding.column] == member_id)
                .order_by(*table.primary_key.columns))
        offset = 0
        while True:
            async with self.db.read() as conn:
                page = (await conn.execute(stmt.offset(offset).limit(PAGE))).all()
            for row in page:
                yield dict(row._mapping)
            if len(page) < PAGE:
                return
            offset += PAGE

    async def messages(self, member_id: int) -> AsyncIterator[dict]:
        """Their messages, edits and deletions, by room and sequence, through the sender index (keyset
        pages: a prolific member's millions of rows are never held at once)."""
        stmt = (select(*_visible(messages, _MESSAGES_HIDDEN))
                .where(messages.c.sender_id == member_id, messages.c.kind.in_(WRITTEN))
                .order_by(messages.c.room_id, messages.c.seq).limit(PAGE))
        after: tuple[int, int] | None = None
        while True:
            page_stmt = stmt if after is None else stmt.where(tuple_(messages.c.room_id, messages.c.seq) > after)
            async with self.db.read() as conn:
                page = (await conn.execute(page_stmt)).all()
            for row in page:
                yield dict(row._mapping)
            if len(page) < PAGE:
                return
            after = (page[-1].room_id, page[-1].seq)
