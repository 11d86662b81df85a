"""Rate limits in Redis, so every process counts against the same buckets; one server or a cluster.

A bucket is one key, convene:limit:{<bucket>}, and each decision one script on that key alone: the
hash tag names the key's slot, so on a Redis Cluster a decision never spans shards and the buckets
spread over all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio.cluster import RedisCluster

from realtime.limits.base import Rate, RateLimiter
from realtime.redis_client import REDIS_FAILURES, redis_client

PREFIX = "convene:limit:"

# GCRA in one atomic call, on Redis's own clock so hosts with skewed clocks agree. Several buckets
# are decided in turn, stopping at the first refusal (RateLimiter.hit_each); one is the usual case.
# ARGV: cost, take (1) or only look (0), then interval (s) and burst per key.
# Answers {0, 0} when allowed, else {the refusing key's index from 1, the wait in ms}.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cost = tonumber(ARGV[1])
for i, key in ipairs(KEYS) do
  local interval, burst = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval * cost
  local allowed_at = new_tat - interval * burst
  if allowed_at > now then
    return {i, math.ceil((allowed_at - now) * 1000)}
  end
  if ARGV[2] == '1' then
    redis.call('SET', key, tostring(new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1)
  end
end
return {0, 0}
"""


def bucket_key(bucket: str) -> str:
    """The bucket's Redis key: its name is the hash tag, so the key's slot follows the bucket alone."""
    return f"{PREFIX}{{{bucket}}}"


class RedisRateLimiter(RateLimiter):
    def __init__(self, url: str) -> None:
        self._redis = redis_client(url)
        self._script = self._redis.register_script(_GCRA)
        # On one Redis a send's member and network buckets are one call; a cluster keeps each bucket
        # on its own slot, so there they stay one call each.
        self._one_call_for_many = not isinstance(self._redis, RedisCluster)

    async def hit_each(self, buckets: Sequence[tuple[str, Rate]]) -> tuple[int, float] | None:
        if not self._one_call_for_many or len(buckets) < 2:
            return await super().hit_each(buckets)
        return await self._call(buckets, 1, take=True)

    async def _call(self, buckets: Sequence[tuple[str, Rate]], cost: int, take: bool) -> tuple[int, float] | None:
        """(index of the refusing bucket, seconds to wait), or None when allowed."""
        try:
            index, wait_ms = await self._script(
                keys=[bucket_key(key) for key, _ in buckets],
                args=[cost, "1" if take else "0", *(v for _, rate in buckets for v in (rate.interval, rate.burst))])
        except REDIS_FAILURES:
            # Limits protect the service; with Redis away they fail open rather than refuse everyone.
            return None
        return (int(index) - 1, wait_ms / 1000) if index else None

    async def hit(self, key: str, rate: Rate, cost: int = 1) -> float | None:
        refused = await self._call([(key, rate)], cost, take=True)
        return refused[1] if refused else None

    async def peek(self, key: str, rate: Rate) -> float | None:
        refused = await self._call([(key, rate)], 1, take=False)
        return refused[1] if refused else None

    async def close(self) -> None:
        await self._redis.aclose()
