"""Redis restarted mid-stream across two processes: nothing acknowledged is lost or duplicated.

On a Redis Cluster the whole cluster goes down and comes back (every node killed, then started
again from its nodes.conf, empty): the same outage, on every shard at once."""

from __future__ import annotations

import asyncio
from typing import Iterator

import httpx
import pytest

from tests.support.resilient import RoomTraffic, wait_until
from tests.support.services import RedisClusterInstance, RedisInstance


@pytest.fixture(params=["redis", "redis-cluster"])
def fault_redis(request: pytest.FixtureRequest) -> Iterator[RedisInstance | RedisClusterInstance]:
    """This test breaks its Redis: a private server, or a private cluster."""
    if request.param == "redis":
        yield request.getfixturevalue("private_redis")
        return
    with RedisClusterInstance() as instance:
        yield instance


async def test_redis_restart_loses_nothing_and_readyz_reports_it(start_servers, fault_redis):
    one, two = start_servers(2)
    traffic = await RoomTraffic.start(one, two, "through the storm")
    await wait_until(lambda: traffic.acked() >= 60, 30, "traffic before the restart")
    fault_redis.kill()
    async with httpx.AsyncClient() as http:
        await wait_until_async(lambda: degraded(http, one.url), 10)
        acked_while_down = traffic.acked()
        await asyncio.sleep(1.0)
        assert traffic.acked() > acked_while_down, "sends must still be acknowledged without Redis"
        await asyncio.to_thread(fault_redis.start)
        await wait_until_async(lambda: ready(http, one.url), 20)
        await wait_until_async(lambda: ready(http, two.url), 20)
    await traffic.finish()


async def degraded(http: httpx.AsyncClient, url: str) -> bool:
    response = await http.get(url + "/readyz")
    return response.status_code == 503 and response.json()["broker"] == "degraded"


async def ready(http: httpx.AsyncClient, url: str) -> bool:
    response = await http.get(url + "/readyz")
    return response.status_code == 200


async def wait_until_async(check, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)
