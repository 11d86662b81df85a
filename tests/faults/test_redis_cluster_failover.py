"""A Redis Cluster primary killed mid-stream and its replica promoted, while two processes carry a
room whose channel lives on that primary: nothing acknowledged is lost, every delivery arrives
exactly once and in order, and both processes re-subscribe on the new primary and resync."""

from __future__ import annotations

import asyncio
from typing import Iterator

import httpx
import pytest

from rooms.fanout import room_channel
from tests.support.metrics import metric
from tests.support.resilient import RoomTraffic, wait_until
from tests.support.services import RedisClusterInstance


@pytest.fixture
def fault_redis() -> Iterator[RedisClusterInstance]:
    """This test kills a node: a private cluster."""
    with RedisClusterInstance() as instance:
        yield instance


async def test_a_primary_fails_over_mid_stream_and_nothing_acknowledged_is_lost(start_servers, fault_redis):
    one, two = start_servers(2)
    traffic = await RoomTraffic.start(one, two, "the shard that fails")
    room = traffic.room
    victim = fault_redis.primary_for(room_channel(room))
    await wait_until(lambda: traffic.acked() >= 60, 30, "traffic before the failover")

    successor = await asyncio.to_thread(fault_redis.kill_and_wait_for_failover, victim)
    assert successor is not victim and fault_redis.primary_for(room_channel(room)) is successor

    await traffic.finish(timeout=90)
    async with httpx.AsyncClient() as http:
        for server in (one, two):
            # Each process lost the shard, re-subscribed on the promoted replica and resynced.
            assert await metric(server.url, "convene_broker_reconnects_total") >= 1
            assert await metric(server.url, "convene_broker_resyncs_total") >= 1
            readiness = (await http.get(server.url + "/readyz")).json()
            assert readiness["ready"] is True and readiness["redis_cluster"]["state"] == "ok", readiness
        # The room's channel now lives on the promoted replica, and both processes subscribe it there.
        a, b = await traffic.people[0].connect(one.ws_url), await traffic.people[1].connect(two.ws_url)
        await a.subscribe(room), await b.subscribe(room)
        with successor.client() as client:
            assert client.execute_command("PUBSUB", "SHARDNUMSUB", room_channel(room))[1] == 2
        ack = await a.say(room, "after the failover")
        await b.wait_for_seq(room, ack["seq"], timeout=5)
        await a.close(), await b.close()
