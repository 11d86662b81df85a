"""A Postgres streaming replica answers history pages and search; a member always reads their own
writes, access is decided on the primary, and without the replica the primary answers."""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.conftest import shared_env
from tests.support.client import Api
from tests.support.services import PostgresInstance, PostgresReplicaInstance, RedisInstance, ServerProcess


@pytest.fixture(scope="module")
def primary() -> Iterator[PostgresInstance]:
    with PostgresInstance() as instance:
        yield instance


@pytest.fixture(scope="module")
def replica(primary: PostgresInstance) -> Iterator[PostgresReplicaInstance]:
    with PostgresReplicaInstance(primary) as instance:
        yield instance


@pytest.fixture(scope="module")
def pair(primary, replica, redis_server: RedisInstance) -> Iterator[list[ServerProcess]]:
    """Two processes on the primary, its replica and one Redis."""
    data_dir = Path(tempfile.mkdtemp(prefix="convene-replica-"))
    env = shared_env(primary, redis_server, data_dir, DATABASE_REPLICA_URL=replica.url,
                     DATABASE_REPLICA_RETRY_S="0.5")
    processes = [ServerProcess(env=env) for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


async def counter(server: ServerProcess, name: str, **labels: str) -> float:
    """One sample of a Prometheus counter from the process's /metrics (0 when not yet counted)."""
    async with httpx.AsyncClient() as http:
        text = (await http.get(server.url + "/metrics")).text
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}\{{(.*)\}} (\S+)", line)
        if match and ",".join(sorted(match.group(1).split(","))) == wanted:
            return float(match.group(2))
    return 0.0


def replica_served_pages(replica: PostgresReplicaInstance) -> int:
    """Backends on the replica whose last statement was a page or a search in the replica's shape
    (rooms/store/replica.py: it starts with how far the replica got; pg_stat_activity keeps only the
    statement's first 1 KiB)."""
    return int(replica.sql("SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                           "AND query LIKE 'SELECT replica_progress.%'"))


async def room_with_messages(owner: Api, reader: Api, words: str, count: int = 3,
                             visibility: str = "public") -> tuple[int, list[int]]:
    room = await owner.create_room(f"replica {uuid.uuid4().hex[:6]}", visibility)
    if visibility == "public":
        await reader.join(room)
    else:
        response = await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": reader.id})
        assert response.status_code in (200, 201, 204), response.text
        await reader.join(room)
    client = await owner.connect(owner.base_url.replace("http", "ws") + "/ws")
    seqs = [(await client.say(room, f"{words} {i}"))["seq"] for i in range(count)]
    await client.close()
    return room, seqs


async def test_history_and_search_are_served_by_the_replica(pair, replica):
    one, two = pair
    owner, reader = await Api.register(one.url), await Api.register(two.url)
    room, seqs = await room_with_messages(owner, reader, "lantern", count=4)
    replica.wait_caught_up()
    reads_before = await counter(two, "convene_replica_reads_total", read="history")
    searches_before = await counter(two, "convene_replica_reads_total", read="search")

    page = (await reader.http.get(f"/api/rooms/{room}/messages", params={"limit": 10})).json()
    assert [m["seq"] for m in page["messages"]] == seqs
    older = (await reader.http.get(f"/api/rooms/{room}/messages", params={"before": seqs[2], "limit": 10})).json()
    assert [m["seq"] for m in older["messages"]] == seqs[:2]
    socket = await reader.connect(two.ws_url)
    await socket.subscribe(room)
    history = await socket.request({"type": "history", "room": room, "limit": 10})
    assert [m["seq"] for m in history["messages"]] == seqs
    room_page = await reader.http.get(f"/rooms/{room}")
    assert room_page.status_code == 200 and "lantern 3" in room_page.text
    hits = (await reader.http.get("/api/search", params={"q": "lantern"})).json()["results"]
    assert sorted(hit["seq"] for hit in hits) == seqs
    # A thread's page and the mentions page have shapes of their own.
    thread = (await reader.http.get(f"/api/rooms/{room}/messages", params={"thread": seqs[0]})).json()
    assert thread["messages"] == [] and thread["parent"]["seq"] == seqs[0]
    mentions = (await reader.http.get(f"/api/rooms/{room}/messages", params={"mentions": "me"})).json()
    assert mentions["messages"] == []

    # Six pages (two HTTP, the socket's, the room page's, the thread's, the mentions'; an empty one is
    # read twice, again after the access verdict: ChatService.history) and the search, all from the replica.
    assert await counter(two, "convene_replica_reads_total", read="history") == reads_before + 8
    assert await counter(two, "convene_replica_reads_total", read="search") == searches_before + 1
    assert replica_served_pages(replica) >= 1, "no backend on the replica ran a page or a search"
    await socket.close()


async def test_a_member_reads_their_own_write_while_the_replica_is_paused(pair, replica):
    one, two = pair
    owner, member = await Api.register(one.url), await Api.register(two.url)
    room, seqs = await room_with_messages(owner, member, "harbour")
    replica.wait_caught_up()
    writer = await member.connect(one.ws_url)
    await writer.subscribe(room)
    behind_before = await counter(two, "convene_replica_fallbacks_total", read="history", reason="behind")
    replica.pause_replay()
    try:
        ack = await writer.say(room, "harbour while the replica sleeps")
        assert ack["type"] == "ack"
        # The same socket at once: its process committed the write.
        history = await writer.request({"type": "history", "room": room, "limit": 10})
        assert history["messages"][-1]["seq"] == ack["seq"]
        # Another process, over HTTP, on the page and in search: the primary's head is the floor.
        page = (await member.http.get(f"/api/rooms/{room}/messages", params={"limit": 10})).json()
        assert [m["seq"] for m in page["messages"]] == [*seqs, ack["seq"]]
        room_page = await member.http.get(f"/rooms/{room}")
        assert "harbour while the replica sleeps" in room_page.text
        hits = (await member.http.get("/api/search", params={"q": "sleeps"})).json()["results"]
        assert [hit["seq"] for hit in hits] == [ack["seq"]]
        # A reply, and its thread read back on the other process.
        reply = await writer.request({"type": "send", "room": room, "client_id": "reply-1",
                                      "body": "harbour reply", "reply_to": ack["seq"]})
        thread = (await member.http.get(f"/api/rooms/{room}/messages", params={"thread": ack["seq"]})).json()
        assert [m["seq"] for m in thread["messages"]] == [reply["seq"]]
        # A socket on the other process, subscribed: its live feed saw the write.
        watcher = await member.connect(two.ws_url)
        await watcher.subscribe(room)
        history = await watcher.request({"type": "history", "room": room, "limit": 10})
        assert history["messages"][-1]["seq"] == reply["seq"]
        await watcher.close()
        # The replica really was behind: it still lacks the write, and the primary answered.
        assert replica.sql(f"SELECT count(*) FROM messages WHERE room_id = {room} AND seq >= {ack['seq']}") == "0"
        assert await counter(two, "convene_replica_fallbacks_total", read="history",
                             reason="behind") >= behind_before + 4
    finally:
        replica.resume_replay()
    replica.wait_caught_up()
    reads_before = await counter(two, "convene_replica_reads_total", read="history")
    page = (await member.http.get(f"/api/rooms/{room}/messages", params={"limit": 10})).json()
    assert page["messages"][-1]["seq"] == reply["seq"]
    assert await counter(two, "convene_replica_reads_total", read="history") == reads_before + 1
    await writer.close()


async def test_a_removed_member_cannot_read_through_a_lagging_replica(pair, replica):
    one, two = pair
    owner, member = await Api.register(one.url), await Api.register(two.url)
    room, _ = await room_with_messages(owner, member, "confidential", visibility="private")
    replica.wait_caught_up()
    assert (await member.http.get(f"/api/rooms/{room}/messages")).status_code == 200
    replica.pause_replay()
    try:
        removed = await owner.http.delete(f"/api/rooms/{room}/members/{member.id}")
        assert removed.status_code == 204, removed.text
        # The replica still lists the membership; the primary, which decides, does not.
        assert replica.sql(f"SELECT count(*) FROM memberships WHERE room_id = {room} "
                           f"AND member_id = {member.id}") == "1"
        refused = await member.http.get(f"/api/rooms/{room}/messages")
        assert refused.status_code == 404, refused.text
        assert (await member.http.get("/api/search", params={"q": "confidential"})).json()["results"] == []
        assert (await member.http.get(f"/rooms/{room}")).status_code == 404
    finally:
        replica.resume_replay()


async def test_a_banned_member_cannot_read_a_public_room_through_a_lagging_replica(pair, replica):
    one, two = pair
    owner, member = await Api.register(one.url), await Api.register(two.url)
    room, _ = await room_with_messages(owner, member, "noticeboard")
    replica.wait_caught_up()
    assert (await member.http.get(f"/api/rooms/{room}/messages")).status_code == 200
    replica.pause_replay()
    try:
        banned = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id})
        assert banned.status_code == 201, banned.text
        # The replica has not seen the ban; the primary, which decides, has.
        assert replica.sql(f"SELECT count(*) FROM room_restrictions WHERE room_id = {room} "
                           f"AND member_id = {member.id}") == "0"
        refused = await member.http.get(f"/api/rooms/{room}/messages")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", refused.text
        assert (await member.http.get("/api/search", params={"q": "noticeboard"})).json()["results"] == []
    finally:
        replica.resume_replay()


