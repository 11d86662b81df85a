"""2,000 clients reconnecting at once, each resuming: no loss, no duplicates, no errors, bounded memory.

On a Redis Cluster the storm is smaller: it checks that presence, limits and subscriptions on the
shards hold under the same concurrency (64 handshakes at once fill every client's 50 connections);
the memory bound is the process's own and is checked at full size on one Redis."""

from __future__ import annotations

import asyncio
import resource

import orjson
import psutil
import websockets

from tests.support.client import Api, ChatClient
from tests.support.services import RedisClusterInstance

CLIENTS = {"redis": 2000, "redis-cluster": 600}
ROOMS = 5
MEMBERS_PER_ROOM = 10
MISSED_PER_ROOM = 30


def raise_fd_limit(wanted: int = 16384) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, hard), hard))


async def resume(ws_url: str, token: str, room: int, since: int) -> tuple[list[int], list[dict]]:
    """Connects, resumes `room` from `since`, and answers the replayed seqs and any errors."""
    async with websockets.connect(ws_url, additional_headers={"Authorization": f"Bearer {token}"},
                                  open_timeout=60, close_timeout=5) as ws:
        await ws.send(orjson.dumps({"type": "subscribe", "room": room, "since": since}).decode())
        seqs, errors = [], []
        async for text in ws:
            frame = orjson.loads(text)
            if frame["type"] == "message":
                seqs.append(frame["seq"])
            elif frame["type"] == "error":
                errors.append(frame)
            elif frame["type"] == "subscribed":
                return seqs, errors
    raise AssertionError("closed before subscribed")


async def test_reconnect_storm_resumes_everyone_exactly(start_servers, fault_redis):
    raise_fd_limit()
    clients = CLIENTS["redis-cluster" if isinstance(fault_redis, RedisClusterInstance) else "redis"]
    server, = start_servers(1)
    rooms, members = [], []
    for r in range(ROOMS):
        owner = await Api.register(server.url)
        room = await owner.create_room(f"storm {r}")
        people = [owner] + [await Api.register(server.url) for _ in range(MEMBERS_PER_ROOM - 1)]
        for person in people[1:]:
            await person.join(room)
        rooms.append(room)
        members.append(people)
    heads = {}
    for room, people in zip(rooms, members):
        talker = await people[0].connect(server.ws_url)
        heads[room] = (await talker.subscribe(room))["last_seq"]
        for i in range(MISSED_PER_ROOM):
            await talker.say(room, f"while you were away {i}")
        await talker.close()

    rss_before = psutil.Process(server.pid).memory_info().rss
    # Every client was last connected before those messages and resumes from there, all at once.
    jobs = [resume(server.ws_url, members[i % ROOMS][(i // ROOMS) % MEMBERS_PER_ROOM].token,
                   rooms[i % ROOMS], heads[rooms[i % ROOMS]]) for i in range(clients)]
    results = await asyncio.wait_for(asyncio.gather(*jobs), 240)
    rss_after = psutil.Process(server.pid).memory_info().rss

    for i, (seqs, errors) in enumerate(results):
        room = rooms[i % ROOMS]
        assert errors == [], errors[:3]
        assert seqs == list(range(heads[room] + 1, heads[room] + MISSED_PER_ROOM + 1)), f"client {i}"
    # 2,000 sockets that come and go must not leave the process bloated.
    assert rss_after - rss_before < 300 * 2**20, (rss_before, rss_after)
    check = await ChatClient.connect(server.ws_url, members[0][0].token)
    assert (await check.request({"type": "ping"}))["type"] == "pong"
    await check.close()
