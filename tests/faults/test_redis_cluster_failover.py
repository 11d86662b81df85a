"""A Redis Cluster primary killed mid-stream and its replica promoted, while two processes carry a
room whose channel lives on that primary: nothing acknowledged is lost, every delivery arrives
exactly once and in order, and both processes re-subscribe on the new primary and resync."""

from __future__ import annotations

import asyncio
import re
from typing import Iterator

import httpx
import pytest

from rooms.fanout import room_channel
from tests.support.client import Api
from tests.support.resilient import DeliveryChecker, ResilientReceiver, ResilientSender, wait_until
from tests.support.services import RedisClusterInstance, ServerProcess


@pytest.fixture
def fault_redis() -> Iterator[RedisClusterInstance]:
    """This test kills a node: a private cluster."""
    with RedisClusterInstance() as instance:
        yield instance


async def metric(http: httpx.AsyncClient, server: ServerProcess, sample: str) -> float:
    text = (await http.get(server.url + "/metrics")).text
    match = re.search(rf"^{re.escape(sample)} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_a_primary_fails_over_mid_stream_and_nothing_acknowledged_is_lost(start_servers, fault_redis):
    one, two = start_servers(2)
    owner = await Api.register(one.url)
    room = await owner.create_room("the shard that fails")
    processes = (one, two, one, two)
    people = [await Api.register(p.url) for p in processes]
    for person in people:
        await person.join(room)
    victim = fault_redis.primary_for(room_channel(room))
    checker = DeliveryChecker()
    receivers = [ResilientReceiver(f"r{i}", [p.ws_url], person.token, [room], checker)
                 for i, (person, p) in enumerate(zip(people, processes))]
    for receiver in receivers:
        receiver.start()
    await asyncio.gather(*(r.subscribed_once.wait() for r in receivers))
    senders = [ResilientSender(f"s{i}", [p.ws_url], people[i].token, room, 150, checker, interval_s=0.01)
               for i, p in enumerate((one, two))]
    for sender in senders:
        sender.start()
    await wait_until(lambda: len(checker.acked[room]) >= 60, 30, "traffic before the failover")

    successor = await asyncio.to_thread(fault_redis.kill_and_wait_for_failover, victim)
    assert successor is not victim and fault_redis.primary_for(room_channel(room)) is successor

    await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in senders)), 90)
    await wait_until(lambda: all(checker.caught_up(r.name, room) for r in receivers), 30, "receivers to catch up")
    for worker in (*senders, *receivers):
        await worker.stop()
    assert len(checker.acked[room]) == 300
    checker.assert_invariants()
    assert not checker.errors
    async with httpx.AsyncClient() as http:
        for server in (one, two):
            # Each process lost the shard, re-subscribed on the promoted replica and resynced.
            assert await metric(http, server, 'convene_broker_reconnects_total{backend="cluster"}') >= 1
            assert await metric(http, server, "convene_broker_resyncs_total") >= 1
            readiness = (await http.get(server.url + "/readyz")).json()
            assert readiness["ready"] is True and readiness["redis_cluster"]["state"] == "ok", readiness
        # Live fan-out works through the new primary: a message now arrives without repair.
        a, b = await people[0].connect(one.ws_url), await people[1].connect(two.ws_url)
        await a.subscribe(room), await b.subscribe(room)
        ack = await a.say(room, "after the failover")
        await b.wait_for_seq(room, ack["seq"], timeout=5)
        with successor.client() as client:
            assert client.execute_command("PUBSUB", "SHARDNUMSUB", room_channel(room))[1] == 2
        await a.close(), await b.close()
