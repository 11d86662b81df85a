"""Media signalling from a socket on a process that does not own the webinar's media (two processes, Postgres + Redis).

No media flows here (the offers are never negotiated past the checks); tests/media/test_media_anywhere.py
has real peers. What this shows: the owner is whoever took the lease, the other process relays
to it, every relayed request is authorized on the owner for the member and socket it names, and
a message forged on the broker — unsigned, replayed, or signed but for a member who may not — is
refused there.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import uuid

import asyncpg
import orjson
import redis.asyncio as aioredis

from tests.conftest import FAST, shared_env
from tests.media.peers import live_webinar
from tests.support.client import Api
from tests.support.metrics import metric
from tests.support.services import ServerProcess

OFFER = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"   # refused before it is read, or as bad SDP

# Who may send each media frame, checked below (the authorization matrix, tests/integration/
# test_authorization_matrix.py, has its own rows for these frames): each media frame sent from a
# socket on the process that does NOT own the webinar's media, by who sends it, and the reply its
# sender gets (a frame type, or an error code). The owner decides every one of them.
AUTHZ_ROWS: list[tuple[str, str, str]] = [
    ("media.watch", "registrant", "media.publishers"),
    ("media.watch", "host", "media.publishers"),
    ("media.watch", "not registered", "forbidden"),
    ("media.watch", "removed", "forbidden"),
    ("media.view", "not registered", "forbidden"),
    ("media.view", "removed", "forbidden"),
    ("media.view", "registrant, nobody publishing", "not_found"),
    ("media.publish", "registrant (not promoted)", "forbidden"),
    ("media.publish", "not registered", "forbidden"),
    ("media.publish", "host, broken offer", "bad_request"),
    ("media.stop", "registrant", "media.stopped"),
]


async def _webinar(owner: ServerProcess) -> tuple[Api, int, dict[str, Api]]:
    host, webinar, (registrant, removed) = await live_webinar(owner, 2)
    people = {"registrant": registrant, "removed": removed, "stranger": await Api.register(owner.url)}
    assert (await host.http.post(f"/api/webinars/{webinar['id']}/remove",
                                 json={"member_id": removed.id})).status_code == 200
    return host, webinar["id"], people


async def _owner_of(postgres_url: str, webinar_id: int) -> str:
    conn = await asyncpg.connect(postgres_url)
    try:
        return await conn.fetchval("SELECT owner FROM media_leases WHERE webinar_id = $1", webinar_id)
    finally:
        await conn.close()


async def test_sockets_on_the_other_process_are_relayed_to_the_owner_and_authorized_there(cluster, postgres):
    owner, other = cluster
    host, wid, people = await _webinar(owner)
    host_here = await host.connect(owner.ws_url)
    listed = await host_here.request({"type": "media.watch", "webinar": wid})   # takes the lease: `owner` owns it
    assert listed["type"] == "media.publishers", listed
    relayed_before = await metric(other.url, 'convene_media_relay_requests_total{op="watch"}')
    sockets = {"host": await host.connect(other.ws_url),
               **{name: await api.connect(other.ws_url) for name, api in people.items()}}
    who = {"registrant": "registrant", "host": "host", "not registered": "stranger", "removed": "removed",
           "registrant, nobody publishing": "registrant", "registrant (not promoted)": "registrant",
           "host, broken offer": "host"}
    frames = {"media.watch": {"type": "media.watch", "webinar": wid},
              "media.view": {"type": "media.view", "webinar": wid, "publisher": host.id, "sdp": OFFER},
              "media.publish": {"type": "media.publish", "webinar": wid, "sdp": OFFER},
              "media.stop": {"type": "media.stop", "webinar": wid}}
    for frame_type, caller, expected in AUTHZ_ROWS:
        frame = dict(frames[frame_type])
        if caller == "host, broken offer":
            frame["sdp"] = "m=video x\r\nv=?"   # garbage SDP (a NUL would be refused before, as disallowed_characters)
        reply = await sockets[who[caller]].request(frame, timeout=15)
        got = reply["code"] if reply["type"] == "error" else reply["type"]
        assert got == expected, (frame_type, caller, reply)
    # They really went to the owner: the other process relayed them, and holds no media session of its own.
    assert f":{owner.pid}:" in await _owner_of(postgres.url, wid)
    assert await metric(other.url, 'convene_media_relay_requests_total{op="watch"}') >= relayed_before + 4
    assert await metric(other.url, "convene_media_sessions_owned") == 0
    assert await metric(owner.url, "convene_media_sessions_owned") >= 1
    for client in (host_here, *sockets.values()):
        await client.close()
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200


def _signed(secret: str, message: dict) -> str:
    key = hmac.new(secret.encode(), b"convene media relay v1", hashlib.sha256).digest()
    body = orjson.dumps(message)
    return f"{hmac.new(key, body, hashlib.sha256).hexdigest()}.{body.decode()}"


async def test_a_message_forged_on_the_broker_cannot_bypass_the_owners_checks(cluster, postgres, redis_server):
    owner, other = cluster
    host, wid, people = await _webinar(owner)
    host_here = await host.connect(owner.ws_url)
    assert (await host_here.request({"type": "media.watch", "webinar": wid}))["type"] == "media.publishers"
    owner_id = await _owner_of(postgres.url, wid)
    redis = aioredis.Redis.from_url(redis_server.url)
    listener = redis.pubsub()
    await listener.subscribe("convene:media:forger")
    forged_before = await metric(owner.url, 'convene_media_relay_failures_total{reason="forged"}')
    replayed_before = await metric(owner.url, 'convene_media_relay_failures_total{reason="replayed"}')

    def request(member_id: int, op: str = "publish", **extra) -> dict:
        return {"k": "req", "id": f"forger/{uuid.uuid4().hex}", "op": op, "v": 1, "src": "forger", "ts": time.time(),
                "body": {"webinar": wid, "member": member_id, "conn": uuid.uuid4().hex[:16], "sdp": OFFER,
                         "kinds": ["audio"], **extra}}

    async def answer(timeout: float = 5.0) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            message = await listener.get_message(ignore_subscribe_messages=True, timeout=0.5)
            if message is not None:
                return orjson.loads(message["data"].decode().partition(".")[2])
        return None

    channel = f"convene:media:{owner_id}"
    # Unsigned (or signed with another key): dropped on arrival, no answer, counted.
    await redis.publish(channel, "0" * 64 + "." + orjson.dumps(request(host.id)).decode())
    await redis.publish(channel, _signed("another deployment's key", request(host.id)))
    assert await answer(2.0) is None
    # Signed with this deployment's key, but naming an attendee who was not promoted: the owner's own check refuses.
    forged = request(people["registrant"].id)
    await redis.publish(channel, _signed(FAST["SECRET_KEY"], forged))
    refused = await answer()
    assert refused is not None and refused["id"] == forged["id"] and refused["error"]["code"] == "forbidden", refused
    # The same request sent again is a replay: dropped without an answer.
    await redis.publish(channel, _signed(FAST["SECRET_KEY"], forged))
    assert await answer(2.0) is None
    # A socket of the owner's own process cannot be claimed from elsewhere.
    hello = host_here.frames[0]
    claimed = request(host.id, op="stop", conn=hello["connection"], publisher=None)
    await redis.publish(channel, _signed(FAST["SECRET_KEY"], claimed))
    taken = await answer()
    assert taken is not None and taken["error"]["code"] == "forbidden", taken
    assert await metric(owner.url, 'convene_media_relay_failures_total{reason="forged"}') == forged_before + 2
    assert await metric(owner.url, 'convene_media_relay_failures_total{reason="replayed"}') == replayed_before + 1
    await listener.aclose()
    await redis.aclose()
    await host_here.close()
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200


async def test_the_media_moves_when_its_owner_stops_and_sockets_elsewhere_are_told(cluster, postgres):
    """The owner's lease is made to lapse and pass to a process that is gone (as after a SIGKILL; the shared cluster
    must not be killed, tests/media/test_media_anywhere.py kills its own): the old owner drops its session, the
    other process's socket is told media.moved, and its next watch takes the media over."""
    owner, other = cluster
    host, wid, people = await _webinar(owner)
    host_here = await host.connect(owner.ws_url)
    assert (await host_here.request({"type": "media.watch", "webinar": wid}))["type"] == "media.publishers"
    viewer = await people["registrant"].connect(other.ws_url)
    assert (await viewer.request({"type": "media.watch", "webinar": wid}))["type"] == "media.publishers"
    conn = await asyncpg.connect(postgres.url)
    try:
        await conn.execute("UPDATE media_leases SET owner = 'gone:1:dead', epoch = epoch + 1, "
                           "expires_at = now() - interval '1 second' WHERE webinar_id = $1", wid)
        moved = await viewer.wait_for(lambda f: f["type"] == "media.moved", timeout=10)
        assert moved == {"type": "media.moved", "webinar": wid}
        again = await viewer.request({"type": "media.watch", "webinar": wid}, timeout=15)
        assert again["type"] == "media.publishers", again
        assert await conn.fetchval("SELECT owner FROM media_leases WHERE webinar_id = $1", wid) != "gone:1:dead"
    finally:
        await conn.close()
    await asyncio.gather(viewer.close(), host_here.close())
    assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200


