"""Notification e-mails with a real SMTP server (aiosmtpd): batched after the member's delay, only for what they
have not read, with a one-click unsubscribe that needs no session; quiet hours hold back ordinary mail and
never an emergency alert; webinar e-mails (registration with the .ics, reminder, recording ready) arrive
once each with two processes running the jobs."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from recordings.archive.schema import recordings
from tests.conftest import backend_env, shared_env
from tests.support.client import Api
from tests.support.emergency import SmtpSink, open_emergency
from tests.support.mail import links, verified_address
from tests.support.services import ServerProcess

# Each timing has its own delay, in the order of production's (120 s, 15 min, 1 h, 1 day) but shrunk:
# DELAY_S is the default timing's (every 15 minutes), the one most tests run with.
AT_ONCE_S = 0.5
DELAY_S = 2.0
HOURLY_S = 5.0
DAILY_S = 600.0
MAIL_ENV = {"EMERGENCY_JOB_INTERVAL_S": "0.2", "NOTIFY_JOB_INTERVAL_S": "0.2", "NOTIFY_SWEEP_S": "0.5",
            "NOTIFY_EMAIL_DELAYS_S": f"now={AT_ONCE_S},15min={DELAY_S},hourly={HOURLY_S},daily={DAILY_S}"}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SmtpSink]:
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def mail_server(request: pytest.FixtureRequest, smtp: SmtpSink) -> Iterator[ServerProcess]:
    process = ServerProcess(env=backend_env(request, "convene-notify", **MAIL_ENV, **smtp.env()))
    process.start()
    yield process
    process.cleanup()


async def people(server: ServerProcess, smtp: SmtpSink, n: int) -> list[Api]:
    found = [await Api.register(server.url) for _ in range(n)]
    for api in found[1:]:
        await verified_address(api, smtp.inbox, forget=True)
    return found


async def shared_room(owner: Api, others: list[Api], name: str = "Psychological first aid") -> int:
    room = await owner.create_room(name)
    for api in others:
        assert (await api.join(room)).status_code == 200
    return room


async def test_a_missed_mention_is_one_e_mail_after_the_delay_and_unsubscribing_needs_no_session(mail_server, smtp):
    amina, tomas = await people(mail_server, smtp, 2)
    address = f"{tomas.member['username']}@example.org"
    room = await shared_room(amina, [tomas])
    writer = await amina.connect(mail_server.ws_url)
    said = await writer.say(room, f"@{tomas.member['username']} could you send the supervision notes?")
    await asyncio.sleep(DELAY_S / 2)
    assert smtp.inbox.to(address) == []   # not before the delay: the member may still read it in the app
    mail = (await smtp.inbox.wait_for(address, timeout=DELAY_S + 8))[0]
    await asyncio.sleep(DELAY_S + 1)
    assert len(smtp.inbox.to(address)) == 1

    assert mail["Subject"] == f"[Convene] {amina.member['display_name']} mentioned you in Psychological first aid"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert "could you send the supervision notes?" in text
    # PUBLIC_URL is the same on every process of a deployment; here each test server has its own, and
    # the postgres servers of the suite share one database, so only the path is checked.
    assert any(link.endswith(f"/rooms/{room}#m-{said['seq']}") for link in links(mail))
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert f'/rooms/{room}#m-{said["seq"]}"' in html
    assert mail["Reply-To"].startswith("reply+")
    unsubscribe = mail["List-Unsubscribe"].strip("<>")
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    # RFC 8058: the mail client POSTs, with no cookie and no session; doing it twice is fine.
    async with httpx.AsyncClient() as anonymous:
        for _ in range(2):
            done = await anonymous.post(unsubscribe, content="List-Unsubscribe=One-Click",
                                        headers={"content-type": "application/x-www-form-urlencoded"})
            assert done.status_code == 200 and 'id="unsubscribed"' in done.text
        assert (await anonymous.get(unsubscribe)).status_code == 200   # a person's click shows a button
        forged = await anonymous.post(unsubscribe[:-3] + "abc")
        assert forged.status_code == 404
    prefs = (await tomas.http.get("/api/me/preferences")).json()
    assert prefs["channels"]["mention"] == ["push"] and prefs["channels"]["message"] == ["push"]
    await writer.say(room, f"@{tomas.member['username']} and one more thing")
    await asyncio.sleep(DELAY_S * 2 + 1)
    assert len(smtp.inbox.to(address)) == 1
    await writer.close()


async def test_reading_the_message_before_the_delay_means_no_e_mail(mail_server, smtp):
    amina, priya = await people(mail_server, smtp, 2)
    address = f"{priya.member['username']}@example.org"
    room = await shared_room(amina, [priya])
    dm = (await amina.http.post("/api/dms", json={"members": [priya.id]})).json()["id"]
    writer = await amina.connect(mail_server.ws_url)
    mention = await writer.say(room, f"@{priya.member['username']} are you joining the call?")
    private = await writer.say(dm, "Just between us: the schedule changed")
    reader = await priya.connect(mail_server.ws_url)   # Priya opens the app on her phone and reads both
    await reader.request({"type": "read", "room": room, "seq": mention["seq"]})
    await reader.request({"type": "read", "room": dm, "seq": private["seq"]})
    await reader.close()
    await asyncio.sleep(DELAY_S * 2 + 1.5)
    assert smtp.inbox.to(address) == []
    await writer.close()


async def test_at_once_mails_promptly_while_hourly_waits_and_gathers_the_missed_into_one_e_mail(mail_server, smtp):
    amina, tomas, priya = await people(mail_server, smtp, 3)
    for api, timing in ((tomas, "now"), (priya, "hourly")):
        changed = await api.http.put("/api/me/preferences", json={"email_timing": timing})
        assert changed.status_code == 200 and changed.json()["email_timing"] == timing
    tomas_address, priya_address = (f"{api.member['username']}@example.org" for api in (tomas, priya))
    room = await shared_room(amina, [tomas, priya])
    writer = await amina.connect(mail_server.ws_url)
    t, p = tomas.member["username"], priya.member["username"]
    first = await writer.say(room, f"@{t} @{p} the rota for next week is up")
    sent_at = asyncio.get_running_loop().time()

    await smtp.inbox.wait_for(tomas_address, timeout=AT_ONCE_S + 3)
    assert asyncio.get_running_loop().time() - sent_at < HOURLY_S - 1
    assert smtp.inbox.to(priya_address) == []   # hourly: nothing yet
    second = await writer.say(room, f"@{p} and could you cover Saturday?")

    mails = await smtp.inbox.wait_for(priya_address, timeout=HOURLY_S + 5)
    waited = asyncio.get_running_loop().time() - sent_at
    assert waited >= HOURLY_S - 0.5, waited
    # Her second mention was due a second later: it went in the same e-mail, not in one of its own.
    await asyncio.sleep(2.5)
    assert len(smtp.inbox.to(priya_address)) == 1 and len(smtp.inbox.to(tomas_address)) == 1
    digest = mails[0]
    assert digest["Subject"] == "[Convene] 2 things you missed"
    text = digest.get_body(preferencelist=("plain",)).get_content()
    assert "the rota for next week is up" in text and "could you cover Saturday?" in text
    assert {f"/rooms/{room}#m-{first['seq']}", f"/rooms/{room}#m-{second['seq']}"} <= {
        link[link.index("/rooms/"):] for link in links(digest) if "/rooms/" in link}
    assert digest["Reply-To"] is None   # two messages: a reply could not say which one it answers
    await writer.close()


async def test_an_e_mail_is_in_the_language_of_the_members_profile(mail_server, smtp):
    amina, claire = await people(mail_server, smtp, 2)
    address = f"{claire.member['username']}@example.org"
    changed = await claire.http.put("/api/me/preferences", json={"language": "fr", "email_timing": "now"})
    assert changed.status_code == 200 and changed.json()["language"] == "fr"
    room = await shared_room(amina, [claire], name="Premiers secours")
    writer = await amina.connect(mail_server.ws_url)
    await writer.say(room, f"@{claire.member['username']} tu as les notes de supervision ?")
    mail = (await smtp.inbox.wait_for(address, timeout=AT_ONCE_S + 5))[0]
    assert mail["Subject"] == f"[Convene] {amina.member['display_name']} vous a mentionné dans Premiers secours"
    text = mail.get_body(preferencelist=("plain",)).get_content()
    assert text.startswith(f"Bonjour {claire.member['display_name']},")
    assert "Arrêter ces e-mails" in text and "Stop these e-mails" not in text
    html = mail.get_body(preferencelist=("html",)).get_content()
    assert '<html lang="fr"' in html and "Ouvrir dans Convene" in html
    await writer.close()


async def test_quiet_hours_hold_back_ordinary_mail_but_never_an_emergency_alert(mail_server, smtp):
    amina, kofi = await people(mail_server, smtp, 2)
    address = f"{kofi.member['username']}@example.org"
    zone = "Asia/Tokyo"
    local = datetime.now(ZoneInfo(zone))
    quiet = {"start": (local - timedelta(hours=1)).strftime("%H:%M"), "end": (local + timedelta(hours=1)).strftime("%H:%M")}
    changed = await kofi.http.put("/api/me/preferences", json={"quiet_hours": quiet, "time_zone": zone,
                                                                "email_timing": "now"})
    assert changed.status_code == 200 and changed.json()["quiet_hours"] == quiet
    room = await shared_room(amina, [kofi])
    emergency = await open_emergency(amina, [kofi])
    writer = await amina.connect(mail_server.ws_url)
    await writer.say(room, f"@{kofi.member['username']} no rush: the report can wait until morning")
    await asyncio.sleep(DELAY_S * 2)
    assert smtp.inbox.to(address) == []
    await writer.request({"type": "alert", "room": emergency, "client_id": "flood-1",
                          "body": "Flooding near the clinic: move the team to the school"})
    mail = (await smtp.inbox.wait_for(address, timeout=10))[0]
    assert mail["Subject"] == "[Convene] Emergency alert in Typhoon response"
    assert "Flooding near the clinic" in mail.get_body(preferencelist=("plain",)).get_content()
    await asyncio.sleep(DELAY_S + 1)
    assert len(smtp.inbox.to(address)) == 1   # the held-back mention did not ride along
    await writer.close()


# --- Webinar e-mails, with two processes running the jobs -----------------------------------------


@pytest.fixture(scope="module")
def mail_cluster(postgres, redis_server, smtp: SmtpSink) -> Iterator[list[ServerProcess]]:
    data_dir = Path(tempfile.mkdtemp(prefix="convene-notify-cluster-"))
    processes = [ServerProcess(env=shared_env(postgres, redis_server, data_dir, **MAIL_ENV, **smtp.env()))
                 for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


async def test_the_day_before_reminder_goes_to_those_who_registered_before_the_day_began(mail_cluster, smtp):
    one, two = mail_cluster
    host = await Api.register(one.url)
    early, late = await Api.register(two.url), await Api.register(one.url)
    early_address = await verified_address(early, smtp.inbox, forget=True)
    late_address = await verified_address(late, smtp.inbox, forget=True)
    # Starts a day and a few seconds from now: `early` registers before the day-before mark, `late` after it.
    starts = datetime.now(timezone.utc) + timedelta(hours=24, seconds=3)
    webinar = (await host.http.post("/api/webinars", json={
        "title": "Grief and loss in displacement", "description": "A practice webinar.", "language": "en",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "visibility": "public"})).json()
    assert (await early.http.post(f"/api/webinars/{webinar['id']}/register")).status_code in (200, 201, 204)
    await asyncio.sleep(max(0.0, (starts - timedelta(hours=24) - datetime.now(timezone.utc)).total_seconds()) + 0.3)
    assert (await late.http.post(f"/api/webinars/{webinar['id']}/register")).status_code in (200, 201, 204)

    mails = await smtp.inbox.wait_for(early_address, count=2, timeout=15)
    assert sorted(m["Subject"] for m in mails) == ["[Convene] Tomorrow: Grief and loss in displacement",
                                                   "[Convene] You are registered: Grief and loss in displacement"]
    assert [m["Subject"] for m in await smtp.inbox.wait_for(late_address, count=1, timeout=15)] == [
        "[Convene] You are registered: Grief and loss in displacement"]
    await asyncio.sleep(2.0)   # both processes ran their jobs several times meanwhile: nothing more, nothing twice
    assert len(smtp.inbox.to(early_address)) == 2 and len(smtp.inbox.to(late_address)) == 1


async def mark_recording_ready(database_url: str, webinar: dict) -> int:
    """What the recordings worker does when a webinar's archive job finishes (recordings/archive)."""
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    now = datetime.now(timezone.utc)
    async with engine.begin() as conn:
        recording_id = await conn.scalar(insert(recordings).values(
            title=webinar["title"], description="", language="en", visibility="public", state="ready",
            webinar_id=webinar["id"], room_id=webinar["room"], recorded_at=now, ended_at=now, duration_s=60.0,
            has_video=False, views=0, chapters=[], source_kind="live", source="/nowhere", search_text=webinar["title"],
            created_at=now).returning(recordings.c.id))
    await engine.dispose()
    return recording_id


