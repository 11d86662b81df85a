"""Queries for notification e-mails: the per-member batch queue, and the log that makes webinar e-mails once each.

A batch is taken in one transaction: the member's pending rows change state with a compare-and-set
(every row still pending, or nothing happens), and the e-mail goes into the outbox in that same
transaction. Two processes may try at once; one commits the batch, the other changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Awaitable, Callable

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.mail.store import OutboxStore
from rooms.notifications.models import Notification
from rooms.notifications.store.inbox import InboxStore
from rooms.notifications.store.schema import email_queue, webinar_mail_log
from rooms.store.database import Database
from rooms.store.schema import utcnow

# Given the unread notifications of a batch, the outbox rows to queue (none: send nothing).
Compose = Callable[[list[Notification]], Awaitable[list[dict]]]


class _Lost(Exception):
    """Another process took (part of) this batch: roll back."""


class EmailQueueStore:
    def __init__(self, db: Database, inbox: InboxStore) -> None:
        self.db = db
        self.inbox = inbox

    @staticmethod
    async def create_in(conn: AsyncConnection, rows: list[dict]) -> None:
        if rows:
            await conn.execute(insert(email_queue), rows)

    async def members_due(self, now: datetime, limit: int = 100) -> list[int]:
        stmt = (select(email_queue.c.member_id).where(email_queue.c.state == "pending", email_queue.c.due_at <= now)
                .group_by(email_queue.c.member_id).order_by(func.min(email_queue.c.due_at)).limit(limit))
        async with self.db.read() as conn:
            return [row.member_id for row in (await conn.execute(stmt)).all()]

    async def take_batch(self, member_id: int, horizon: datetime, compose: Compose) -> tuple[int, int] | None:
        """Sends the member's pending notifications due by `horizon` as one e-mail, leaving out what they
        have read. Answers (sent in the e-mail, skipped as read), or None when another process took it."""
        try:
            async with self.db.write() as conn:
                ids = [row.notification_id for row in (await conn.execute(
                    select(email_queue.c.notification_id).where(email_queue.c.member_id == member_id,
                                                                email_queue.c.state == "pending",
                                                                email_queue.c.due_at <= horizon))).all()]
                if not ids:
                    return 0, 0
                found = await self.inbox.get_many(ids, conn)
                unread = [n for n in found if not n.read]
                read_ids = [n.id for n in found if n.read]
                for state, chosen in (("sent", [n.id for n in unread]), ("skipped", read_ids)):
                    if not chosen:
                        continue
                    done = await conn.execute(update(email_queue).where(
                        email_queue.c.notification_id.in_(chosen), email_queue.c.state == "pending")
                        .values(state=state))
                    if done.rowcount != len(chosen):
                        raise _Lost
                if unread:
                    await OutboxStore.enqueue_in(conn, await compose(unread))
                return len(unread), len(read_ids)
        except (_Lost, IntegrityError):
            return None

    async def pending(self) -> int:
        async with self.db.read() as conn:
            return await conn.scalar(select(func.count()).select_from(email_queue)
                                     .where(email_queue.c.state == "pending")) or 0

    async def drop_for(self, member_id: int) -> None:
        """Unsubscribed from everything: nothing pending goes out."""
        async with self.db.write() as conn:
            await conn.execute(update(email_queue).where(email_queue.c.member_id == member_id,
                                                         email_queue.c.state == "pending").values(state="skipped"))


class WebinarMailLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def once(self, webinar_id: int, member_id: int, kind: str, rows: list[dict],
                   also: Callable[[AsyncConnection], Awaitable[None]] | None = None) -> bool:
        """Queues `rows` in the outbox unless this e-mail was queued before (by any process). Answers
        whether this call queued it."""
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(webinar_mail_log).values(webinar_id=webinar_id, member_id=member_id,
                                                                   kind=kind, created_at=utcnow()))
                await OutboxStore.enqueue_in(conn, rows)
                if also is not None:
                    await also(conn)
            return True
        except IntegrityError:
            return False
