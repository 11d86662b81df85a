"""The hosts' summary of a webinar: registrations, attendance, peak concurrent viewers, questions and poll
results — as JSON for the page and as CSV for a spreadsheet.

Peak concurrent viewers come from samples every process writes (realtime/webinar_viewers.py): at
instants aligned to WEBINAR_VIEWERS_SAMPLE_S, each process counts the people who have the webinar
open there, and the summary adds up the processes' samples of each instant and takes the largest
sum. A person with the webinar open on two processes at once (two devices) counts twice.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from rooms import metrics
from rooms.emergency.fourw_csv import defuse
from rooms.errors import Forbidden
from rooms.models import Member
from rooms.webinars.models import Poll, Webinar
from rooms.webinars.sessions import WebinarSessions
from rooms.webinars.store import WebinarStores

CSV_COLUMNS = ("section", "item", "detail", "value")


@dataclass(frozen=True)
class Summary:
    webinar: Webinar
    registrations: int
    removed: int
    joined: int
    concurrency: tuple[tuple[datetime, int], ...]
    questions: dict[str, int]
    polls: tuple[Poll, ...]

    @property
    def peak(self) -> tuple[int, datetime | None]:
        """The most people who had the webinar open at once, and when (the first time it was reached)."""
        best: tuple[int, datetime | None] = (0, None)
        for at, viewers in self.concurrency:
            if viewers > best[0]:
                best = (viewers, at)
        return best

    @property
    def asked(self) -> int:
        return sum(self.questions.values())

    def public(self) -> dict:
        peak, peak_at = self.peak
        return {
            "webinar": self.webinar.public(),
            "registrations": self.registrations, "removed": self.removed,
            "attendance": {"joined": self.joined, "peak_concurrent_viewers": peak,
                           "peak_at": peak_at.isoformat() if peak_at else None,
                           "concurrency": [{"at": at.isoformat(), "viewers": n} for at, n in self.concurrency]},
            "questions": {"asked": self.asked, **self.questions},
            "polls": [{"id": p.id, "question": p.question, "state": p.state.value, "votes": sum(p.counts),
                       "results": [{"option": o, "votes": n} for o, n in zip(p.options, p.counts)]}
                      for p in self.polls],
        }

    def csv(self) -> str:
        """One long table (section, item, detail, value), so every part fits the same four columns."""
        peak, peak_at = self.peak
        rows: list[tuple[str, str, str, object]] = [
            ("webinar", "title", "", self.webinar.title),
            ("webinar", "starts_at", "", self.webinar.starts_at.isoformat()),
            ("webinar", "started_at", "", self.webinar.started_at.isoformat() if self.webinar.started_at else ""),
            ("webinar", "ended_at", "", self.webinar.ended_at.isoformat() if self.webinar.ended_at else ""),
            ("registrations", "registered", "", self.registrations),
            ("registrations", "removed", "", self.removed),
            ("attendance", "joined", "", self.joined),
            ("attendance", "peak_concurrent_viewers", peak_at.isoformat() if peak_at else "", peak),
            ("questions", "asked", "", self.asked),
            *(("questions", state, "", n) for state, n in self.questions.items()),
        ]
        for poll in self.polls:
            rows += [("poll", poll.question, option, n) for option, n in zip(poll.options, poll.counts)]
            rows.append(("poll_votes", poll.question, "", sum(poll.counts)))
        rows += [("viewers", at.isoformat(), "", n) for at, n in self.concurrency]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for section, item, detail, value in rows:
            writer.writerow([section, defuse(str(item)), defuse(str(detail)), defuse(str(value))])
        return out.getvalue()


class SummaryService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores) -> None:
        self.sessions = sessions
        self.stores = stores

    async def summary(self, member: Member, webinar_id: int) -> Summary:
        seat = await self.sessions.seat(member, webinar_id)
        if not seat.hosts:
            raise Forbidden("only hosts see the summary")
        counts = await self.stores.summary.counts(webinar_id)
        return Summary(webinar=seat.webinar, registrations=counts.registrations, removed=counts.removed,
                       joined=counts.joined, concurrency=tuple(await self.stores.summary.concurrency(webinar_id)),
                       questions=counts.questions, polls=tuple(await self.stores.polls.listing(webinar_id)))

    async def export(self, member: Member, webinar_id: int) -> str:
        text = (await self.summary(member, webinar_id)).csv()
        metrics.webinar_summaries_exported.inc()
        return text
