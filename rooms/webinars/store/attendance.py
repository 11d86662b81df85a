"""Queries for attendance: one row per visit to the live page, and each member's total time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update

from rooms.store.accounts import _member_columns, member_from_row
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.webinars.models import Attendance
from rooms.webinars.store.schema import webinar_attendance


class AttendanceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def join(self, webinar_id: int, member_id: int) -> tuple[datetime, bool]:
        """Opens a visit; a member already present (a second tab, a reconnect) keeps their open one.
        Answers when the visit began and whether it began now."""
        async with self.db.write() as conn:
            open_since = await conn.scalar(select(webinar_attendance.c.joined_at).where(
                webinar_attendance.c.webinar_id == webinar_id, webinar_attendance.c.member_id == member_id,
                webinar_attendance.c.left_at.is_(None)))
            if open_since is not None:
                return open_since, False
            now = utcnow()
            await conn.execute(insert(webinar_attendance).values(webinar_id=webinar_id, member_id=member_id,
                                                                 joined_at=now))
            return now, True

    async def leave(self, webinar_id: int, member_id: int) -> bool:
        async with self.db.write() as conn:
            result = await conn.execute(update(webinar_attendance).where(
                webinar_attendance.c.webinar_id == webinar_id, webinar_attendance.c.member_id == member_id,
                webinar_attendance.c.left_at.is_(None)).values(left_at=utcnow()))
            return result.rowcount > 0

    async def close_all(self, webinar_id: int, at: datetime) -> None:
        """When the session ends, everyone still there leaves with it."""
        async with self.db.write() as conn:
            await conn.execute(update(webinar_attendance).where(
                webinar_attendance.c.webinar_id == webinar_id, webinar_attendance.c.left_at.is_(None))
                .values(left_at=at))

    async def report(self, webinar_id: int) -> list[Attendance]:
        stmt = (select(*_member_columns, webinar_attendance.c.joined_at, webinar_attendance.c.left_at)
                .join(webinar_attendance, webinar_attendance.c.member_id == members.c.id)
                .where(webinar_attendance.c.webinar_id == webinar_id)
                .order_by(webinar_attendance.c.joined_at))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        now = utcnow()
        totals: dict[int, Attendance] = {}
        for row in rows:
            seconds = ((row.left_at or now) - row.joined_at).total_seconds()
            seen = totals.get(row.id)
            if seen is None:
                totals[row.id] = Attendance(member=member_from_row(row), visits=1, seconds=seconds,
                                            first_joined_at=row.joined_at, present=row.left_at is None)
            else:
                totals[row.id] = Attendance(member=seen.member, visits=seen.visits + 1,
                                            seconds=seen.seconds + seconds, first_joined_at=seen.first_joined_at,
                                            present=seen.present or row.left_at is None)
        return list(totals.values())
