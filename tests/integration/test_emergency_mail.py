"""Alert reminders and digests through the outbox, delivered by SMTP to a local aiosmtpd server.

Reminders run on two processes sharing Postgres and Redis: the database decides which process
sends each reminder and each e-mail, so nobody gets one twice and acknowledgers get none.
"""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import embedded_env, shared_env
from tests.support.client import Api
from tests.support.emergency import SmtpSink, open_emergency, responders
from tests.support.mail import verified_address
from tests.support.services import ServerProcess

RENOTIFY_S = 2.0
MAIL_ENV = {"ALERT_RENOTIFY_S": str(RENOTIFY_S), "ALERT_RENOTIFY_MAX": "2", "EMERGENCY_JOB_INTERVAL_S": "0.2"}
ORGS = ["IFRC", "WHO", "Local NGO", "MSF"]


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def mail_server(request: pytest.FixtureRequest, smtp: SmtpSink) -> Iterator[ServerProcess]:
    data_dir = Path(tempfile.mkdtemp(prefix=f"convene-mail-{request.param}-"))
    extra = {**MAIL_ENV, **smtp.env()}
    if request.param == "embedded":
        env = embedded_env(data_dir, **extra)
    else:
        env = shared_env(request.getfixturevalue("postgres"), request.getfixturevalue("redis_server"),
                         data_dir, **extra)
    process = ServerProcess(env=env)
    process.start()
    yield process
    process.cleanup()


