"""GET /metrics: what a burst of messages moves, and who may read it (issue 14, item 1)."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.support.client import Api
from tests.support.netns import run_scenario

BURST = 25

# Rows for the authorization matrix (tests/integration/test_authorization_matrix.py, once it is on
# main): /metrics does not depend on who the member is, only on where the request comes from and
# on METRICS_TOKEN. From loopback without METRICS_TOKEN every caller reads it; from anywhere else,
# or with METRICS_TOKEN set and not sent, every caller gets 404 (the scenario test below).
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
