"""Queries for reports of messages: filing one, the queue of a room or of every room, and what was done."""

from __future__ import annotations

from sqlalchemy import Select, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from rooms.moderation.models import Report, ReportStatus, Resolution
from rooms.moderation.store.schema import reports
from rooms.store.database import Database
from rooms.store.schema import members, rooms, utcnow

_reporter = aliased(members)
_handler = aliased(members)


def _select() -> Select:
    return (select(reports, rooms.c.name.label("room_name"), _reporter.c.display_name.label("reporter_name"),
                   _handler.c.display_name.label("handler_name"))
            .select_from(reports.join(rooms, rooms.c.id == reports.c.room_id)
                         .outerjoin(_reporter, _reporter.c.id == reports.c.reporter_id)
                         .outerjoin(_handler, _handler.c.id == reports.c.handled_by)))


def _report(row: Row) -> Report:
    return Report(id=row.id, room_id=row.room_id, room_name=row.room_name, seq=row.seq,
                  reporter_id=row.reporter_id, reporter_name=row.reporter_name or "", reason=row.reason,
                  sender_id=row.sender_id, sender_name=row.sender_name, body=row.body,
                  status=ReportStatus(row.status), action=Resolution(row.action) if row.action else None,
                  handled_by=row.handled_by, handled_by_name=row.handler_name or "", handled_at=row.handled_at,
                  created_at=row.created_at)


class ReportStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def file(self, room_id: int, seq: int, reporter_id: int, reason: str, sender_id: int | None,
                   sender_name: str, body: str) -> tuple[Report, bool]:
        """Files the report once per member and message. Answers (report, created)."""
        try:
            async with self.db.write() as conn:
                report_id = (await conn.execute(insert(reports).values(
                    room_id=room_id, seq=seq, reporter_id=reporter_id, reason=reason, sender_id=sender_id,
                    sender_name=sender_name[:80], body=body, status=ReportStatus.OPEN.value,
                    created_at=utcnow()).returning(reports.c.id))).scalar_one()
            created = True
        except IntegrityError:
            async with self.db.read() as conn:
                report_id = await conn.scalar(select(reports.c.id).where(
                    reports.c.room_id == room_id, reports.c.seq == seq, reports.c.reporter_id == reporter_id))
            created = False
        report = await self.get(report_id)
        assert report is not None
        return report, created

    async def get(self, report_id: int) -> Report | None:
        async with self.db.read() as conn:
            row = (await conn.execute(_select().where(reports.c.id == report_id))).first()
        return _report(row) if row else None

    async def of_room(self, room_id: int, status: ReportStatus | None, limit: int) -> list[Report]:
        """Open reports oldest first (the queue's order); handled ones newest first (the record)."""
        stmt = _select().where(reports.c.room_id == room_id)
        return await self._list(stmt, status, limit)

    async def everywhere(self, status: ReportStatus | None, limit: int) -> list[Report]:
        return await self._list(_select(), status, limit)

    async def _list(self, stmt: Select, status: ReportStatus | None, limit: int) -> list[Report]:
        if status is ReportStatus.OPEN:
            stmt = stmt.where(reports.c.status == status.value).order_by(reports.c.created_at, reports.c.id)
        else:
            if status is not None:
                stmt = stmt.where(reports.c.status == status.value)
            stmt = stmt.order_by(reports.c.created_at.desc(), reports.c.id.desc())
        async with self.db.read() as conn:
            return [_report(row) for row in (await conn.execute(stmt.limit(limit))).all()]

    async def handle(self, report: Report, resolution: Resolution, actor_id: int) -> int:
        """Records what was done. Dismissing closes this report; acting on the message (delete, mute,
        ban) closes every open report of it. Answers how many reports were closed."""
        status = ReportStatus.DISMISSED if resolution is Resolution.DISMISS else ReportStatus.ACTIONED
        which = (reports.c.id == report.id if resolution is Resolution.DISMISS
                 else (reports.c.room_id == report.room_id) & (reports.c.seq == report.seq))
        async with self.db.write() as conn:
            result = await conn.execute(update(reports).where(which, reports.c.status == ReportStatus.OPEN.value)
                                        .values(status=status.value, action=resolution.value,
                                                handled_by=actor_id, handled_at=utcnow()))
            return result.rowcount

    async def count_open(self) -> int:
        async with self.db.read() as conn:
            return await conn.scalar(select(func.count()).select_from(reports).where(
                reports.c.status == ReportStatus.OPEN.value)) or 0
