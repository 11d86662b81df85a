"""Queries for Web Push: members' subscriptions and the durable job table that any process drains.

A job is claimed with an expiry (claimed_until) by a compare-and-set on its attempt count, so one
process holds it at a time; one that dies before sending leaves a claim that expires, and the job is
sent later, once. `sent_at` is written right after the push service accepted the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.notifications.store.schema import push_jobs, push_subscriptions
from rooms.store.database import Database
from rooms.store.schema import utcnow

_insert = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True)
class Subscription:
    id: int
    member_id: int
    endpoint: str
    p256dh: str
    auth: str

    def info(self) -> dict:
        """pywebpush's subscription_info: the browser's PushSubscription JSON."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}


@dataclass(frozen=True)
class PushJob:
    id: int
    notification_id: int
    subscription: Subscription
    attempts: int


class PushStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # Subscriptions.

    async def subscribe(self, member_id: int, endpoint: str, p256dh: str, auth: str) -> int:
        """Adds the subscription, or hands an endpoint seen before to this member with its new keys."""
        now = utcnow()
        for _ in range(2):
            async with self.db.write() as conn:
                existing = await conn.scalar(select(push_subscriptions.c.id)
                                             .where(push_subscriptions.c.endpoint == endpoint))
                if existing is not None:
                    await conn.execute(update(push_subscriptions).where(push_subscriptions.c.id == existing)
                                       .values(member_id=member_id, p256dh=p256dh, auth=auth))
                    return existing
            try:
                async with self.db.write() as conn:
                    return await conn.scalar(_insert[self.db.dialect](push_subscriptions).values(
                        member_id=member_id, endpoint=endpoint, p256dh=p256dh, auth=auth, created_at=now)
                        .returning(push_subscriptions.c.id))
            except IntegrityError:
                continue
        raise RuntimeError("push subscription raced twice")

    async def unsubscribe(self, member_id: int, endpoint: str) -> bool:
        async with self.db.write() as conn:
            done = await conn.execute(delete(push_subscriptions).where(
                push_subscriptions.c.member_id == member_id, push_subscriptions.c.endpoint == endpoint))
            return done.rowcount > 0

    async def gone(self, subscription_id: int) -> None:
        """The push service said 404/410: the browser dropped the subscription."""
        async with self.db.write() as conn:
            await conn.execute(delete(push_subscriptions).where(push_subscriptions.c.id == subscription_id))

    async def subscriptions_of(self, member_id: int) -> list[Subscription]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(push_subscriptions)
                                       .where(push_subscriptions.c.member_id == member_id))).all()
        return [_subscription(row) for row in rows]

    @staticmethod
    async def subscription_ids_in(conn: AsyncConnection, member_ids: list[int]) -> dict[int, list[int]]:
        if not member_ids:
            return {}
        rows = (await conn.execute(select(push_subscriptions.c.id, push_subscriptions.c.member_id)
                                   .where(push_subscriptions.c.member_id.in_(member_ids)))).all()
        found: dict[int, list[int]] = {}
        for row in rows:
            found.setdefault(row.member_id, []).append(row.id)
        return found

    # Jobs.

    async def create_in(self, conn: AsyncConnection, rows: list[dict]) -> None:
        if rows:
            await conn.execute(_insert[self.db.dialect](push_jobs).values(rows)
                               .on_conflict_do_nothing(index_elements=["notification_id", "subscription_id"]))

    async def due(self, max_attempts: int, limit: int = 50) -> list[PushJob]:
        now = utcnow()
        stmt = (select(push_jobs.c.id.label("job_id"), push_jobs.c.notification_id, push_jobs.c.attempts,
                       push_subscriptions)
                .join(push_subscriptions, push_subscriptions.c.id == push_jobs.c.subscription_id)
                .where(push_jobs.c.sent_at.is_(None), push_jobs.c.due_at <= now, push_jobs.c.attempts < max_attempts,
                       or_(push_jobs.c.claimed_until.is_(None), push_jobs.c.claimed_until < now))
                .order_by(push_jobs.c.due_at).limit(limit))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [PushJob(id=row.job_id, notification_id=row.notification_id, attempts=row.attempts,
                        subscription=_subscription(row)) for row in rows]

    async def claim(self, job: PushJob, claim_s: float) -> bool:
        """Takes the job for claim_s seconds if nobody holds it and it is unchanged since it was read."""
        now = utcnow()
        async with self.db.write() as conn:
            done = await conn.execute(update(push_jobs).where(
                push_jobs.c.id == job.id, push_jobs.c.sent_at.is_(None), push_jobs.c.attempts == job.attempts,
                or_(push_jobs.c.claimed_until.is_(None), push_jobs.c.claimed_until < now))
                .values(claimed_until=now + timedelta(seconds=claim_s), attempts=job.attempts + 1))
            return done.rowcount == 1

    async def sent(self, job_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(push_jobs).where(push_jobs.c.id == job_id).values(sent_at=utcnow()))

    async def failed(self, job_id: int, error: str, retry_at: datetime) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(push_jobs).where(push_jobs.c.id == job_id)
                               .values(last_error=error[:2000], due_at=retry_at, claimed_until=None))

    async def queue(self) -> tuple[int, float]:
        """(jobs waiting, age in seconds of the oldest): the queue metrics."""
        async with self.db.read() as conn:
            row = (await conn.execute(select(func.count(), func.min(push_jobs.c.created_at))
                                      .where(push_jobs.c.sent_at.is_(None)))).one()
        oldest = row[1]
        return int(row[0]), (utcnow() - oldest).total_seconds() if oldest else 0.0


def _subscription(row) -> Subscription:
    return Subscription(id=row.id, member_id=row.member_id, endpoint=row.endpoint, p256dh=row.p256dh, auth=row.auth)
