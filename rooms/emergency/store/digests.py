"""Queries for where each member last looked at an emergency room: the digest starts after it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from rooms.emergency.store.schema import digest_cursors
from rooms.store.database import Database
from rooms.store.schema import utcnow


class DigestStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def cursor(self, room_id: int, member_id: int) -> tuple[int, datetime | None]:
        """(the last seq the member has seen, when); (0, None) before their first look."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(digest_cursors).where(
                digest_cursors.c.room_id == room_id, digest_cursors.c.member_id == member_id))).first()
        return (row.seen_seq, row.seen_at) if row else (0, None)

    async def advance(self, room_id: int, member_id: int, seq: int) -> None:
        """Moves the cursor forward only: two pages open at once never make the digest repeat itself."""
        now = utcnow()
        for _ in range(2):
            async with self.db.write() as conn:
                done = await conn.execute(update(digest_cursors).where(
                    digest_cursors.c.room_id == room_id, digest_cursors.c.member_id == member_id)
                    .values(seen_seq=seq, seen_at=now).where(digest_cursors.c.seen_seq < seq))
                if done.rowcount:
                    return
                exists = await conn.scalar(select(digest_cursors.c.seen_seq).where(
                    digest_cursors.c.room_id == room_id, digest_cursors.c.member_id == member_id))
                if exists is not None:
                    return
            try:
                async with self.db.write() as conn:
                    await conn.execute(insert(digest_cursors).values(room_id=room_id, member_id=member_id,
                                                                     seen_seq=seq, seen_at=now))
                return
            except IntegrityError:
                continue
