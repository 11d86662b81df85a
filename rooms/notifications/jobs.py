"""A background job that runs a pass when poked (right after the work was committed) or every interval.

Passes that find nothing space out: each empty pass doubles the wait, up to `idle_max_s`, and a
poke or a pass that did some work brings the wait back to `interval_s`. Every process runs every
job, so on a quiet service most passes find nothing; each is a few reads, and together they were
half of an idle process's CPU. Work this process queues pokes its job at once; work that comes due
by the clock (a retry, a delayed e-mail) or that another process queued without a poke here is
found at most `idle_max_s` late.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from rooms.errors import StoreUnavailable

log = logging.getLogger(__name__)


class Pokeable:
    def __init__(self, interval_s: float, idle_max_s: float | None = None) -> None:
        self.interval_s = interval_s
        self.idle_max_s = max(interval_s, idle_max_s if idle_max_s is not None else interval_s)
        self.wait_s = interval_s
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def every_pass(self, one_pass: Callable[[], Awaitable[object]], name: str) -> None:
        """Runs `one_pass` forever; the work is claimed in the database, so a failed pass (or a dead
        process) leaves it for the next pass or another process. `one_pass` answers how much it did
        (anything false: nothing, so the next pass may wait longer)."""
        while True:
            try:
                did = await one_pass()
            except StoreUnavailable:
                did = None
            except Exception:
                did = None
                log.exception("%s pass failed", name)
            self.wait_s = self.interval_s if did else min(self.wait_s * 2, self.idle_max_s)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.wait_s)
            except asyncio.TimeoutError:
                pass
            else:
                self.wait_s = self.interval_s
            self._wake.clear()
