"""A send's rate limits, the member's bucket then the network's, decided in one call (realtime/limits):
on the in-process limiter, on one real Redis (one script for both) and on a real Redis Cluster (one
call per bucket, each on its own slot). The refusal names the bucket that refused, and a bucket that
refused takes nothing from the ones after it."""

from __future__ import annotations

import itertools
from typing import AsyncIterator

import pytest

from realtime.limits.base import Rate, RateLimiter
from realtime.limits.memory import MemoryRateLimiter
from realtime.limits.policy import AbuseLimits, LimitRates
from realtime.limits.redis import RedisRateLimiter
from rooms.errors import RateLimited

_members = itertools.count(10_000_000 + __import__("os").getpid() * 1000)


@pytest.fixture(params=["memory", "redis", "redis-cluster"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        made: RateLimiter = MemoryRateLimiter()
    else:
        redis = request.getfixturevalue("redis_server" if request.param == "redis" else "redis_cluster")
        made = RedisRateLimiter(redis.url)
    yield made
    await made.close()


async def test_the_members_bucket_then_the_networks_each_refuse_in_their_own_words(limiter):
    limits = AbuseLimits(limiter, LimitRates(member_messages=Rate.per(1, 60, 3), ip_messages=Rate.per(1, 60, 5)))
    first, second = next(_members), next(_members)
    network = f"198.51.100.{first % 250}-{first}"

    for _ in range(3):
        await limits.message(first, network)
    with pytest.raises(RateLimited) as refused:
        await limits.message(first, network)
    assert refused.value.message == "you are sending too fast" and 0 < refused.value.retry_after <= 60

    # The member's refusal took nothing from the network's bucket: 2 of its 5 are left.
    await limits.message(second, network)
    await limits.message(second, network)
    with pytest.raises(RateLimited) as refused:
        await limits.message(second, network)
    assert refused.value.message == "too many messages from your network" and refused.value.retry_after > 0


async def test_connections_take_the_networks_bucket_first(limiter):
    limits = AbuseLimits(limiter, LimitRates(member_connections=Rate.per(1, 60, 5), ip_connections=Rate.per(1, 60, 2)))
    member = next(_members)
    network = f"192.0.2.{member % 250}-{member}"
    await limits.connection(member, network)
    await limits.connection(member, network)
    with pytest.raises(RateLimited) as refused:
        await limits.connection(member, network)
    assert refused.value.message == "too many connections from your network"


async def test_on_one_redis_a_sends_two_buckets_are_one_call(redis_server):
    import redis

    limiter = RedisRateLimiter(redis_server.url)
    limits = AbuseLimits(limiter, LimitRates())
    server = redis.Redis.from_url(redis_server.url)

    def scripts_run() -> int:
        stats = server.info("commandstats")
        return sum(stats.get(f"cmdstat_{name}", {}).get("calls", 0) for name in ("evalsha", "eval"))

    member = next(_members)
    await limits.message(member, "203.0.113.7")    # the script is loaded into Redis (EVALSHA, then EVAL once)
    before = scripts_run()
    await limits.message(member, "203.0.113.7")
    assert scripts_run() - before == 1
    server.close()
    await limiter.close()
