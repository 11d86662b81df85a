"""The metrics that need a query (recording jobs by state, the e-mail outbox, open reports), read by a background task.

A scrape never waits on the database: it reads the last values set here, and
`convene_stored_gauges_refreshed_timestamp_seconds` says how fresh they are. Every process reads the
same database, so every process reports the same deployment-wide values (aggregate with max, not sum).
"""

from __future__ import annotations

import asyncio
import logging
import time

from recordings.archive.models import JobState
from recordings.archive.store.jobs import JobStore
from rooms import metrics
from rooms.mail.store import OutboxStore
from rooms.errors import StoreUnavailable
from rooms.moderation.store.reports import ReportStore

log = logging.getLogger(__name__)


class StoredGauges:
    def __init__(self, jobs: JobStore, outbox: OutboxStore, outbox_max_attempts: int, interval_s: float,
                 reports: ReportStore) -> None:
        self.jobs = jobs
        self.outbox = outbox
        self.reports = reports
        self.outbox_max_attempts = outbox_max_attempts
        self.interval_s = interval_s
        self._jobs_by_state = {state: metrics.recording_jobs.labels(state.value) for state in JobState}

    async def refresh(self) -> None:
        for state, n in (await self.jobs.count_by_state()).items():
            self._jobs_by_state[state].set(n)
        pending, abandoned = await self.outbox.depth(self.outbox_max_attempts)
        metrics.email_outbox_by_state["pending"].set(pending)
        metrics.email_outbox_by_state["abandoned"].set(abandoned)
        metrics.reports_open.set(await self.reports.count_open())
        metrics.stored_gauges_refreshed.set(time.time())

    async def run_forever(self) -> None:
        while True:
            try:
                await self.refresh()
            except StoreUnavailable:
                pass   # counted as a store error already; the gauges keep their last values
            except Exception:
                log.exception("refreshing the stored gauges failed")
            await asyncio.sleep(self.interval_s)