async def test_with_the_replica_down_the_primary_answers(pair, replica):
    one, two = pair
    owner, member = await Api.register(one.url), await Api.register(two.url)
    room, seqs = await room_with_messages(owner, member, "lighthouse")
    replica.wait_caught_up()
    unavailable_before = await counter(two, "convene_replica_fallbacks_total", read="history", reason="unavailable")
    replica.stop()
    try:
        page = (await member.http.get(f"/api/rooms/{room}/messages", params={"limit": 10})).json()
        assert [m["seq"] for m in page["messages"]] == seqs
        socket = await member.connect(two.ws_url)
        await socket.subscribe(room)
        assert [m["seq"] for m in (await socket.request({"type": "history", "room": room}))["messages"]] == seqs
        await socket.close()
        hits = (await member.http.get("/api/search", params={"q": "lighthouse"})).json()["results"]
        assert sorted(hit["seq"] for hit in hits) == seqs
        assert await counter(two, "convene_replica_fallbacks_total", read="history",
                             reason="unavailable") >= unavailable_before + 2
        async with httpx.AsyncClient() as http:
            readiness = await http.get(two.url + "/readyz")
        assert readiness.status_code == 200 and readiness.json()["replica"] == "unavailable"
    finally:
        replica.start()
    # Back: after its pause the replica answers again.
    reads_before = await counter(two, "convene_replica_reads_total", read="history")

    async def replica_answers() -> bool:
        await member.http.get(f"/api/rooms/{room}/messages", params={"limit": 10})
        return await counter(two, "convene_replica_reads_total", read="history") > reads_before

    for _ in range(40):
        if await replica_answers():
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError("the replica never answered again")
