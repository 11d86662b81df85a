"""Queries for the hosts' summary: concurrency samples from every process, and the counts of a webinar."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, insert, select, update

from rooms.store.database import Database
from rooms.webinars.store.schema import (
    webinar_attendance,
    webinar_questions,
    webinar_registrations,
    webinar_removals,
    webinar_viewer_samples,
    webinars,
)


@dataclass(frozen=True)
class Counts:
    registrations: int          # registered now (hosts and panelists included)
    removed: int
    joined: int                 # members who opened the live page (or the lobby) at least once
    questions: dict[str, int]   # by state: open, answered, dismissed


class SummaryStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def live_rooms(self) -> list[tuple[int, int]]:
        """(webinar, room) of every live webinar: what the viewer sampler looks at."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinars.c.id, webinars.c.room_id)
                                       .where(webinars.c.state == "live"))).all()
        return [(row.id, row.room_id) for row in rows]

    async def record_viewers(self, samples: list[tuple[int, int]], at: datetime, process: str) -> None:
        """This process's viewers of each webinar at one sampling instant; a second sample of the same
        instant (the loop ran late and early) replaces the first."""
        if not samples:
            return
        async with self.db.write() as conn:
            for webinar_id, viewers in samples:
                key = (webinar_viewer_samples.c.webinar_id == webinar_id, webinar_viewer_samples.c.at == at,
                       webinar_viewer_samples.c.process == process)
                changed = await conn.execute(update(webinar_viewer_samples).where(*key).values(viewers=viewers))
                if changed.rowcount == 0:
                    await conn.execute(insert(webinar_viewer_samples).values(
                        webinar_id=webinar_id, at=at, process=process, viewers=viewers))

    async def concurrency(self, webinar_id: int) -> list[tuple[datetime, int]]:
        """Viewers over time: each sampling instant with the sum of every process's sample."""
        stmt = (select(webinar_viewer_samples.c.at, func.sum(webinar_viewer_samples.c.viewers).label("viewers"))
                .where(webinar_viewer_samples.c.webinar_id == webinar_id)
                .group_by(webinar_viewer_samples.c.at).order_by(webinar_viewer_samples.c.at))
        async with self.db.read() as conn:
            return [(row.at, int(row.viewers)) for row in (await conn.execute(stmt)).all()]

    async def counts(self, webinar_id: int) -> Counts:
        async with self.db.read() as conn:
            registrations = await conn.scalar(select(func.count()).select_from(webinar_registrations).where(
                webinar_registrations.c.webinar_id == webinar_id))
            removed = await conn.scalar(select(func.count()).select_from(webinar_removals).where(
                webinar_removals.c.webinar_id == webinar_id))
            joined = await conn.scalar(select(func.count(distinct(webinar_attendance.c.member_id))).where(
                webinar_attendance.c.webinar_id == webinar_id))
            rows = (await conn.execute(select(webinar_questions.c.state, func.count().label("n"))
                                       .where(webinar_questions.c.webinar_id == webinar_id)
                                       .group_by(webinar_questions.c.state))).all()
        questions = {"open": 0, "answered": 0, "dismissed": 0} | {row.state: int(row.n) for row in rows}
        return Counts(registrations=int(registrations or 0), removed=int(removed or 0), joined=int(joined or 0),
                      questions=questions)
