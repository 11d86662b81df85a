"""The broker's subscriber connection dropped while Redis stays up (a proxy's idle cut, a network
blip, `CLIENT KILL`): the broker notices, subscribes again and the hub resyncs at once.

Guards against a client that reconnects in silence (redis-py does, given a retry policy on the
connection: the pool's connections have none): what was published in the gap would then wait for
the periodic repair (switched off here), and `/readyz` and the reconnect metric would not know.
"""

from __future__ import annotations

import asyncio

import pytest
import redis.asyncio as aioredis

from tests.support.client import Api
from tests.support.metrics import metric


RECONNECTS = "convene_broker_reconnects_total"


@pytest.mark.parametrize("fault_redis", ["redis"], indirect=True)
async def test_a_dropped_subscriber_connection_is_noticed_and_what_it_missed_is_delivered(start_servers, fault_redis):
    # No periodic repair: only the broker's resync can bring what the dropped subscriber missed.
    (server,) = start_servers(1, REPAIR_INTERVAL_S="600")
    alice, bob = await Api.register(server.url), await Api.register(server.url)
    room = await alice.create_room("Relay")
    await bob.join(room)
    writer, reader = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    await reader.subscribe(room)
    before = await writer.say(room, "before the cut")
    await reader.wait_for_seq(room, before["seq"])
    assert await metric(server.url, RECONNECTS) == 0

    redis = aioredis.Redis.from_url(fault_redis.url)
    try:
        assert await redis.client_kill_filter(_type="pubsub") >= 1
    finally:
        await redis.aclose()
    # Published while the subscriber is gone from Redis: pub/sub keeps nothing for it.
    during = await writer.say(room, "while the subscriber is away")
    await reader.wait_for_seq(room, during["seq"], timeout=10)

    deadline = asyncio.get_running_loop().time() + 10
    while await metric(server.url, RECONNECTS) < 1:
        assert asyncio.get_running_loop().time() < deadline, server.log_tail(40)
        await asyncio.sleep(0.1)
    assert "resyncing rooms" in server.log_tail(200)
    after = await writer.say(room, "after the cut")
    await reader.wait_for_seq(room, after["seq"])
    seqs = [f["seq"] for f in reader.frames if f.get("room") == room and f["type"] == "message"]
    assert seqs == sorted(set(seqs)) and {before["seq"], during["seq"], after["seq"]} <= set(seqs)
    for client in (writer, reader):
        await client.close()
