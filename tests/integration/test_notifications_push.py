"""Web Push end to end: a private message to a member who is away reaches a loopback push service within
2 s, encrypted for their browser and signed with the server's VAPID key; a push service that times out or
answers 5xx gets the push again later, with back-off, until it takes it; 410 removes a subscription;
endpoints off the allow-list are refused; a process killed holding a push job sends it once after restart."""

from __future__ import annotations

import asyncio
import time
from typing import Iterator

import httpx
import pytest

from tests.conftest import backend_env, embedded_env
from tests.support.client import Api
from tests.support.push import HANG, Device, PushService, verify_vapid
from tests.support.services import ServerProcess

FAST_PUSH = {"NOTIFY_JOB_INTERVAL_S": "0.2", "NOTIFY_SWEEP_S": "0.5", "PUSH_CLAIM_S": "1"}
# The back-off test: a timeout well inside the claim (or another process would take the job meanwhile).
PUSH_TIMEOUT_S = 1.0
PUSH_RETRY_S = 0.5
RETRYING_PUSH = {**FAST_PUSH, "PUSH_CLAIM_S": "3", "PUSH_TIMEOUT_S": str(PUSH_TIMEOUT_S),
                 "PUSH_RETRY_S": str(PUSH_RETRY_S)}


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService()
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def push_server(request: pytest.FixtureRequest, push_service: PushService) -> Iterator[ServerProcess]:
    process = ServerProcess(env=backend_env(request, "convene-push", **FAST_PUSH,
                                            PUSH_ALLOWED_ORIGINS=push_service.origin))
    process.start()
    yield process
    process.cleanup()


