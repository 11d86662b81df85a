"""GET /metrics: what a burst of messages moves, and who may read it (issue 14, item 1)."""

from __future__ import annotations

import asyncio
import socket
from typing import Iterator

import httpx
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import embedded_env
from tests.support.client import Api, ChatClient
from tests.support.netns import run_scenario
from tests.support.services import ServerProcess

BURST = 25
# A server where the rarer events are quick to cause: a send queue of a few frames, long messages to
# fill a socket's buffers with, a small per-socket message burst, and two failed log-ins per name.
TIGHT = {"SEND_QUEUE_FRAMES": "4", "MAX_BODY_CHARS": "60000", "MAX_FRAME_BYTES": "131072",
         "MESSAGE_RATE": "1", "MESSAGE_BURST": "50", "LIMIT_USERNAME_LOGIN_FAILURES": "1/60:2"}

# Who reads /metrics, checked by the tests below (the authorization matrix, tests/integration/
# test_authorization_matrix.py, has its own row for it): it does not depend on who the member is,
# only on where the request comes from and on METRICS_TOKEN. From loopback without METRICS_TOKEN
# every caller reads it; from anywhere else, or with METRICS_TOKEN set and not sent, every caller
# gets 404 (the scenario test below).
METRICS_AUTHORIZATION_ROWS = {
    ("GET", "/metrics"): {role: 200 for role in ("anonymous", "non-member", "member", "muted", "banned",
                                                 "moderator", "owner", "site admin")},
}


