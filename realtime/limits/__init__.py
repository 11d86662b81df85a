"""Picks the rate-limiter adapter from REDIS_URL: shared in Redis (one server or a cluster) when set, in-process otherwise."""

from __future__ import annotations

from realtime.limits.base import Rate, RateLimiter


def open_limiter(redis_url: str) -> RateLimiter:
    if redis_url:
        from realtime.limits.redis import RedisRateLimiter
        return RedisRateLimiter(redis_url)
    from realtime.limits.memory import MemoryRateLimiter
    return MemoryRateLimiter()


__all__ = ["Rate", "RateLimiter", "open_limiter"]
