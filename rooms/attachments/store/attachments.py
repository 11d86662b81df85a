"""Queries for stored attachments: add, find, claim for a message (inside the send's transaction),
remove with their message, quota use, and what garbage collection sweeps."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Sequence

from sqlalchemy import and_, delete, func, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.attachments.models import Attachment
from rooms.attachments.sniffing import Kind
from rooms.attachments.store.schema import attachment_uploads, attachments
from rooms.store.database import Database
from rooms.store.schema import messages, utcnow

_WORDS = re.compile(r"[\W_]+", re.UNICODE)


def search_text(name: str) -> str:
    """A name's words, so "Flipchart_notes-2026.pdf" is found by "flipchart", "notes" or "pdf"."""
    return _WORDS.sub(" ", name).strip()


def attachment_from_row(row: Row) -> Attachment:
    return Attachment(id=row.id, room_id=row.room_id, owner_id=row.owner_id, name=row.name, kind=Kind(row.kind),
                      content_type=row.content_type, size=row.size, stored_bytes=row.stored_bytes,
                      file_key=row.file_key, preview_key=row.preview_key, meta=row.meta or {},
                      message_seq=row.message_seq, created_at=row.created_at)


class AttachmentStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, *, room_id: int, owner_id: int, name: str, kind: Kind, content_type: str, size: int,
                  stored_bytes: int, file_key: str, preview_key: str | None, meta: dict) -> Attachment:
        async with self.db.write() as conn:
            row = (await conn.execute(insert(attachments).values(
                room_id=room_id, owner_id=owner_id, name=name, search_text=search_text(name), kind=kind.value,
                content_type=content_type, size=size, stored_bytes=stored_bytes, file_key=file_key,
                preview_key=preview_key, meta=meta, created_at=utcnow()).returning(*attachments.c))).one()
        return attachment_from_row(row)

    async def get(self, attachment_id: int) -> Attachment | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(attachments).where(attachments.c.id == attachment_id))).first()
        return attachment_from_row(row) if row else None

    async def unsent(self, owner_id: int, room_id: int, ids: Sequence[int]) -> list[Attachment]:
        """The given attachments that this member uploaded to this room and has not sent yet, in the given order."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(attachments).where(
                attachments.c.id.in_(list(ids)), attachments.c.owner_id == owner_id,
                attachments.c.room_id == room_id, attachments.c.message_seq.is_(None)))).all()
        found = {row.id: attachment_from_row(row) for row in rows}
        return [found[i] for i in ids if i in found]

    async def claim(self, conn: AsyncConnection, owner_id: int, room_id: int, ids: Sequence[int], seq: int) -> bool:
        """Inside the send's transaction: ties each attachment to message `seq`, once. False when any of
        them was used (or removed) in the meantime; the caller then rolls the whole send back."""
        result = await conn.execute(update(attachments).where(
            attachments.c.id.in_(list(ids)), attachments.c.owner_id == owner_id,
            attachments.c.room_id == room_id, attachments.c.message_seq.is_(None)).values(message_seq=seq))
        return result.rowcount == len(ids)

    async def remove_for_message(self, room_id: int, seq: int) -> list[Attachment]:
        """Forgets a deleted message's attachments (and their descriptors on it); answers them, whose
        files the caller deletes."""
        async with self.db.write() as conn:
            rows = (await conn.execute(delete(attachments).where(
                attachments.c.room_id == room_id, attachments.c.message_seq == seq)
                .returning(*attachments.c))).all()
            await conn.execute(update(messages).where(messages.c.room_id == room_id, messages.c.seq == seq)
                               .values(attachments=None))
        return [attachment_from_row(row) for row in rows]

    async def remove_unsent(self, owner_id: int, attachment_id: int) -> Attachment | None:
        async with self.db.write() as conn:
            row = (await conn.execute(delete(attachments).where(
                attachments.c.id == attachment_id, attachments.c.owner_id == owner_id,
                attachments.c.message_seq.is_(None)).returning(*attachments.c))).first()
        return attachment_from_row(row) if row else None

    async def used_bytes(self, owner_id: int) -> int:
        """Everything the member has stored, plus what their unfinished uploads have declared."""
        async with self.db.read() as conn:
            stored = await conn.scalar(select(func.coalesce(func.sum(attachments.c.stored_bytes), 0))
                                       .where(attachments.c.owner_id == owner_id))
            reserved = await conn.scalar(select(func.coalesce(func.sum(attachment_uploads.c.length), 0)).where(
                attachment_uploads.c.member_id == owner_id, attachment_uploads.c.attachment_id.is_(None)))
        return int(stored or 0) + int(reserved or 0)

    async def sweep_unsent(self, created_before: datetime, limit: int = 500) -> list[Attachment]:
        """Removes attachments never sent in a message, uploaded before `created_before`."""
        return await self._sweep(and_(attachments.c.message_seq.is_(None),
                                      attachments.c.created_at < created_before), limit)

    async def sweep_deleted_messages(self, limit: int = 500) -> list[Attachment]:
        """Removes attachments whose message was deleted but that are still here (a process stopped
        between the deletion and the clean-up)."""
        deleted = select(messages.c.seq).where(messages.c.room_id == attachments.c.room_id,
                                               messages.c.seq == attachments.c.message_seq,
                                               messages.c.deleted_at.is_not(None)).exists()
        return await self._sweep(and_(attachments.c.message_seq.is_not(None), deleted), limit)

    async def _sweep(self, condition, limit: int) -> list[Attachment]:
        async with self.db.write() as conn:
            ids = select(attachments.c.id).where(condition).limit(limit).scalar_subquery()
            rows = (await conn.execute(delete(attachments).where(attachments.c.id.in_(ids))
                                       .returning(*attachments.c))).all()
        return [attachment_from_row(row) for row in rows]


def attachment_matches(dialect: str, terms: list[str]):
    """The ids of messages with an attachment whose name matches every term (prefixes, like the message
    search in rooms/store/search.py, whose sanitised terms these are): Postgres tsvector or SQLite FTS5."""
    if dialect == "postgresql":
        tsquery = func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))
        named = func.to_tsvector("simple", attachments.c.search_text).op("@@")(tsquery)
    else:
        match = " ".join('"' + term + '"*' for term in terms)
        named = attachments.c.id.in_(select(text("rowid")).select_from(text("attachments_fts"))
                                     .where(text("attachments_fts MATCH :names").bindparams(names=match))
                                     .scalar_subquery())
    return (select(messages.c.id)
            .select_from(attachments.join(messages, and_(messages.c.room_id == attachments.c.room_id,
                                                         messages.c.seq == attachments.c.message_seq)))
            .where(attachments.c.message_seq.is_not(None), named).scalar_subquery())
