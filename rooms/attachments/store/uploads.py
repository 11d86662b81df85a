"""Queries for resumable uploads in progress: create within a member's bound, read, commit a received
part with a compare-and-set on the offset, finish, terminate and expire."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Row

from rooms.attachments.models import Part, Upload
from rooms.attachments.store.schema import attachment_uploads
from rooms.store.database import Database
from rooms.store.schema import utcnow


def upload_from_row(row: Row) -> Upload:
    return Upload(token=row.token, member_id=row.member_id, room_id=row.room_id, name=row.name, length=row.length,
                  received=row.received, parts=tuple(Part(*part) for part in row.parts or ()),
                  attachment_id=row.attachment_id, created_at=row.created_at, expires_at=row.expires_at)


class UploadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def in_progress(self, member_id: int) -> int:
        async with self.db.read() as conn:
            return int(await conn.scalar(select(func.count()).select_from(attachment_uploads).where(
                attachment_uploads.c.member_id == member_id, attachment_uploads.c.attachment_id.is_(None),
                attachment_uploads.c.expires_at > utcnow())) or 0)

    async def create(self, *, token: str, member_id: int, room_id: int, name: str, length: int,
                     expires_at: datetime) -> Upload:
        async with self.db.write() as conn:
            row = (await conn.execute(insert(attachment_uploads).values(
                token=token, member_id=member_id, room_id=room_id, name=name, length=length, received=0, parts=[],
                created_at=utcnow(), expires_at=expires_at).returning(*attachment_uploads.c))).one()
        return upload_from_row(row)

    async def get(self, token: str) -> Upload | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(attachment_uploads)
                                      .where(attachment_uploads.c.token == token))).first()
        return upload_from_row(row) if row else None

    async def commit(self, upload: Upload, part: Part) -> Upload | None:
        """Records a stored part if the upload is still at the offset the part starts at; None when another
        request moved it first (the caller drops its part, the client asks HEAD again)."""
        parts = [[p.start, p.length, p.key] for p in upload.parts] + [[part.start, part.length, part.key]]
        async with self.db.write() as conn:
            row = (await conn.execute(update(attachment_uploads).where(
                attachment_uploads.c.token == upload.token, attachment_uploads.c.received == part.start,
                attachment_uploads.c.attachment_id.is_(None))
                .values(received=part.start + part.length, parts=parts)
                .returning(*attachment_uploads.c))).first()
        return upload_from_row(row) if row else None

    async def finished(self, token: str, attachment_id: int) -> None:
        """The file is stored: the upload keeps pointing at it (a retried last PATCH finds it) until it expires."""
        async with self.db.write() as conn:
            await conn.execute(update(attachment_uploads).where(attachment_uploads.c.token == token)
                               .values(attachment_id=attachment_id, parts=[]))

    async def remove(self, token: str) -> Upload | None:
        async with self.db.write() as conn:
            row = (await conn.execute(delete(attachment_uploads).where(attachment_uploads.c.token == token)
                                      .returning(*attachment_uploads.c))).first()
        return upload_from_row(row) if row else None

    async def sweep_expired(self, now: datetime, limit: int = 500) -> list[Upload]:
        async with self.db.write() as conn:
            tokens = (select(attachment_uploads.c.token).where(attachment_uploads.c.expires_at < now)
                      .limit(limit).scalar_subquery())
            rows = (await conn.execute(delete(attachment_uploads).where(attachment_uploads.c.token.in_(tokens))
                                       .returning(*attachment_uploads.c))).all()
        return [upload_from_row(row) for row in rows]
