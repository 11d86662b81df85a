"""Queries for alerts and their acknowledgements, and the reminder job's claims.

An alert and each acknowledgement are events in the room's sequence; these tables
hold who must still acknowledge and when a reminder is due. The reminder job claims
an alert with a compare-and-set on reminders_sent, so among many processes exactly one
sends each reminder, and the e-mails are queued in the same transaction as the claim.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Callable

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from rooms.emergency.models import Alert, AlertAck
from rooms.emergency.store.schema import alert_acks, alerts, emergencies
from rooms.mail.schema import notification_addresses, outbox
from rooms.models import Event, EventKind, Member
from rooms.store.accounts import _member_columns, member_from_row
from rooms.store.database import Database
from rooms.store.schema import members, memberships, utcnow
from rooms.store.sequence import Sequence


def _alert(row: Row) -> Alert:
    return Alert(room_id=row.room_id, seq=row.seq, author_id=row.author_id, author_name=row.display_name or "",
                 body=row.body, created_at=row.created_at, reminders_sent=row.reminders_sent,
                 renotify_s=row.renotify_s)


def _alerts():
    return (select(alerts, members.c.display_name)
            .select_from(alerts.outerjoin(members, members.c.id == alerts.c.author_id)))


def ack_client_id(alert_seq: int) -> str:
    # One acknowledgement per member per alert, enforced by the sequence's client-id uniqueness too.
    return f"ack:{alert_seq}"


class AlertStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def post(self, room_id: int, author_id: int, client_id: str, body: str,
                   renotify_s: float, renotify_max: int) -> tuple[Event, bool]:
        """Appends the alert once per client id. Answers (event, created)."""
        existing = await self.sequence.store.by_client_id(room_id, author_id, client_id)
        if existing is not None:
            return existing, False
        try:
            async with self.db.write() as conn:
                now = utcnow()
                seq = await self.sequence.append(conn, room_id, EventKind.ALERT, author_id,
                                                 {"body": body, "priority": "urgent"}, client_id, now)
                await conn.execute(insert(alerts).values(
                    room_id=room_id, seq=seq, author_id=author_id, body=body, created_at=now,
                    remind_at=now + timedelta(seconds=renotify_s), reminders_sent=0,
                    renotify_s=renotify_s, renotify_max=renotify_max))
                return await self.sequence.event(conn, room_id, seq), True
        except IntegrityError:
            existing = await self.sequence.store.by_client_id(room_id, author_id, client_id)
            if existing is None:
                raise
            return existing, False

    async def get(self, room_id: int, seq: int) -> Alert | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_alerts().where(alerts.c.room_id == room_id, alerts.c.seq == seq))).first()
        return _alert(row) if row else None

    async def recent(self, room_id: int, limit: int) -> list[tuple[Alert, int]]:
        """The newest alerts with their number of acknowledgements, newest first."""
        count = (select(func.count()).where(alert_acks.c.room_id == alerts.c.room_id,
                                            alert_acks.c.alert_seq == alerts.c.seq)
                 .correlate(alerts).scalar_subquery())
        stmt = (_alerts().add_columns(count.label("acks")).where(alerts.c.room_id == room_id)
                .order_by(alerts.c.seq.desc()).limit(limit))
        async with self.db.read() as conn:
            return [(_alert(row), row.acks) for row in (await conn.execute(stmt)).all()]

    async def pending_for(self, room_id: int, member_id: int) -> list[Alert]:
        """Alerts the member has not acknowledged (their own excepted), oldest first."""
        acked = select(alert_acks.c.alert_seq).where(alert_acks.c.room_id == room_id,
                                                     alert_acks.c.member_id == member_id)
        stmt = (_alerts().where(alerts.c.room_id == room_id, alerts.c.author_id.is_distinct_from(member_id),
                                alerts.c.seq.not_in(acked))
                .order_by(alerts.c.seq))
        async with self.db.read() as conn:
            return [_alert(row) for row in (await conn.execute(stmt)).all()]

    async def awaiting(self, member_id: int) -> int | None:
        """How many alerts, over every emergency room the member belongs to, wait for their
        acknowledgement (their own excepted); None when they belong to no emergency room. One query:
        member pages show it in the top navigation."""
        acked = (select(alert_acks.c.alert_seq).where(alert_acks.c.room_id == alerts.c.room_id,
                                                      alert_acks.c.alert_seq == alerts.c.seq,
                                                      alert_acks.c.member_id == member_id).exists())
        waiting = (select(func.count()).select_from(alerts)
                   .where(alerts.c.room_id == memberships.c.room_id, alerts.c.author_id.is_distinct_from(member_id),
                          ~acked).correlate(memberships).scalar_subquery())
        stmt = (select(func.count(), func.coalesce(func.sum(waiting), 0))
                .select_from(memberships.join(emergencies, emergencies.c.room_id == memberships.c.room_id))
                .where(memberships.c.member_id == member_id))
        async with self.db.read() as conn:
            rooms, count = (await conn.execute(stmt)).one()
        return int(count) if rooms else None

    async def ack(self, room_id: int, alert_seq: int, member_id: int) -> tuple[Event, bool]:
        """Records the member's acknowledgement once. Answers (the acknowledgement's event, created)."""
        client_id = ack_client_id(alert_seq)
        existing = await self.sequence.store.by_client_id(room_id, member_id, client_id)
        if existing is not None:
            return existing, False
        try:
            async with self.db.write() as conn:
                now = utcnow()
                seq = await self.sequence.append(conn, room_id, EventKind.ALERT_ACK, member_id,
                                                 {"alert": alert_seq}, client_id, now)
                await conn.execute(insert(alert_acks).values(room_id=room_id, alert_seq=alert_seq,
                                                             member_id=member_id, seq=seq, acked_at=now))
                return await self.sequence.event(conn, room_id, seq), True
        except IntegrityError:
            existing = await self.sequence.store.by_client_id(room_id, member_id, client_id)
            if existing is None:
                raise
            return existing, False

    async def acks(self, room_id: int, alert_seq: int) -> list[AlertAck]:
        stmt = (select(alert_acks, members.c.display_name, members.c.organisation)
                .join(members, members.c.id == alert_acks.c.member_id)
                .where(alert_acks.c.room_id == room_id, alert_acks.c.alert_seq == alert_seq)
                .order_by(alert_acks.c.seq))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AlertAck(member_id=r.member_id, display_name=r.display_name, organisation=r.organisation,
                         seq=r.seq, acked_at=r.acked_at) for r in rows]

    async def unacknowledged(self, room_id: int, alert: Alert) -> list[Member]:
        """Members who must acknowledge and have not: everyone in the room but the author."""
        async with self.db.read() as conn:
            return await self._unacknowledged(conn, room_id, alert.seq, alert.author_id)

    @staticmethod
    async def _unacknowledged(conn, room_id: int, alert_seq: int, author_id: int | None) -> list[Member]:
        acked = select(alert_acks.c.member_id).where(alert_acks.c.room_id == room_id,
                                                     alert_acks.c.alert_seq == alert_seq)
        stmt = (select(*_member_columns).join(memberships, memberships.c.member_id == members.c.id)
                .where(memberships.c.room_id == room_id, members.c.id.is_distinct_from(author_id),
                       members.c.id.not_in(acked))
                .order_by(func.lower(members.c.display_name), members.c.id))
        return [member_from_row(row) for row in (await conn.execute(stmt)).all()]

    # The reminder job.

    async def due(self, now: datetime, limit: int = 100) -> list[Alert]:
        """Alerts of active emergencies whose reminder is due."""
        stmt = (_alerts().join(emergencies, emergencies.c.room_id == alerts.c.room_id)
                .where(alerts.c.remind_at <= now, alerts.c.reminders_sent < alerts.c.renotify_max,
                       emergencies.c.status == "active")
                .order_by(alerts.c.remind_at).limit(limit))
        async with self.db.read() as conn:
            return [_alert(row) for row in (await conn.execute(stmt)).all()]

    async def claim_reminder(self, alert: Alert, subject: str,
                             body_for: Callable[[Member], str]) -> list[Member] | None:
        """Claims this round of reminders for the alert and queues their e-mails, in one transaction.
        Answers who is reminded, or None when another process claimed it first."""
        async with self.db.write() as conn:
            claimed = await conn.execute(
                update(alerts).where(alerts.c.room_id == alert.room_id, alerts.c.seq == alert.seq,
                                     alerts.c.reminders_sent == alert.reminders_sent)
                .values(reminders_sent=alert.reminders_sent + 1,
                        remind_at=utcnow() + timedelta(seconds=alert.renotify_s)))
            if claimed.rowcount != 1:
                return None
            pending = await self._unacknowledged(conn, alert.room_id, alert.seq, alert.author_id)
            if not pending:
                await conn.execute(update(alerts).where(alerts.c.room_id == alert.room_id,
                                                        alerts.c.seq == alert.seq).values(remind_at=None))
                return []
            addresses = dict((await conn.execute(
                select(notification_addresses.c.member_id, notification_addresses.c.email)
                .where(notification_addresses.c.member_id.in_([m.id for m in pending]),
                       notification_addresses.c.verified_at.is_not(None)))).all())
            now = utcnow()
            rows = [dict(member_id=m.id, to_address=addresses[m.id], subject=subject, body=body_for(m),
                         kind="alert.reminder", created_at=now, attempts=0)
                    for m in pending if m.id in addresses]
            if rows:
                await conn.execute(insert(outbox), rows)
            return pending

    async def settle_if_done(self, room_id: int, alert_seq: int, author_id: int | None) -> None:
        """No more reminders once everyone has acknowledged."""
        async with self.db.write() as conn:
            if not await self._unacknowledged(conn, room_id, alert_seq, author_id):
                await conn.execute(update(alerts).where(and_(alerts.c.room_id == room_id, alerts.c.seq == alert_seq))
                                   .values(remind_at=None))