async def test_a_process_that_stops_gracefully_hands_the_media_over_at_once(postgres, redis_server, tmp_path):
    """Its own two processes (the shared cluster must keep running): the owner gets SIGTERM, as in a deploy."""
    owner, other = [ServerProcess(env=shared_env(postgres, redis_server, tmp_path)) for _ in range(2)]
    for process in (owner, other):
        process.start()
    try:
        host, wid, people = await _webinar(owner)
        host_here = await host.connect(owner.ws_url)
        assert (await host_here.request({"type": "media.watch", "webinar": wid}))["type"] == "media.publishers"
        viewer = await people["registrant"].connect(other.ws_url)
        assert (await viewer.request({"type": "media.watch", "webinar": wid}))["type"] == "media.publishers"
        stopping = time.monotonic()
        owner.terminate()
        moved = await viewer.wait_for(lambda f: f["type"] == "media.moved", timeout=10)
        told_after = time.monotonic() - stopping
        again = await viewer.request({"type": "media.watch", "webinar": wid}, timeout=15)
        taken_after = time.monotonic() - stopping
        assert moved == {"type": "media.moved", "webinar": wid}
        assert again["type"] == "media.publishers", again
        # No lease had to lapse: the stopping owner gave it up (MEDIA_LEASE_S is 3 s).
        assert told_after < 2.5 and taken_after < 3.0, (told_after, taken_after)
        assert f":{other.pid}:" in await _owner_of(postgres.url, wid)
        owner.wait(15)   # uvicorn re-raises the SIGTERM once it has shut down cleanly
        assert "media: stopped" in owner.log_tail(200)
        await viewer.close()
    finally:
        for process in (owner, other):
            process.cleanup()