@pytest.fixture(scope="module")
def mail_cluster(postgres, redis_server, smtp: SmtpSink) -> Iterator[list[ServerProcess]]:
    data_dir = Path(tempfile.mkdtemp(prefix="convene-mail-cluster-"))
    processes = [ServerProcess(env=shared_env(postgres, redis_server, data_dir, **MAIL_ENV, **smtp.env()))
                 for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


async def with_address(api: Api, smtp: SmtpSink) -> str:
    """Mail goes only to verified addresses (docs/notifications.md): set one and follow its link. Alerts
    also reach members as notification e-mails; this module counts the reminders, so those are off."""
    address = await verified_address(api, smtp.inbox, forget=True)
    response = await api.http.put("/api/me/preferences", json={"channels": {"alert": ["push"]}})
    assert response.status_code == 200, response.text
    return address


def minute(ts: str) -> str:
    return datetime.fromisoformat(ts).astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


async def test_reminders_reach_only_those_who_have_not_acknowledged(mail_cluster, smtp):
    one, two = mail_cluster
    coordinator, bob, carol, dave = await responders([one.url, two.url, one.url, two.url], ORGS)
    room = await open_emergency(coordinator, [bob, carol, dave])
    addresses = {api.id: await with_address(api, smtp) for api in (coordinator, bob, carol, dave)}
    c, cl = await coordinator.connect(one.ws_url), await carol.connect(one.ws_url)
    b, d = await bob.connect(two.ws_url), await dave.connect(two.ws_url)
    for client in (c, cl, b, d):
        await client.subscribe(room)

    posted = await c.request({"type": "alert", "room": room, "client_id": "quake-1",
                              "body": "Aftershock expected: stay out of damaged buildings"})
    assert posted["type"] == "ack"
    await b.wait_for(lambda f: f["type"] == "alert" and f["seq"] == posted["seq"])   # the other process
    acked = await b.request({"type": "alert.ack", "room": room, "alert": posted["seq"]})
    assert acked["type"] == "ack"
    live = await c.wait_for(lambda f: f["type"] == "alert.ack")   # back on the first process, live
    assert live["alert"] == posted["seq"] and live["sender"]["id"] == bob.id
    view = (await coordinator.http.get(f"/api/emergencies/{room}/alerts/{posted['seq']}")).json()
    assert [a["member"]["id"] for a in view["acknowledged"]] == [bob.id]
    assert {m["id"] for m in view["pending"]} == {carol.id, dave.id}

    first = await cl.wait_for(lambda f: f["type"] == "alert.reminder", timeout=RENOTIFY_S * 10)
    # Once in a full suite's run the first frame seen was round 2 (round 1's ephemeral frame never
    # came): the servers' logs say whether a broker reconnect or a failed pass was behind it.
    assert first["alert"] == posted["seq"] and set(first["to"]) == {carol.id, dave.id} and first["reminder"] == 1, \
        (first, one.log_tail(40), two.log_tail(40))
    await d.wait_for(lambda f: f["type"] == "alert.reminder")
    await smtp.inbox.wait_for(addresses[carol.id])
    mail = (await smtp.inbox.wait_for(addresses[dave.id]))[0]
    assert "Aftershock expected: stay out of damaged buildings" in mail.get_content()
    assert mail["Subject"] == "[Convene] Unacknowledged alert: Typhoon response"

    # Dave acknowledges on the second process: the next round is Carol's alone.
    await d.request({"type": "alert.ack", "room": room, "alert": posted["seq"]})
    start = len(cl.frames)
    second = await cl.wait_for(lambda f: f["type"] == "alert.reminder", timeout=RENOTIFY_S * 10, start=start)
    assert second["to"] == [carol.id] and second["reminder"] == 2
    await smtp.inbox.wait_for(addresses[carol.id], count=2)
    await asyncio.sleep(RENOTIFY_S * 2)   # ALERT_RENOTIFY_MAX=2: no third round, and no e-mail twice
    assert len(smtp.inbox.to(addresses[carol.id])) == 2
    assert len(smtp.inbox.to(addresses[dave.id])) == 1
    assert smtp.inbox.to(addresses[bob.id]) == [] and smtp.inbox.to(addresses[coordinator.id]) == []
    for client in (c, cl, b, d):
        await client.close()


async def test_the_digest_has_exactly_what_changed_since_the_last_look(mail_server, smtp):
    coordinator, bob, carol = await responders([mail_server.url], ORGS[:3])
    room = await open_emergency(coordinator, [bob, carol])
    address = await with_address(bob, smtp)
    me = bob.member["username"]
    c, cl, b = (await coordinator.connect(mail_server.ws_url), await carol.connect(mail_server.ws_url),
                await bob.connect(mail_server.ws_url))
    for client in (c, cl, b):
        await client.subscribe(room)
    sitreps = f"/api/emergencies/{room}/sitrep"

    # Before Bob's last look: not in the digest.
    await coordinator.http.post(sitreps, json={"title": "Day 1", "body": "Roads closed.", "base_version": 0})
    await c.say(room, f"@{me} welcome aboard")
    before = datetime.now(timezone.utc)
    looked = (await bob.http.get(f"/api/emergencies/{room}/digest")).json()
    assert [item["section"] for item in looked["items"]] == ["Situation report", "Mentions"]

    # After it: exactly these.
    alert = (await coordinator.http.post(f"/api/emergencies/{room}/alerts",
                                         json={"client_id": "a-1", "body": "Aftershock expected tonight"})).json()
    day2 = (await coordinator.http.post(sitreps, json={"title": "Day 2", "body": "Two teams.", "base_version": 1})).json()
    await carol.http.post(f"/api/emergencies/{room}/fourw", json={
        "activity": "Child friendly spaces", "layer": "community_family", "country": "PH",
        "admin_area": "Leyte", "start_date": "2026-11-02", "end_date": "2026-12-31"})
    mention = await c.say(room, f"Can @{me} cover\nPalo tomorrow?")
    await c.say(room, "no mention here")
    await cl.say(room, f"@{coordinator.member['username']} not for Bob; nor is @{me}x")
    await b.say(room, f"@{me} a note to myself")
    deleted = await c.say(room, f"@{me} sent by mistake")
    await c.request({"type": "delete", "room": room, "target": deleted["seq"]})

    sent = await bob.http.post(f"/api/emergencies/{room}/digest")
    assert sent.status_code == 202
    since = datetime.fromisoformat(sent.json()["since"])
    assert before <= since <= datetime.now(timezone.utc)
    # Bob has not acknowledged the alert: its reminders may reach him too; the digest is the one e-mail here.
    def digests() -> list:
        return [m for m in smtp.inbox.to(address) if m["Subject"] == "[Convene] Digest: Typhoon response"]

    await smtp.inbox.wait_for(address)
    for _ in range(100):
        if digests():
            break
        await asyncio.sleep(0.1)
    mail = digests()[0]
    coordinator_name, carol_name = coordinator.member["display_name"], carol.member["display_name"]
    assert mail.get_content().replace("\r\n", "\n") == "\n".join([
        "Convene digest: Typhoon response (Eastern Visayas), active since 2026-11-01",
        f"Changes since {since:%Y-%m-%d %H:%M} UTC: 4",
        "Alerts waiting for your acknowledgement: 1",
        "",
        "Alerts",
        f"- {minute(alert['ts'])} {coordinator_name}: Aftershock expected tonight",
        "",
        "Situation report",
        f"- version 2 \"Day 2\" by {coordinator_name} at {minute(day2['ts'])}",
        "",
        "4Ws",
        (f"- added by {carol_name}: Local NGO, Child friendly spaces (Community and family supports), "
         "PH Leyte, from 2026-11-02 to 2026-12-31"),
        "",
        "Mentions",
        f"- {coordinator_name} at {minute(mention['ts'])}: Can @{me} cover Palo tomorrow?",
    ]) + "\n"

    # Sending it counts as a look: the small page now has nothing new.
    page = await bob.http.get(f"/emergencies/{room}/digest")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    assert page.text.endswith("\nNothing new.\n") and "Changes since" in page.text
    assert len(digests()) == 1
    for client in (c, cl, b):
        await client.close()


async def test_a_digest_needs_a_notification_address(mail_server):
    coordinator, = await responders([mail_server.url], ORGS[:1])
    room = await open_emergency(coordinator, [])
    refused = await coordinator.http.post(f"/api/emergencies/{room}/digest")
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "email"
    bad = await coordinator.http.put("/api/me/notifications", json={"email": "not an address"})
    assert bad.status_code == 422
