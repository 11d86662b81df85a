"""The job table: enqueued with its recording, claimed with a lease so one worker in any process runs it,
taken over when a worker's lease runs out, completed once (a compare-and-set on the lease)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Row

from recordings.archive.models import Job, JobState
from recordings.archive.schema import recording_jobs, recordings
from rooms.store.database import Database
from rooms.store.schema import utcnow


def _job(row: Row) -> Job:
    return Job(id=row.id, recording_id=row.recording_id, state=JobState(row.state), progress=row.progress,
               error=row.error, attempts=row.attempts, lease_owner=row.lease_owner)


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def for_recording(self, recording_id: int) -> Job | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(recording_jobs)
                                      .where(recording_jobs.c.recording_id == recording_id))).first()
        return _job(row) if row else None

    async def count_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state (every state present, 0 when none): for /metrics."""
        async with self.db.read() as conn:
            rows = (await conn.execute(select(recording_jobs.c.state, func.count())
                                       .group_by(recording_jobs.c.state))).all()
        counts = {state: 0 for state in JobState}
        for state, n in rows:
            counts[JobState(state)] = n
        return counts

    async def claim(self, owner: str, lease_s: float, max_attempts: int) -> Job | None:
        """The oldest job nobody holds (queued, or processing with a lapsed lease), now leased to owner.
        A job whose workers died max_attempts times is failed instead of being run again."""
        now = utcnow()
        lapsed = and_(recording_jobs.c.state == JobState.PROCESSING.value, recording_jobs.c.lease_expires < now)
        free = or_(recording_jobs.c.state == JobState.QUEUED.value, lapsed)
        async with self.db.read() as conn:
            rows = (await conn.execute(select(recording_jobs).where(free)
                                       .order_by(recording_jobs.c.id).limit(10))).all()
        for row in rows:
            if row.state == JobState.PROCESSING.value and row.attempts >= max_attempts:
                await self._finish(row.id, row.lease_owner, JobState.FAILED,
                                   error=f"the worker stopped {row.attempts} times; retry to try again",
                                   expect_lapsed=True)
                continue
            async with self.db.write() as conn:
                done = await conn.execute(update(recording_jobs).where(
                    recording_jobs.c.id == row.id, recording_jobs.c.attempts == row.attempts, free)
                    .values(state=JobState.PROCESSING.value, lease_owner=owner,
                            lease_expires=now + timedelta(seconds=lease_s), attempts=row.attempts + 1, error=None))
                if done.rowcount != 1:
                    continue   # another process claimed it first
                await conn.execute(update(recordings).where(recordings.c.id == row.recording_id)
                                   .values(state=JobState.PROCESSING.value))
                claimed = (await conn.execute(select(recording_jobs).where(recording_jobs.c.id == row.id))).one()
            return _job(claimed)
        return None

    async def renew(self, job_id: int, owner: str, lease_s: float, progress: float) -> bool:
        """Extends the lease and stores progress; False when the job is no longer this owner's."""
        async with self.db.write() as conn:
            done = await conn.execute(update(recording_jobs).where(
                recording_jobs.c.id == job_id, recording_jobs.c.lease_owner == owner,
                recording_jobs.c.state == JobState.PROCESSING.value)
                .values(lease_expires=utcnow() + timedelta(seconds=lease_s), progress=progress))
        return done.rowcount == 1

    async def complete(self, job_id: int, owner: str, duration_s: float | None, has_video: bool) -> bool:
        """Marks the job and its recording ready, if this owner still holds it (so it completes once)."""
        return await self._finish(job_id, owner, JobState.READY, duration_s=duration_s, has_video=has_video)

    async def fail(self, job_id: int, owner: str, error: str) -> bool:
        return await self._finish(job_id, owner, JobState.FAILED, error=error)

    async def retry(self, recording_id: int) -> bool:
        """A failed job queued again (a host asked); False when it was not failed."""
        async with self.db.write() as conn:
            done = await conn.execute(update(recording_jobs).where(
                recording_jobs.c.recording_id == recording_id, recording_jobs.c.state == JobState.FAILED.value)
                .values(state=JobState.QUEUED.value, progress=0.0, error=None, attempts=0, lease_owner=None,
                        lease_expires=None, finished_at=None))
            if done.rowcount != 1:
                return False
            await conn.execute(update(recordings).where(recordings.c.id == recording_id)
                               .values(state=JobState.QUEUED.value))
        return True

    async def _finish(self, job_id: int, owner: str | None, state: JobState, *, error: str | None = None,
                      duration_s: float | None = None, has_video: bool = False, expect_lapsed: bool = False) -> bool:
        now = utcnow()
        held = [recording_jobs.c.id == job_id, recording_jobs.c.state == JobState.PROCESSING.value]
        held.append(recording_jobs.c.lease_owner.is_(None) if owner is None else recording_jobs.c.lease_owner == owner)
        if expect_lapsed:
            held.append(recording_jobs.c.lease_expires < now)
        async with self.db.write() as conn:
            done = await conn.execute(update(recording_jobs).where(*held).values(
                state=state.value, error=error[:2000] if error else None, finished_at=now, lease_owner=None,
                lease_expires=None, progress=1.0 if state is JobState.READY else recording_jobs.c.progress))
            if done.rowcount != 1:
                return False
            recording_id = await conn.scalar(select(recording_jobs.c.recording_id)
                                             .where(recording_jobs.c.id == job_id))
            values: dict = {"state": state.value}
            if state is JobState.READY:
                values.update(duration_s=duration_s, has_video=has_video)
            await conn.execute(update(recordings).where(recordings.c.id == recording_id).values(**values))
        return True

    async def release(self, job_id: int, owner: str) -> bool:
        """Hands a job back to the queue (this process is shutting down): another takes it at once."""
        async with self.db.write() as conn:
            done = await conn.execute(update(recording_jobs).where(
                recording_jobs.c.id == job_id, recording_jobs.c.lease_owner == owner,
                recording_jobs.c.state == JobState.PROCESSING.value)
                .values(state=JobState.QUEUED.value, lease_owner=None, lease_expires=None))
            if done.rowcount != 1:
                return False
            await conn.execute(update(recordings).where(recordings.c.id == select(recording_jobs.c.recording_id)
                                                        .where(recording_jobs.c.id == job_id).scalar_subquery())
                               .values(state=JobState.QUEUED.value))
        return True