async def subscribed(api: Api, device: Device) -> int:
    response = await api.http.post("/api/push/subscriptions", json=device.subscription())
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def wait_for_push(service: PushService, device: Device, count: int = 1, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while len(service.to(device)) < count:
        assert time.monotonic() < deadline, f"{len(service.to(device))} pushes to {device.path}, expected {count}"
        await asyncio.sleep(0.02)


async def test_a_private_message_to_a_member_who_is_away_is_pushed_within_2_s(push_server, push_service):
    amina = await Api.register(push_server.url, display_name="Amina W.")
    tomas = await Api.register(push_server.url, display_name="Tomás R.")
    phone = Device(push_service)
    await subscribed(tomas, phone)
    room = (await amina.http.post("/api/dms", json={"members": [tomas.id]})).json()["id"]
    chat = await amina.connect(push_server.ws_url)
    ack = await chat.say(room, "Are you free for supervision on Thursday?")
    acked_at = time.monotonic()
    await wait_for_push(push_service, phone, timeout=2.0)
    pushed = push_service.to(phone)[0]
    assert pushed.at - acked_at <= 2.0

    assert pushed.headers["content-encoding"] == "aes128gcm" and int(pushed.headers["ttl"]) > 0
    assert pushed.headers["urgency"] == "high"
    key = (await tomas.http.get("/api/push/key")).json()["key"]
    verify_vapid(pushed.headers["authorization"], key, push_service.origin)
    payload = phone.decrypt(pushed)
    # A conversation is private: who wrote where, not what.
    assert payload["sender"] == "Amina W." and payload["room"] == room and payload["seq"] == ack["seq"]
    assert payload["title"] == "Amina W. wrote to you" and "Thursday" not in payload["body"]
    assert payload["url"] == f"/rooms/{room}#m-{ack['seq']}"
    # The inbox has it too, and nothing is pushed twice.
    inbox = (await tomas.http.get("/api/notifications")).json()
    assert inbox["unread"] == 1 and inbox["notifications"][0]["kind"] == "message"
    await asyncio.sleep(1.0)
    assert len(push_service.to(phone)) == 1
    await chat.close()


async def test_a_push_the_service_fails_to_take_is_retried_with_back_off_until_delivered(push_service, tmp_path):
    # A server of its own: with a second process on the same database (the postgres servers of the suite
    # share one), either may take a retry, each with its own settings, and the gaps would mean nothing.
    process = ServerProcess(env=embedded_env(tmp_path, **RETRYING_PUSH, PUSH_ALLOWED_ORIGINS=push_service.origin))
    process.start()
    try:
        amina, tomas = await Api.register(process.url), await Api.register(process.url)
        phone = Device(push_service)
        push_service.hang_s = PUSH_TIMEOUT_S + 1
        # The push service first says nothing (the sender times out), then is overloaded twice, then takes it.
        push_service.troubles[phone.name] = [HANG, 503, 503]
        await subscribed(tomas, phone)
        room = (await amina.http.post("/api/dms", json={"members": [tomas.id]})).json()["id"]
        chat = await amina.connect(process.ws_url)
        ack = await chat.say(room, "Can you take the night shift?")
        await wait_for_push(push_service, phone, count=4, timeout=15)
        await asyncio.sleep(3.5)   # longer than the claim: a push not marked sent would have gone again
        await chat.close()
    finally:
        process.cleanup()
    tries = push_service.to(phone)
    assert len(tries) == 4
    gaps = [later.at - earlier.at for earlier, later in zip(tries, tries[1:])]
    # Each retry waits for its back-off, twice the one before (the first one after the timeout too).
    assert gaps[0] >= PUSH_TIMEOUT_S + PUSH_RETRY_S - 0.05, gaps
    assert gaps[1] >= 2 * PUSH_RETRY_S - 0.05 and gaps[2] >= 4 * PUSH_RETRY_S - 0.05, gaps
    assert all(gap < 4 * PUSH_RETRY_S + PUSH_TIMEOUT_S + 3 for gap in gaps), gaps   # retried, not dropped
    delivered = phone.decrypt(tries[-1])
    assert delivered["room"] == room and delivered["seq"] == ack["seq"]
    assert len({p.headers["topic"] for p in tries}) == 1   # the same push each time


async def test_previews_when_the_member_asks_and_410_removes_the_subscription(push_server, push_service):
    amina, tomas = await Api.register(push_server.url), await Api.register(push_server.url)
    assert (await tomas.http.put("/api/me/preferences", json={"push_previews": True})).status_code == 200
    laptop, old_phone = Device(push_service), Device(push_service)
    push_service.gone.add(old_phone.name)
    await subscribed(tomas, laptop)
    await subscribed(tomas, old_phone)
    room = (await amina.http.post("/api/dms", json={"members": [tomas.id]})).json()["id"]
    chat = await amina.connect(push_server.ws_url)
    await chat.say(room, "First note")
    await wait_for_push(push_service, laptop)
    await wait_for_push(push_service, old_phone)
    assert laptop.decrypt(push_service.to(laptop)[0])["body"] == "First note"

    await chat.say(room, "Second note")
    await wait_for_push(push_service, laptop, count=2)
    await asyncio.sleep(0.6)
    assert len(push_service.to(old_phone)) == 1   # its subscription was deleted after the 410
    await chat.close()


async def test_endpoints_off_the_allow_list_are_refused(push_server, push_service):
    tomas = await Api.register(push_server.url)
    good = Device(push_service).subscription()
    for endpoint in ("https://push.evil.example/abc", "http://127.0.0.1:1/push/x", "http://localhost:6379/",
                     "file:///etc/passwd", push_service.origin.replace("http:", "https:") + "/push/x"):
        refused = await tomas.http.post("/api/push/subscriptions", json={**good, "endpoint": endpoint})
        assert refused.status_code == 422 and refused.json()["error"]["field"] == "endpoint", endpoint
    bad_key = await tomas.http.post("/api/push/subscriptions",
                                    json={**good, "keys": {**good["keys"], "p256dh": "A" * 87}})
    assert bad_key.status_code == 422
    anonymous = await httpx.AsyncClient(base_url=push_server.url).post("/api/push/subscriptions", json=good)
    assert anonymous.status_code == 401
    deleted = await tomas.http.request("DELETE", "/api/push/subscriptions", json={"endpoint": good["endpoint"]})
    assert deleted.status_code == 204


async def test_a_server_killed_after_claiming_a_push_sends_it_once_after_restart(push_service, tmp_path):
    process = ServerProcess(env=embedded_env(tmp_path, **FAST_PUSH, PUSH_ALLOWED_ORIGINS=push_service.origin,
                                             CONVENE_TEST_FAULT="push.claimed:kill"))
    process.start()
    try:
        amina, tomas = await Api.register(process.url), await Api.register(process.url)
        phone = Device(push_service)
        await subscribed(tomas, phone)
        room = (await amina.http.post("/api/dms", json={"members": [tomas.id]})).json()["id"]
        chat = await amina.connect(process.ws_url)
        await chat.say(room, "Sent just before the crash")
        await asyncio.to_thread(process.wait, 10)   # SIGKILLed itself right after claiming the job
        await chat.close()
        assert push_service.to(phone) == []
        del process.env["CONVENE_TEST_FAULT"]
        process.start()
        await wait_for_push(push_service, phone, timeout=10)
        await asyncio.sleep(2.0)   # longer than the claim: a second send would have happened by now
        assert len(push_service.to(phone)) == 1
        assert phone.decrypt(push_service.to(phone)[0])["room"] == room
    finally:
        process.cleanup()
