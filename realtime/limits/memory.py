"""Rate limits kept in this process: the embedded single-process setup."""

from __future__ import annotations

import time

from realtime.limits.base import Rate, RateLimiter, gcra

MAX_KEYS = 100_000


class MemoryRateLimiter(RateLimiter):
    def __init__(self) -> None:
        self._tat: dict[str, float] = {}

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> float | None:
        now = time.monotonic()
        wait, tat = gcra(self._tat.get(key, now), now, rate, cost)
        if wait is None:
            if len(self._tat) >= MAX_KEYS:
                self._forget_idle(now)
            self._tat[key] = tat
        return wait

    async def peek(self, key: str, rate: Rate) -> float | None:
        now = time.monotonic()
        return gcra(self._tat.get(key, now), now, rate, 1)[0]

    def _forget_idle(self, now: float) -> None:
        # A key whose arrival time has passed is a full bucket: the same as no key at all.
        for key in [k for k, tat in self._tat.items() if tat <= now]:
            del self._tat[key]
