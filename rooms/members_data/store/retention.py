"""Queries for room retention: the owners' setting, and removing a room's expired history below a watermark.

A removal is one transaction under the room's row lock. The watermark W is the seq just below the room's
first event that has not expired, so only a contiguous run of expired events goes (an event is never
removed while an older one it follows is kept, whatever the clocks of the processes that wrote them).
Events up to W are deleted, with their reactions, pins, mentions and attachments; what newer events quote of
them (a reply's preview, an edit of an expired message) is blanked; `rooms.removed_through` becomes W and a
`history.removed` event is appended. Sequence numbers are never reused: the sequence goes on above W.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import orjson
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind, RoomKind
from rooms.store.database import Database
from rooms.store.messages import MessageStore
from rooms.store.schema import messages, metadata, rooms, utcnow


@dataclass(frozen=True)
class Removal:
    room_id: int
    removed_through: int
    events: int            # rows of the sequence deleted
    files: list[str]       # storage keys of the removed messages' attachments
    event: Event           # the `history.removed` event


class _NothingExpired(Exception):
    """Leaves the transaction so the sequence number taken for the event is rolled back."""


class RetentionStore:
    def __init__(self, db: Database, messages_store: MessageStore) -> None:
        self.db = db
        self.messages = messages_store

    async def set_days(self, room_id: int, days: int | None) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(rooms).where(rooms.c.id == room_id).values(retention_days=days))

    async def rooms_with_retention(self) -> list[tuple[int, int]]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(rooms.c.id, rooms.c.retention_days).where(
                rooms.c.retention_days.is_not(None), rooms.c.kind == RoomKind.ROOM.value)
                .order_by(rooms.c.id))).all()
        return [(row.id, row.retention_days) for row in rows]

    async def remove_expired(self, room_id: int, cutoff: datetime, days: int, batch: int) -> Removal | None:
        """Removes at most `batch` expired events from the bottom of the room's history; None when none expired."""
        try:
            async with self.db.write() as conn:
                seq = await self.messages._next_seq(conn, room_id)   # the room's lock, and the event's seq
                previous, through = await self._watermark(conn, room_id, cutoff, seq, batch)
                files = await _remove_attachments(conn, room_id, through)
                await _blank_quotes(conn, room_id, previous, through)
                for name, column in (("reactions", "target_seq"), ("pins", "target_seq"), ("mentions", "seq")):
                    table = metadata.tables.get(name)
                    if table is not None:
                        await conn.execute(delete(table).where(table.c.room_id == room_id, table.c[column] <= through))
                # An inbox keeps the notice and the moderation queue its decision, not the expired words.
                for name, column in (("notifications", "excerpt"), ("reports", "body")):
                    table = metadata.tables.get(name)
                    if table is not None:
                        await conn.execute(update(table).where(
                            table.c.room_id == room_id, table.c.seq > 0, table.c.seq <= through)
                            .values({column: ""}))
                removed = (await conn.execute(delete(messages).where(
                    messages.c.room_id == room_id, messages.c.seq <= through))).rowcount
                await conn.execute(update(rooms).where(rooms.c.id == room_id).values(removed_through=through))
                await conn.execute(insert(messages).values(
                    room_id=room_id, seq=seq, kind=EventKind.HISTORY_REMOVED.value, sender_id=None,
                    body=orjson.dumps({"removed_through": through, "retention_days": days}).decode(),
                    created_at=utcnow()))
                event = await self.messages._get(conn, room_id, seq)
                assert event is not None
                return Removal(room_id, through, removed, files, event)
        except _NothingExpired:
            return None

    async def _watermark(self, conn: AsyncConnection, room_id: int, cutoff: datetime, event_seq: int,
                         batch: int) -> tuple[int, int]:
        previous = await conn.scalar(select(rooms.c.removed_through).where(rooms.c.id == room_id)) or 0
        first_kept = await conn.scalar(select(func.min(messages.c.seq)).where(
            messages.c.room_id == room_id, messages.c.seq > previous, messages.c.created_at >= cutoff))
        through = min((first_kept or event_seq) - 1, previous + batch)
        # Nothing stored between the old watermark and this one (a room whose history is all expired
        # events already removed): nothing to tell anyone.
        if through <= previous or not await conn.scalar(select(func.count()).where(
                messages.c.room_id == room_id, messages.c.seq > previous, messages.c.seq <= through)):
            raise _NothingExpired
        return previous, through


async def _remove_attachments(conn: AsyncConnection, room_id: int, through: int) -> list[str]:
    attachments = metadata.tables.get("attachments")
    if attachments is None:
        return []
    rows = (await conn.execute(delete(attachments).where(
        attachments.c.room_id == room_id, attachments.c.message_seq <= through)
        .returning(attachments.c.file_key, attachments.c.preview_key))).all()
    return [key for row in rows for key in (row.file_key, row.preview_key) if key]


async def _blank_quotes(conn: AsyncConnection, room_id: int, previous: int, through: int) -> None:
    """Newer events that carry expired text: replies' previews of an expired message, edits of one."""
    replies = (await conn.execute(select(messages.c.seq, messages.c.parent_preview).where(
        messages.c.room_id == room_id, messages.c.seq > through, messages.c.kind == EventKind.MESSAGE.value,
        messages.c.reply_to > previous, messages.c.reply_to <= through))).all()
    for row in replies:
        sender = (row.parent_preview or {}).get("sender")
        await conn.execute(update(messages).where(messages.c.room_id == room_id, messages.c.seq == row.seq)
                           .values(parent_preview={"sender": sender, "deleted": True}))
    await conn.execute(update(messages).where(
        messages.c.room_id == room_id, messages.c.seq > through, messages.c.kind == EventKind.EDIT.value,
        messages.c.target_seq > previous, messages.c.target_seq <= through).values(body="", html=None, mentions=None, mentions_room=False))
