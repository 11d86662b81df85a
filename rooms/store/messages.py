"""Queries for a room's sequence of events: append, edit, delete, replay and history pages.

Every append takes the room's row lock (rooms.last_seq), so sequence numbers are
gap-free and strictly increasing per room even with many writing processes. A
failed transaction rolls back the increment with everything else, so a refusal
never leaves a hole in the sequence.
"""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.errors import NotFound
from rooms.models import Event, EventKind, Page
from rooms.store.database import Database
from rooms.store.schema import members, messages, rooms, utcnow

_event_columns = [*messages.c, members.c.display_name.label("sender_name")]


def event_from_row(row: Row) -> Event:
    return Event(
        room_id=row.room_id,
        seq=row.seq,
        kind=EventKind(row.kind),
        sender_id=row.sender_id,
        sender_name=row.sender_name or "",
        client_id=row.client_id,
        body=row.body,
        target_seq=row.target_seq,
        created_at=row.created_at,
        edited_at=row.edited_at,
        deleted=row.deleted_at is not None,
    )


def _events():
    return select(*_event_columns).select_from(
        messages.outerjoin(members, members.c.id == messages.c.sender_id))


class MessageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def append(self, room_id: int, sender_id: int, client_id: str, body: str) -> tuple[Event, bool]:
        """Stores a message once per client id. Answers (event, created)."""
        existing = await self.by_client_id(room_id, sender_id, client_id)
        if existing is not None:
            return existing, False
        try:
            async with self.db.write() as conn:
                seq = await self._next_seq(conn, room_id)
                await conn.execute(insert(messages).values(
                    room_id=room_id, seq=seq, kind=EventKind.MESSAGE.value, sender_id=sender_id,
                    client_id=client_id, body=body, created_at=utcnow()))
                return await self._get(conn, room_id, seq), True
        except IntegrityError:
            # The same client id raced in through another connection; that one won.
            existing = await self.by_client_id(room_id, sender_id, client_id)
            if existing is None:
                raise
            return existing, False

    async def by_client_id(self, room_id: int, sender_id: int, client_id: str) -> Event | None:
        stmt = _events().where(messages.c.room_id == room_id, messages.c.sender_id == sender_id,
                               messages.c.client_id == client_id)
        async with self.db.read() as conn:
            row = (await conn.execute(stmt)).first()
        return event_from_row(row) if row else None

    async def get(self, room_id: int, seq: int) -> Event | None:
        async with self.db.read() as conn:
            return await self._get(conn, room_id, seq)

    async def edit(self, room_id: int, target_seq: int, editor_id: int, body: str) -> Event:
        """Replaces a message's body and appends the edit to the room's sequence."""
        async with self.db.write() as conn:
            seq = await self._next_seq(conn, room_id)
            now = utcnow()
            await conn.execute(update(messages)
                               .where(messages.c.room_id == room_id, messages.c.seq == target_seq)
                               .values(body=body, edited_at=now))
            await conn.execute(insert(messages).values(
                room_id=room_id, seq=seq, kind=EventKind.EDIT.value, sender_id=editor_id,
                body=body, target_seq=target_seq, created_at=now))
            return await self._get(conn, room_id, seq)

    async def delete(self, room_id: int, target_seq: int, deleter_id: int) -> Event:
        """Blanks a message (its place in the sequence stays) and appends the deletion."""
        async with self.db.write() as conn:
            seq = await self._next_seq(conn, room_id)
            now = utcnow()
            await conn.execute(update(messages)
                               .where(messages.c.room_id == room_id, messages.c.seq == target_seq)
                               .values(body="", deleted_at=now))
            # Edits carry the old text too; blank them so a deletion really removes it.
            await conn.execute(update(messages)
                               .where(messages.c.room_id == room_id, messages.c.target_seq == target_seq,
                                      messages.c.kind == EventKind.EDIT.value)
                               .values(body=""))
            await conn.execute(insert(messages).values(
                room_id=room_id, seq=seq, kind=EventKind.DELETE.value, sender_id=deleter_id,
                body="", target_seq=target_seq, created_at=now))
            return await self._get(conn, room_id, seq)

    async def after(self, room_id: int, after_seq: int, limit: int) -> list[Event]:
        """Every event with seq > after_seq, oldest first: what resume and gap repair replay."""
        stmt = (_events().where(messages.c.room_id == room_id, messages.c.seq > after_seq)
                .order_by(messages.c.seq).limit(limit))
        async with self.db.read() as conn:
            return [event_from_row(row) for row in (await conn.execute(stmt)).all()]

    async def page(self, room_id: int, before_seq: int | None, limit: int) -> Page:
        """Messages (not edit/delete entries) older than before_seq, newest first, in their current state."""
        stmt = _events().where(messages.c.room_id == room_id, messages.c.kind == EventKind.MESSAGE.value)
        if before_seq is not None:
            stmt = stmt.where(messages.c.seq < before_seq)
        stmt = stmt.order_by(messages.c.seq.desc()).limit(limit + 1)
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return Page(events=[event_from_row(row) for row in rows[:limit]], has_more=len(rows) > limit)

    async def _next_seq(self, conn: AsyncConnection, room_id: int) -> int:
        # UPDATE takes the row lock that orders every writer of this room.
        seq = await conn.scalar(update(rooms).where(rooms.c.id == room_id)
                                .values(last_seq=rooms.c.last_seq + 1).returning(rooms.c.last_seq))
        if seq is None:
            raise NotFound("no such room")
        return seq

    async def _get(self, conn: AsyncConnection, room_id: int, seq: int) -> Event | None:
        row = (await conn.execute(_events().where(messages.c.room_id == room_id,
                                                  messages.c.seq == seq))).first()
        return event_from_row(row) if row else None
