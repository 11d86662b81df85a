"""Which process owns a webinar's media: a lease row per webinar, taken with a compare-and-set, renewed, taken over once lapsed.

The same pattern as the recording jobs' leases (recordings/archive/store/jobs.py): one UPDATE
conditioned on what was read, so only one process wins, on SQLite and on Postgres alike.
Expiry is compared with each process's own clock: processes on several hosts need NTP,
with a skew well under the lease (a few seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from recordings.media.schema import media_leases
from rooms.errors import NotFound
from rooms.store.database import Database
from rooms.store.schema import utcnow


@dataclass(frozen=True)
class Lease:
    webinar_id: int
    owner: str
    epoch: int            # changes with every change of owner: a relayed request names the epoch it was sent to
    expires_at: datetime

    def lapsed(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or utcnow())


@dataclass(frozen=True)
class Acquired:
    lease: Lease           # the holder after the attempt: this process, or the one that holds it
    taken_over: bool       # this process took it from another whose lease had lapsed


def _lease(row: Row) -> Lease:
    return Lease(webinar_id=row.webinar_id, owner=row.owner, epoch=row.epoch, expires_at=row.expires_at)


class LeaseStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def holder(self, webinar_id: int) -> Lease | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(media_leases).where(media_leases.c.webinar_id == webinar_id))).first()
        return _lease(row) if row else None

    async def holders(self, webinar_ids: list[int]) -> dict[int, Lease]:
        if not webinar_ids:
            return {}
        async with self.db.read() as conn:
            rows = (await conn.execute(select(media_leases)
                                       .where(media_leases.c.webinar_id.in_(webinar_ids)))).all()
        return {row.webinar_id: _lease(row) for row in rows}

    async def acquire(self, webinar_id: int, owner: str, lease_s: float) -> Acquired:
        """Takes the lease when nobody holds it, its holder's lease has lapsed, or it is already ours (renewed)."""
        now = utcnow()
        expires = now + timedelta(seconds=lease_s)
        current = await self.holder(webinar_id)
        if current is None:
            try:
                async with self.db.write() as conn:
                    await conn.execute(insert(media_leases).values(
                        webinar_id=webinar_id, owner=owner, epoch=1, expires_at=expires, acquired_at=now))
                return Acquired(Lease(webinar_id, owner, 1, expires), taken_over=False)
            except IntegrityError:   # another process inserted it first, or there is no such webinar
                current = await self.holder(webinar_id)
                if current is None:
                    raise NotFound("no such webinar", field="webinar") from None
        if current.owner != owner and not current.lapsed(now):
            return Acquired(current, taken_over=False)
        epoch = current.epoch if current.owner == owner else current.epoch + 1
        async with self.db.write() as conn:
            done = await conn.execute(update(media_leases).where(
                media_leases.c.webinar_id == webinar_id, media_leases.c.owner == current.owner,
                media_leases.c.epoch == current.epoch)
                .values(owner=owner, epoch=epoch, expires_at=expires,
                        acquired_at=now if epoch != current.epoch else media_leases.c.acquired_at))
        if done.rowcount != 1:   # someone else renewed or took it in between
            latest = await self.holder(webinar_id)
            assert latest is not None
            return Acquired(latest, taken_over=False)
        return Acquired(Lease(webinar_id, owner, epoch, expires), taken_over=current.owner != owner)

    async def renew(self, owner: str, webinar_ids: list[int], lease_s: float) -> dict[int, Lease]:
        """Extends this owner's leases; answers those it still holds (a missing one was taken over)."""
        if not webinar_ids:
            return {}
        mine = (media_leases.c.webinar_id.in_(webinar_ids), media_leases.c.owner == owner)
        async with self.db.write() as conn:
            await conn.execute(update(media_leases).where(*mine)
                               .values(expires_at=utcnow() + timedelta(seconds=lease_s)))
            rows = (await conn.execute(select(media_leases).where(*mine))).all()
        return {row.webinar_id: _lease(row) for row in rows}

    async def release(self, owner: str, webinar_ids: list[int]) -> None:
        """Gives leases up (a session closed, the process stops): the next process to ask takes them at once."""
        if not webinar_ids:
            return
        async with self.db.write() as conn:
            await conn.execute(delete(media_leases).where(media_leases.c.webinar_id.in_(webinar_ids),
                                                          media_leases.c.owner == owner))
