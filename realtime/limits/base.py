"""The rate-limiter interface: GCRA token buckets by key, answering how long to wait when refused.

GCRA (the generic cell rate algorithm) keeps one number per key, the "theoretical
arrival time", so a bucket is one value in memory or one Redis key with an expiry.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    per_second: float
    burst: int

    @classmethod
    def per(cls, count: float, seconds: float, burst: int) -> "Rate":
        return cls(per_second=count / seconds, burst=burst)

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second


def gcra(tat: float, now: float, rate: Rate, cost: int) -> tuple[float | None, float]:
    """One GCRA decision: (seconds to wait, or None if allowed; the new theoretical arrival time)."""
    tat = max(tat, now)
    new_tat = tat + rate.interval * cost
    allowed_at = new_tat - rate.interval * rate.burst
    if allowed_at > now:
        return allowed_at - now, tat
    return None, new_tat


class RateLimiter(ABC):
    @abstractmethod
    async def hit(self, key: str, rate: Rate, cost: int = 1) -> float | None:
        """Takes `cost` from the bucket; None when allowed, else the seconds until it would be."""

    @abstractmethod
    async def peek(self, key: str, rate: Rate) -> float | None:
        """Like hit, without taking anything: would one more be allowed now?"""

    async def hit_each(self, buckets: Sequence[tuple[str, Rate]]) -> tuple[int, float] | None:
        """Takes one from each bucket in turn, stopping at the first that refuses: None when all
        allowed, else (that bucket's index, the seconds until it would allow). The buckets before it
        stay taken, as separate hits would leave them."""
        for index, (key, rate) in enumerate(buckets):
            wait = await self.hit(key, rate)
            if wait is not None:
                return index, wait
        return None

    async def close(self) -> None:
        pass