async def scrape(base_url: str) -> dict[tuple[str, tuple], float]:
    """Every sample of the server's /metrics, by (name, sorted labels)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text) for sample in family.samples}


def moved(before: dict, after: dict, name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


async def test_a_burst_of_n_messages_moves_the_stored_counter_by_exactly_n(server) -> None:
    sender, reader = await Api.register(server.url), await Api.register(server.url)
    room = await sender.create_room("metrics burst")
    assert (await reader.join(room)).status_code == 200
    sending, reading = await sender.connect(server.ws_url), await reader.connect(server.ws_url)
    await reading.subscribe(room)
    before = await scrape(server.url)

    acks = await asyncio.gather(*(sending.say(room, f"burst {n}") for n in range(BURST)))
    assert all(ack["type"] == "ack" and not ack["duplicate"] for ack in acks)
    await sending.say(room, "burst 0", client_id=acks[0]["client_id"])   # a resend: stored once, not counted
    await reading.wait_for_seq(room, max(ack["seq"] for ack in acks))
    await reading.request({"type": "history", "room": room})
    assert (await reader.http.get(f"/api/rooms/{room}/messages")).status_code == 200
    after = await scrape(server.url)

    assert moved(before, after, "convene_messages_stored_total") == BURST
    # One observation per event on this process (the reader's socket got each), not one per socket.
    assert moved(before, after, "convene_fanout_seconds_count") == BURST
    assert moved(before, after, "convene_fanout_seconds_bucket", le="+Inf") == BURST
    assert moved(before, after, "convene_frames_received_total", type="send") == BURST + 1
    assert moved(before, after, "convene_frames_sent_total", type="ack") == BURST + 1
    assert moved(before, after, "convene_frames_sent_total", type="message") == BURST
    assert moved(before, after, "convene_history_seconds_count", via="socket") == 1
    assert moved(before, after, "convene_history_seconds_count", via="http") == 1
    assert after[("convene_open_sockets", ())] >= 2
    assert after[("convene_handshakes_total", (("outcome", "accepted"),))] >= 2
    assert ("convene_recording_jobs", (("state", "failed"),)) in after
    assert ("convene_email_outbox_depth", (("state", "pending"),)) in after
    for client in (sending, reading):
        await client.close()
    for api in (sender, reader):
        await api.aclose()


async def test_from_loopback_without_a_token_the_caller_does_not_matter(server) -> None:
    member = await Api.register(server.url)
    expected = METRICS_AUTHORIZATION_ROWS[("GET", "/metrics")]
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as anonymous:
        assert (await anonymous.get("/metrics")).status_code == expected["anonymous"]
    assert (await member.http.get("/metrics")).status_code == expected["member"]   # a member's bearer token
    await member.aclose()


def test_metrics_are_not_found_from_elsewhere_and_need_the_token_once_it_is_set() -> None:
    """Real requests from an address that is not loopback (in a private network namespace), not a
    forged header: without METRICS_TOKEN only loopback reads /metrics; with it, only the token does."""
    statuses = run_scenario("tests.integration.metrics_access_scenario", timeout=90)
    assert statuses == {
        "no_token_from_loopback": 200,
        "no_token_from_elsewhere": 404,
        "no_token_from_elsewhere_with_a_bearer": 404,
        "token_set_from_loopback_without_it": 404,
        "token_set_from_loopback_wrong": 404,
        "token_set_from_elsewhere_without_it": 404,
        "token_set_from_elsewhere_wrong": 404,
        "token_set_from_elsewhere_with_it": 200,
        "token_set_from_loopback_with_it": 200,
    }


@pytest.fixture(scope="module")
def tight(tmp_path_factory) -> Iterator[ServerProcess]:
    process = ServerProcess(env=embedded_env(tmp_path_factory.mktemp("tight"), **TIGHT))
    process.start()
    yield process
    process.cleanup()


async def test_a_client_that_stops_reading_moves_the_4408_counter(tight) -> None:
    talker, sleeper = await Api.register(tight.url), await Api.register(tight.url)
    room = await talker.create_room("firehose")
    assert (await sleeper.join(room)).status_code == 200
    t = await talker.connect(tight.ws_url)
    for i in range(40):   # 2.4 MB of history: a few pages of it fill any socket's buffers
        assert (await t.say(room, f"{i} " + "x" * 59_000))["type"] == "ack"
    # A client that stops reading after its hello: a small fixed receive buffer, no compression.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", tight.port))
    stalled = await websockets.connect(tight.ws_url, sock=sock, max_queue=1, max_size=None, compression=None,
                                       additional_headers={"Authorization": f"Bearer {sleeper.token}"})
    before = await scrape(tight.url)
    for _ in range(4):
        await stalled.send('{"type":"history","room":%d,"limit":100}' % room)
    for _ in range(8):   # replies queued behind the history pages, more than the send queue holds
        await stalled.send('{"type":"ping"}')
    for _ in range(50):
        after = await scrape(tight.url)
        if moved(before, after, "convene_slow_consumer_closes_total"):
            break
        await asyncio.sleep(0.1)
    assert moved(before, after, "convene_slow_consumer_closes_total") == 1
    try:
        async for _ in stalled:   # draining what the socket buffered reveals the close code
            pass
    except websockets.ConnectionClosed:
        pass
    assert stalled.protocol.close_rcvd is not None and stalled.protocol.close_rcvd.code == 4408
    await t.close()


async def test_rate_limit_refusals_are_counted_by_the_limit_that_refused(tight) -> None:
    member = await Api.register(tight.url, password="correct horse")
    room = await member.create_room("too fast")
    client = await member.connect(tight.ws_url)
    before = await scrape(tight.url)
    replies = [await client.say(room, f"quick {n}") for n in range(55)]   # a burst of 50 per socket
    refused = [reply for reply in replies if reply["type"] == "error"]
    assert refused and all(reply["code"] == "rate_limited" for reply in refused)
    async with httpx.AsyncClient(base_url=tight.url, timeout=10) as http:
        logins = [(await http.post("/api/auth/login", json={"username": member.member["username"],
                                                            "password": "wrong"})).status_code for _ in range(4)]
    assert logins == [401, 401, 429, 429]
    after = await scrape(tight.url)

    refusals = "convene_rate_limit_refusals_total"
    assert moved(before, after, refusals, limit="socket_messages") == len(refused)
    assert moved(before, after, refusals, limit="username_login_failures") == 2
    assert moved(before, after, refusals, limit="member_messages") == 0
    await client.close()
