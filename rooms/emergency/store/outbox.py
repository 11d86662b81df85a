"""Queries for outgoing e-mail: members' notification addresses and the outbox that any process drains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from rooms.emergency.store.schema import notification_addresses, outbox
from rooms.store.database import Database
from rooms.store.schema import utcnow


@dataclass(frozen=True)
class Mail:
    id: int
    to_address: str
    subject: str
    body: str
    attempts: int


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def address(self, member_id: int) -> str | None:
        async with self.db.read() as conn:
            return await conn.scalar(select(notification_addresses.c.email)
                                     .where(notification_addresses.c.member_id == member_id))

    async def set_address(self, member_id: int, email: str) -> None:
        now = utcnow()
        for _ in range(2):
            async with self.db.write() as conn:
                done = await conn.execute(update(notification_addresses)
                                          .where(notification_addresses.c.member_id == member_id)
                                          .values(email=email, updated_at=now))
                if done.rowcount:
                    return
            try:
                async with self.db.write() as conn:
                    await conn.execute(insert(notification_addresses).values(member_id=member_id, email=email,
                                                                             updated_at=now))
                return
            except IntegrityError:
                continue   # set at the same moment by another request: update it instead

    async def enqueue(self, member_id: int, to_address: str, subject: str, body: str, kind: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(insert(outbox).values(member_id=member_id, to_address=to_address, subject=subject,
                                                     body=body, kind=kind, created_at=utcnow(), attempts=0))

    async def claim(self, claim_s: float, max_attempts: int, limit: int = 20) -> list[Mail]:
        """Unsent mail nobody holds, each claimed with a compare-and-set so one process sends it."""
        now = utcnow()
        free = or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until < now)
        async with self.db.read() as conn:
            rows = (await conn.execute(select(outbox).where(outbox.c.sent_at.is_(None), free,
                                                            outbox.c.attempts < max_attempts)
                                       .order_by(outbox.c.id).limit(limit))).all()
        claimed = []
        for row in rows:
            async with self.db.write() as conn:
                done = await conn.execute(update(outbox).where(outbox.c.id == row.id, outbox.c.sent_at.is_(None),
                                                               outbox.c.attempts == row.attempts, free)
                                          .values(claimed_until=now + timedelta(seconds=claim_s),
                                                  attempts=row.attempts + 1))
            if done.rowcount == 1:
                claimed.append(Mail(id=row.id, to_address=row.to_address, subject=row.subject, body=row.body,
                                    attempts=row.attempts + 1))
        return claimed

    async def depth(self, max_attempts: int) -> tuple[int, int]:
        """Unsent mail: (still to be tried, given up after max_attempts), for /metrics."""
        given_up = case((outbox.c.attempts >= max_attempts, 1), else_=0)
        async with self.db.read() as conn:
            row = (await conn.execute(select(func.count(), func.coalesce(func.sum(given_up), 0))
                                      .where(outbox.c.sent_at.is_(None)))).one()
        return row[0] - row[1], row[1]

    async def sent(self, mail_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == mail_id).values(sent_at=utcnow()))

    async def failed(self, mail_id: int, error: str, retry_at: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == mail_id)
                               .values(last_error=error[:2000], claimed_until=retry_at))
