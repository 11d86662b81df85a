"""Abuse limits: refusals are typed and say when to retry; with Redis they hold across processes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest
import websockets

from tests.conftest import embedded_env, shared_env
from tests.support.client import Api, ChatClient
from tests.support.services import RedisInstance, ServerProcess

STRICT = {
    "LIMIT_MEMBER_MESSAGES": "1/1:5",
    "LIMIT_MEMBER_CONNECTIONS": "1/10:3",
    "LIMIT_USERNAME_LOGIN_FAILURES": "1/60:3",
    "LIMIT_IP_REGISTRATIONS": "1/60:12",
    "LIMIT_MEMBER_ROOM_CREATIONS": "1/60:2",
}


@pytest.fixture(scope="module")
def strict(tmp_path_factory) -> Iterator[ServerProcess]:
    process = ServerProcess(env=embedded_env(tmp_path_factory.mktemp("strict"), **STRICT))
    process.start()
    yield process
    process.cleanup()


@pytest.fixture(scope="module", params=["redis", "redis-cluster"])
def strict_pair(postgres, request) -> Iterator[list[ServerProcess]]:
    """Two processes with their own Redis, so no other test's traffic fills these buckets; or on
    the session's Redis Cluster, where every bucket these tests fill is a new member's."""
    redis = RedisInstance() if request.param == "redis" else request.getfixturevalue("redis_cluster")
    if request.param == "redis":
        redis.start()
    data_dir = Path(tempfile.mkdtemp())
    processes = [ServerProcess(env=shared_env(postgres, redis, data_dir, **STRICT)) for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()
    if request.param == "redis":
        redis.cleanup()


async def test_failed_logins_back_off_per_username(strict):
    member = await Api.register(strict.url, password="the right one")
    async with httpx.AsyncClient(base_url=strict.url) as http:
        for _ in range(3):
            wrong = await http.post("/api/auth/login", json={"username": member.member["username"],
                                                             "password": "wrong guess"})
            assert wrong.status_code == 401
        refused = await http.post("/api/auth/login", json={"username": member.member["username"],
                                                           "password": "the right one"})
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 0 < float(refused.json()["error"]["retry_after"]) <= 60
        assert int(refused.headers["retry-after"]) >= 1
        # Someone else's account is not locked by it.
        other = await Api.register(strict.url, password="another one")
        fine = await http.post("/api/auth/login", json={"username": other.member["username"],
                                                        "password": "another one"})
        assert fine.status_code == 200


async def test_room_creation_is_limited_per_member(strict):
    member = await Api.register(strict.url)
    codes = [(await member.http.post("/api/rooms", json={"name": f"r{i}"})).status_code for i in range(4)]
    assert codes[:2] == [201, 201] and codes[2:] == [429, 429]


async def test_connections_are_limited_per_member(strict):
    member = await Api.register(strict.url)
    clients = [await ChatClient.connect(strict.ws_url, member.token) for _ in range(3)]
    ws = await websockets.connect(strict.ws_url, additional_headers={"Authorization": f"Bearer {member.token}"})
    refusal = await ws.recv()
    assert '"code":"rate_limited"' in refusal and '"retry_after"' in refusal
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4429
    for client in clients:
        await client.close()


async def test_message_limit_is_shared_between_a_members_connections_and_processes(strict_pair):
    one, two = strict_pair
    member = await Api.register(one.url)
    room = await member.create_room("limited")
    a = await ChatClient.connect(one.ws_url, member.token)
    b = await ChatClient.connect(two.ws_url, member.token)
    replies = []
    for i in range(6):
        replies.append(await a.say(room, f"a{i}"))
        replies.append(await b.say(room, f"b{i}"))
    acked = [r for r in replies if r["type"] == "ack"]
    refused = [r for r in replies if r["type"] == "error"]
    # A burst of 5 plus at most a couple refilled during the test, across both processes together.
    assert 5 <= len(acked) <= 7, len(acked)
    assert refused and all(r["code"] == "rate_limited" and r["retry_after"] > 0 for r in refused)
    await a.close(), await b.close()


async def test_a_burst_of_reactions_is_limited_like_messages(strict):
    author, reactor = await Api.register(strict.url), await Api.register(strict.url)
    room = await author.create_room("reactions")
    assert (await reactor.join(room)).status_code == 200
    a, r = await ChatClient.connect(strict.ws_url, author.token), await ChatClient.connect(strict.ws_url, reactor.token)
    target = (await a.say(room, "react to me"))["seq"]
    emojis = ["👍", "❤", "😂", "🎉", "🙏", "👀", "🔥", "✅"]   # all different: none is a duplicate
    replies = [await r.request({"type": "react", "room": room, "target": target, "emoji": emoji}) for emoji in emojis]
    acked = [reply for reply in replies if reply["type"] == "ack"]
    refused = [reply for reply in replies if reply["type"] == "error"]
    # The member's message bucket (a burst of 5), plus at most one token refilled during the burst.
    assert 5 <= len(acked) <= 6, replies
    assert refused and all(reply["code"] == "rate_limited" and 0 < reply["retry_after"] <= 1 for reply in refused)
    await a.close(), await r.close()
