"""Two server processes sharing Postgres and Redis (one server, or a cluster) serve the same rooms."""

from __future__ import annotations

import asyncio

import httpx

from rooms.fanout import room_channel
from tests.support.client import Api


async def test_message_sent_on_one_process_arrives_in_order_on_the_other(process_pair):
    one, two = process_pair
    alice, bob = await Api.register(one.url), await Api.register(two.url)
    room = await alice.create_room("across")
    await bob.join(room)
    a, b = await alice.connect(one.ws_url), await bob.connect(two.ws_url)
    await a.subscribe(room), await b.subscribe(room)
    acks = [await a.say(room, f"from one {i}") for i in range(30)]
    acks += [await b.say(room, f"from two {i}") for i in range(30)]
    for client in (a, b):
        await client.wait_for_seq(room, acks[-1]["seq"])
        assert [f["seq"] for f in client.events(room)] == [ack["seq"] for ack in acks]
    await a.close(), await b.close()


async def test_concurrent_senders_on_both_processes_see_one_order(process_pair):
    one, two = process_pair
    people = [await Api.register(p.url) for p in (one, two, one, two)]
    room = await people[0].create_room("both")
    for person in people[1:]:
        await person.join(room)
    clients = [await person.connect(proc.ws_url) for person, proc in zip(people, (one, two, one, two))]
    for client in clients:
        await client.subscribe(room)

    async def burst(i: int) -> list[int]:
        return [(await clients[i].say(room, f"{i}-{n}"))["seq"] for n in range(20)]

    acked = sorted(s for seqs in await asyncio.gather(*(burst(i) for i in range(4))) for s in seqs)
    assert acked == list(range(acked[0], acked[0] + 80))
    for client in clients:
        await client.wait_for_seq(room, acked[-1])
        assert [f["seq"] for f in client.events(room)] == acked
    for client in clients:
        await client.close()


async def test_presence_set_on_one_process_is_seen_on_the_other(process_pair):
    one, two = process_pair
    alice, bob = await Api.register(one.url), await Api.register(two.url)
    room = await alice.create_room("who is here")
    await bob.join(room)
    a = await alice.connect(one.ws_url)
    await a.subscribe(room)
    b = await bob.connect(two.ws_url)
    await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id and f["status"] == "online")
    await b.request({"type": "presence", "status": "away"})
    await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id and f["status"] == "away")
    who = await a.request({"type": "who", "room": room})
    assert {m["id"]: m["status"] for m in who["members"]} == {alice.id: "online", bob.id: "away"}
    await a.close(), await b.close()


async def test_on_a_redis_cluster_rooms_fan_out_over_the_shards_with_sharded_pub_sub(
        cluster_on_redis_cluster, redis_cluster):
    one, two = cluster_on_redis_cluster
    alice, bob = await Api.register(one.url), await Api.register(two.url)
    a, b = await alice.connect(one.ws_url), await bob.connect(two.ws_url)
    # Rooms until their channels live on every primary.
    rooms: dict[int, int] = {}   # room -> port of the primary that owns its channel
    while len(set(rooms.values())) < len(redis_cluster.primaries()):
        room = await alice.create_room(f"shard {len(rooms)}")
        await bob.join(room)
        await a.subscribe(room), await b.subscribe(room)
        rooms[room] = redis_cluster.primary_for(room_channel(room)).port
    for room, port in rooms.items():
        ack = await a.say(room, f"over the shard on {port}")
        await b.wait_for_seq(room, ack["seq"])
        owner = next(node for node in redis_cluster.nodes if node.port == port)
        with owner.client() as client:
            # Both processes hold the channel as a shard channel on its owner, none as a classic one.
            assert client.execute_command("PUBSUB", "SHARDNUMSUB", room_channel(room))[1] == 2
            assert client.execute_command("PUBSUB", "NUMSUB", room_channel(room))[1] == 0
    await a.close(), await b.close()


async def test_readiness_reports_the_redis_cluster(cluster_on_redis_cluster, redis_cluster):
    async with httpx.AsyncClient() as http:
        response = await http.get(cluster_on_redis_cluster[0].url + "/readyz")
    state = response.json()
    assert response.status_code == 200 and state["ready"] is True
    assert state["redis_cluster"]["state"] == "ok"
    assert state["redis_cluster"]["primaries"] == len(redis_cluster.primaries()) == 3
