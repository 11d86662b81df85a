"""Hostile and broken frames get typed errors; the connection and the data stay intact."""

from __future__ import annotations

import pytest

from tests.conftest import embedded_env
from tests.support.client import Api
from tests.support.services import ServerProcess


async def test_broken_frames_get_typed_errors_and_the_socket_stays_usable(server):
    member = await Api.register(server.url)
    room = await member.create_room("robust")
    c = await member.connect(server.ws_url)
    await c.subscribe(room)

    start = len(c.frames)
    await c.send_raw("{not json")
    assert (await c.wait_for(lambda f: f["type"] == "error", start=start))["code"] == "bad_json"
    start = len(c.frames)
    await c.send_raw("[1, 2]")
    assert (await c.wait_for(lambda f: f["type"] == "error", start=start))["code"] == "bad_frame"
    assert (await c.request({"type": "launch"}))["code"] == "unknown_type"
    error = await c.request({"type": "send", "room": "1; DROP TABLE", "client_id": "x", "body": "b"})
    assert error["code"] == "bad_frame" and error["field"] == "room"
    error = await c.request({"type": "send", "room": room, "client_id": "bad id with spaces", "body": "b"})
    assert error["field"] == "client_id"
    error = await c.request({"type": "send", "room": room, "client_id": "ok", "body": "x" * 5000})
    assert error["code"] == "bad_request" and error["field"] == "body"
    error = await c.request({"type": "send", "room": room, "client_id": "ok2", "body": "   "})
    assert error["field"] == "body"
    start = len(c.frames)
    await c.send_raw('{"type":"send","body":"' + "y" * 20000 + '"}')
    assert (await c.wait_for(lambda f: f["type"] == "error", start=start))["code"] == "frame_too_large"
    error = await c.request({"type": "subscribe", "room": 10**12})
    assert error["code"] == "not_found"

    ack = await c.say(room, "still here")
    assert ack["type"] == "ack" and ack["seq"] == 1
    page = (await member.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert [m["body"] for m in page] == ["still here"]
    await c.close()


async def test_bad_http_bodies_name_the_field(server):
    member = await Api.register(server.url)
    response = await member.http.post("/api/rooms", json={"name": "", "visibility": "public"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "name"
    response = await member.http.post("/api/rooms", json={"name": "x", "visibility": "secret"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "visibility"
    response = await member.http.post("/api/rooms", content=b"{oops", headers={"content-type": "application/json"})
    assert response.status_code == 400
    response = await member.http.post("/api/auth/register", json={"username": "ok_name"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "password"
    response = await member.http.post("/api/rooms", content=b'{"name":"' + b"x" * 100_000 + b'"}')
    assert response.status_code == 422
    response = await member.http.patch("/api/me", json={"country": "France"})
    assert response.status_code == 422 and response.json()["error"]["field"] == "country"


async def test_ids_too_long_for_the_database_are_not_found(server):
    member = await Api.register(server.url)
    huge = 2**70
    for path in (f"/api/rooms/{huge}", f"/api/rooms/{huge}/messages", f"/rooms/{huge}", f"/members/{huge}"):
        response = await member.http.get(path)
        assert response.status_code == 404, path
        assert response.headers["x-content-type-options"] == "nosniff"
    # The largest id the database holds is still looked up normally.
    response = await member.http.get(f"/api/rooms/{2**63 - 1}")
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory):
    """A server with the kind of message limit a real deployment has: 1/s, bursts of 5."""
    env = embedded_env(tmp_path_factory.mktemp("strict"), MESSAGE_RATE="1", MESSAGE_BURST="5")
    process = ServerProcess(env=env)
    process.start()
    yield process
    process.cleanup()


async def test_message_flood_is_refused_with_retry_after(strict_server):
    member = await Api.register(strict_server.url)
    room = await member.create_room("flood")
    c = await member.connect(strict_server.ws_url)
    await c.subscribe(room)
    replies = [await c.say(room, f"spam {i}") for i in range(10)]
    refused = [r for r in replies if r["type"] == "error"]
    assert len(refused) >= 4
    assert all(r["code"] == "rate_limited" and 0 < r["retry_after"] <= 1 and r["retryable"] for r in refused)
    acked = [r["seq"] for r in replies if r["type"] == "ack"]
    assert acked == list(range(1, len(acked) + 1))
    await c.close()
