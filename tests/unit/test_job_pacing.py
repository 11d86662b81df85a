"""Background jobs' pacing (rooms/notifications/jobs.py): passes that find nothing space out up to
the idle maximum; a poke, or a pass that did some work, brings back the short interval."""

from __future__ import annotations

import asyncio
import contextlib
import time

from rooms.notifications.jobs import Pokeable

INTERVAL_S, IDLE_MAX_S = 0.05, 0.4


class Job:
    """A pass that records when it ran and answers the amounts it is told to, then 0."""

    def __init__(self, amounts: list[int] | None = None) -> None:
        self.ran: list[float] = []
        self.amounts = list(amounts or [])

    async def one_pass(self) -> int:
        self.ran.append(time.monotonic())
        return self.amounts.pop(0) if self.amounts else 0

    def gaps(self) -> list[float]:
        return [b - a for a, b in zip(self.ran, self.ran[1:])]


@contextlib.asynccontextmanager
async def running(job: Job, pacing: Pokeable):
    task = asyncio.create_task(pacing.every_pass(job.one_pass, "test job"))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_empty_passes_double_the_wait_up_to_the_idle_maximum():
    job, pacing = Job(), Pokeable(INTERVAL_S, IDLE_MAX_S)
    async with running(job, pacing):
        await asyncio.sleep(1.6)
    gaps = job.gaps()
    # 0.1, 0.2, 0.4, 0.4, ...: about six passes where a fixed interval would have run 32.
    assert 4 <= len(job.ran) <= 8, gaps
    assert 0.08 <= gaps[0] <= 0.25 and 0.17 <= gaps[1] <= 0.35, gaps
    assert all(0.35 <= gap <= 0.6 for gap in gaps[2:]), gaps


async def test_a_poke_runs_a_pass_at_once_and_brings_back_the_short_interval():
    job, pacing = Job(), Pokeable(INTERVAL_S, IDLE_MAX_S)
    async with running(job, pacing):
        await asyncio.sleep(1.2)            # passes at 0, 0.1, 0.3, 0.7, 1.1: the next is due at 1.5
        before = len(job.ran)
        poked_at = time.monotonic()
        pacing.poke()
        await asyncio.sleep(0.08)
        assert len(job.ran) == before + 1 and job.ran[-1] - poked_at < 0.08
        await asyncio.sleep(0.12)           # the next empty pass comes 0.1 s after, not at 1.5
        assert len(job.ran) == before + 2, job.gaps()


async def test_a_pass_that_did_work_is_followed_after_the_interval():
    job, pacing = Job(amounts=[0, 0, 0, 3, 2]), Pokeable(INTERVAL_S, IDLE_MAX_S)
    async with running(job, pacing):
        await asyncio.sleep(1.0)
    gaps = job.gaps()
    # After the third empty pass the wait was 0.4 s; the two busy passes are each followed at 0.05 s.
    assert gaps[2] >= 0.35, gaps
    assert gaps[3] <= 0.1 and gaps[4] <= 0.1, gaps


def test_without_an_idle_maximum_the_interval_stays():
    assert Pokeable(1.0).idle_max_s == 1.0
    assert Pokeable(5.0, 1.0).idle_max_s == 5.0     # never shorter than the interval
