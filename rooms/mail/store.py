"""Queries for outgoing e-mail: members' addresses (verified or not) and the outbox that any process drains."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.mail.schema import notification_addresses, outbox
from rooms.store.database import Database
from rooms.store.schema import utcnow


@dataclass(frozen=True)
class Mail:
    id: int
    to_address: str
    subject: str
    body: str
    attempts: int
    parts: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Address:
    email: str
    verified: bool


def outbox_row(member_id: int | None, to_address: str, subject: str, body: str, kind: str,
               parts: dict | None = None) -> dict:
    """One outbox row, for callers that queue mail inside a transaction of their own."""
    return dict(member_id=member_id, to_address=to_address, subject=subject[:200], body=body, kind=kind,
                created_at=utcnow(), attempts=0, parts=parts or None)


class OutboxStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Addresses.

    async def address(self, member_id: int) -> str | None:
        """The member's verified address: the only one mail is ever sent to."""
        found = await self.address_of(member_id)
        return found.email if found is not None and found.verified else None

    async def address_of(self, member_id: int) -> Address | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(notification_addresses)
                                      .where(notification_addresses.c.member_id == member_id))).first()
        return Address(row.email, row.verified_at is not None) if row else None

    async def set_address(self, member_id: int, email: str) -> bool:
        """Records the address; answers whether it still needs verifying (a new or changed address does)."""
        now = utcnow()
        for _ in range(2):
            async with self.db.write() as conn:
                current = (await conn.execute(select(notification_addresses)
                                              .where(notification_addresses.c.member_id == member_id))).first()
                if current is not None:
                    if current.email == email:
                        return current.verified_at is None
                    await conn.execute(update(notification_addresses)
                                       .where(notification_addresses.c.member_id == member_id)
                                       .values(email=email, updated_at=now, verified_at=None))
                    return True
            try:
                async with self.db.write() as conn:
                    await conn.execute(insert(notification_addresses).values(
                        member_id=member_id, email=email, updated_at=now, verified_at=None))
                return True
            except IntegrityError:
                continue   # set at the same moment by another request: update it instead
        return True

    async def verify(self, member_id: int, matches: Callable[[str], bool]) -> bool:
        """Marks the member's address verified if `matches` accepts it (it is still the address the link
        was made for). Answers whether it did."""
        async with self.db.write() as conn:
            email = await conn.scalar(select(notification_addresses.c.email)
                                      .where(notification_addresses.c.member_id == member_id))
            if email is None or not matches(email):
                return False
            await conn.execute(update(notification_addresses)
                               .where(notification_addresses.c.member_id == member_id,
                                      notification_addresses.c.email == email)
                               .values(verified_at=utcnow()))
            return True

    # The outbox.

    async def enqueue(self, member_id: int | None, to_address: str, subject: str, body: str, kind: str,
                      parts: dict | None = None) -> None:
        async with self.db.write() as conn:
            await self.enqueue_in(conn, [outbox_row(member_id, to_address, subject, body, kind, parts)])

    @staticmethod
    async def enqueue_in(conn: AsyncConnection, rows: list[dict]) -> None:
        if rows:
            await conn.execute(insert(outbox), rows)

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
                                    attempts=row.attempts + 1, parts=row.parts or {}))
        return claimed

    async def sent(self, mail_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == mail_id).values(sent_at=utcnow()))

    async def failed(self, mail_id: int, error: str, retry_at: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(outbox).where(outbox.c.id == mail_id)
                               .values(last_error=error[:2000], claimed_until=retry_at))

    async def depth(self, max_attempts: int) -> tuple[int, int]:
        """Unsent mail: (still to be tried, given up after max_attempts), for /metrics."""
        given_up = case((outbox.c.attempts >= max_attempts, 1), else_=0)
        async with self.db.read() as conn:
            row = (await conn.execute(select(func.count(), func.coalesce(func.sum(given_up), 0))
                                      .where(outbox.c.sent_at.is_(None)))).one()
        return row[0] - row[1], row[1]
