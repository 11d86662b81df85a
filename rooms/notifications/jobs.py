"""A background job that runs a pass when poked (right after the work was committed) or every interval."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

from rooms.errors import StoreUnavailable

log = logging.getLogger(__name__)


class Pokeable:
    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._wake = asyncio.Event()

    def poke(self) -> None:
        self._wake.set()

    async def every_pass(self, one_pass: Callable[[], Awaitable[object]], name: str) -> None:
        """Runs `one_pass` forever; the work is claimed in the database, so a failed pass (or a dead
        process) leaves it for the next pass or another process."""
        while True:
            try:
                await one_pass()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("%s pass failed", name)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval_s)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