async def test_webinar_e_mails_arrive_once_each_across_two_processes(mail_cluster, postgres, smtp):
    one, two = mail_cluster
    host = await Api.register(one.url)
    attendee = await Api.register(two.url)
    address = await verified_address(attendee, smtp.inbox, forget=True)
    starts = datetime.now(timezone.utc) + timedelta(minutes=10)
    webinar = (await host.http.post("/api/webinars", json={
        "title": "Supervision for lay counsellors", "description": "Cases and questions.", "language": "en",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "visibility": "public"})).json()
    assert (await attendee.http.post(f"/api/webinars/{webinar['id']}/register")).status_code in (200, 201, 204)

    mails = await smtp.inbox.wait_for(address, count=2, timeout=15)
    subjects = sorted(m["Subject"] for m in mails)
    assert subjects == ["[Convene] Supervision for lay counsellors starts in 15 minutes",
                        "[Convene] You are registered: Supervision for lay counsellors"]
    registered = next(m for m in mails if m["Subject"].startswith("[Convene] You are registered"))
    ics = next(part for part in registered.iter_attachments())
    assert ics.get_content_type() == "text/calendar" and ics.get_filename() == f"webinar-{webinar['id']}.ics"
    calendar = ics.get_content()
    calendar = calendar.decode() if isinstance(calendar, bytes) else calendar
    assert f"UID:webinar-{webinar['id']}@" in calendar and "SUMMARY;LANGUAGE=en:Supervision for lay counsellors" in calendar
    assert registered["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    inbox = (await attendee.http.get("/api/notifications")).json()["notifications"]
    assert [n["kind"] for n in inbox] == ["webinar.starting"] and inbox[0]["url"] == f"/webinars/{webinar['id']}/live"

    recording_id = await mark_recording_ready(postgres.url, webinar)
    ready = await smtp.inbox.wait_for(address, count=3, timeout=15)
    assert ready[-1]["Subject"] == "[Convene] The recording of Supervision for lay counsellors is ready"
    assert any(link.endswith(f"/recordings/{recording_id}") for link in links(ready[-1]))
    await asyncio.sleep(2.0)   # both processes ran their jobs several times meanwhile
    assert len(smtp.inbox.to(address)) == 3
    kinds = sorted(n["kind"] for n in (await attendee.http.get("/api/notifications")).json()["notifications"])
    assert kinds == ["recording.ready", "webinar.starting"]


async def test_a_member_who_turned_off_webinar_e_mails_gets_no_reminder(mail_cluster, smtp):
    one, two = mail_cluster
    host = await Api.register(one.url)
    keen, busy = await Api.register(one.url), await Api.register(two.url)
    keen_address = await verified_address(keen, smtp.inbox, forget=True)
    busy_address = await verified_address(busy, smtp.inbox, forget=True)
    changed = await busy.http.put("/api/me/preferences", json={"channels": {"webinar": ["push"]}})
    assert changed.status_code == 200 and changed.json()["channels"]["webinar"] == ["push"]
    starts = datetime.now(timezone.utc) + timedelta(minutes=10)
    webinar = (await host.http.post("/api/webinars", json={
        "title": "Self-care for responders", "description": "Short and practical.", "language": "en",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
        "visibility": "public"})).json()
    for api in (keen, busy):
        assert (await api.http.post(f"/api/webinars/{webinar['id']}/register")).status_code in (200, 201, 204)

    mails = await smtp.inbox.wait_for(keen_address, count=2, timeout=15)
    assert "[Convene] Self-care for responders starts in 15 minutes" in [m["Subject"] for m in mails]
    # Her reminder is in the inbox (and pushed, as she chose), just not e-mailed.
    deadline = asyncio.get_running_loop().time() + 10
    while not (inbox := (await busy.http.get("/api/notifications")).json()["notifications"]):
        assert asyncio.get_running_loop().time() < deadline, "no reminder in the inbox"
        await asyncio.sleep(0.2)
    assert [n["kind"] for n in inbox] == ["webinar.starting"]
    await asyncio.sleep(2.0)   # both processes ran their jobs several times meanwhile
    assert smtp.inbox.to(busy_address) == [] and len(smtp.inbox.to(keen_address)) == 2
