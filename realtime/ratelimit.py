"""Token buckets: a sustained rate with a burst allowance, answering how long to wait when empty."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float                 # tokens added per second
    burst: float                # most tokens held at once
    tokens: float = field(default=-1.0)
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, cost: float = 1.0) -> float | None:
        """Takes tokens if there are enough; otherwise answers the seconds until there will be."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= cost:
            self.tokens -= cost
            return None
        return (cost - self.tokens) / self.rate
