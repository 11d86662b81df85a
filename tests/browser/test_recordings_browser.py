"""The recordings archive in Chromium: the catalogue finds a recording; the player plays it, shows captions,
resumes, switches to audio only; the discussion replays at its moments and jumps there; axe on both pages.

One recording, imported through the upload page and prepared by the server's own job, serves every test
(package scope: preparing it is the slow part)."""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid
from collections.abc import Coroutine, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from realtime.services import Services
from realtime.settings import Settings
from tests.browser.conftest import SCREENSHOTS, Person, new_person, run_axe, screenshot
from tests.browser.test_weight import BUDGET_BYTES, Transfers
from tests.conftest import FAST
from tests.support.client import Api
from tests.support.recording_sources import fake_live_dir, synthetic_file
from tests.support.services import ServerProcess

CLIP_S = 6.0
SAID_AT_S = 3.0   # the chat message's moment in the webinar's recording
READY_WITHIN_S = 60
CAPTIONS = "WEBVTT\n\n00:00.000 --> 00:30.000\nWelcome to the field session\n"


def wait_ready(person: Person, recording_id: int) -> dict:
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        rec = person.api("GET", f"/api/recordings/{recording_id}")
        assert rec["state"] != "failed", rec
        if rec["state"] == "ready":
            return rec
        time.sleep(0.5)
    pytest.fail(f"recording {recording_id} not ready within {READY_WITHIN_S} s: {rec}")


class Archive:
    """A host with one prepared recording, uploaded through the upload page."""

    def __init__(self, host: Person, recording_id: int, word: str) -> None:
        self.host, self.id, self.word = host, recording_id, word


@pytest.fixture(scope="package")
def archive(browser: Browser, site: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    host = new_person(browser, site, "Amina W.")
    word = "cholera" + uuid.uuid4().hex[:6]
    clip = synthetic_file(tmp_path_factory.mktemp("clip") / "session.mp4", seconds=CLIP_S)
    page = host.page
    page.goto("/recordings/import")
    assert run_axe(page) == []
    page.set_input_files("#i-file", str(clip))
    page.fill("#i-title", f"Oral rehydration in a {word} outbreak")
    page.fill("#i-description", "Field practice for community health workers.")
    page.fill("#i-tags", "wash, field")
    page.check("input[name=visibility][value=public]")
    page.click("#import-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/recordings/\d+$"))
    recording_id = int(page.url.rstrip("/").split("/")[-1])
    # The host's page follows the preparation and turns into the player by itself once it is ready.
    expect(page.locator("#player")).to_be_visible(timeout=READY_WITHIN_S * 1000)
    expect(page.locator("#job-state")).to_have_text("Ready")
    wait_ready(host, recording_id)
    yield Archive(host, recording_id, word)
    host.context.close()


def run_async(work: Coroutine[Any, Any, Any]) -> Any:
    """Runs a coroutine to the end in a thread of its own (Playwright's sync API holds this thread's loop)."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["value"] = asyncio.run(work)
        except BaseException as error:   # re-raised in the test's thread
            result["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


async def live_webinar_recording(site: ServerProcess, live_dir: Path) -> tuple[int, str]:
    """A public webinar with a chat message and a question, ended; then what the live packager does when a
    webinar ends (H-REC's Packager in tests/integration/test_recordings.py): live_finished over the same
    database, so that the server's worker prepares the recording. The stream is said to have started
    SAID_AT_S before the message, so the message belongs at that moment of the recording."""
    host, attendee = await Api.register(site.url, display_name="Dr Okafor"), await Api.register(site.url)
    starts = datetime.now().astimezone() + timedelta(minutes=5)
    response = await host.http.post("/api/webinars", json={
        "title": "Cholera treatment centres: questions from the field", "description": "Recorded live.",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})
    assert response.status_code == 201, response.text
    webinar = response.json()
    base = f"/api/webinars/{webinar['id']}"
    assert (await attendee.http.post(base + "/register")).status_code == 200
    assert (await host.http.post(base + "/start")).status_code == 200
    chat = await attendee.connect(site.ws_url)
    await chat.subscribe(webinar["room"])
    said = await chat.say(webinar["room"], "How much chlorine for a 20 litre jerrycan?")
    await chat.close()
    asked = await attendee.http.post(base + "/questions", json={"body": "Do you reuse the buckets?"})
    assert asked.status_code == 201, asked.text
    assert (await host.http.post(base + "/end")).status_code == 200
    services = Services.build(Settings.from_env({**FAST, **site.env}))
    try:
        started = datetime.fromisoformat(said["ts"]) - timedelta(seconds=SAID_AT_S)
        recording = await services.recordings.live_finished(webinar["id"], live_dir, started)
    finally:
        await services.stores.db.dispose()
    for api in (host, attendee):
        await api.aclose()
    assert recording is not None
    return recording.id, said["ts"]


def start_playing(page: Page) -> None:
    page.click("h1")   # a click is the user activation Chromium wants before media with sound plays
    start = page.evaluate("document.getElementById('player').currentTime")
    page.evaluate("document.getElementById('player').play()")
    page.wait_for_function(f"() => document.getElementById('player').currentTime > {start + 0.5}")


def first_load(browser: Browser, site: ServerProcess, person: Person, path: str) -> dict[str, int]:
    """Bytes on the wire for a cold visit (no cache, no service worker): the page and its shell, and the
    media the player fetches before anyone presses play."""
    context = browser.new_context(base_url=site.url, viewport={"width": 360, "height": 740})
    context.add_cookies(person.context.cookies())
    page = context.new_page()
    transfers = Transfers(context, page)
    transfers.cdp.send("Network.emulateNetworkConditions",   # measure bytes, not a slow link's time
                       {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    page.goto(path, wait_until="load")
    page.wait_for_timeout(500)   # the player's metadata request, if any
    context.close()
    media = sum(r["bytes"] for r in transfers.responses.values() if "/media/" in r["url"])
    return {"page_and_shell": transfers.total() - media, "media_before_play": media}


def test_catalogue_search_finds_the_recording(browser: Browser, site: ServerProcess, archive: Archive,
                                              people: list[Person]) -> None:
    reader = new_person(browser, site, "Tomás R.", width=360)
    people.append(reader)
    page = reader.page
    page.goto("/recordings")
    page.fill("#q", archive.word)
    page.click("#recording-search button[type=submit]")
    results = page.locator("#recordings li")
    expect(results).to_have_count(1)
    expect(results.first).to_contain_text(f"Oral rehydration in a {archive.word} outbreak")
    expect(results.first).to_contain_text("Amina W.")
    expect(results.first).to_contain_text("0:06")   # its duration
    page.fill("#q", archive.word + "zzz")
    page.click("#recording-search button[type=submit]")
    expect(page.locator("#none")).to_be_visible()
    page.goto(f"/recordings?q={archive.word}")
    screenshot(page, "en-recordings-360")
    assert run_axe(page) == []
    assert not reader.errors

    # Both pages fit the weight budget of a room's first load.
    weights = {"catalogue": first_load(browser, site, reader, f"/recordings?q={archive.word}"),
               "player": first_load(browser, site, reader, f"/recordings/{archive.id}")}
    (SCREENSHOTS.parent / "recordings-weight.json").write_text(json.dumps(weights, indent=1))
    assert all(w["page_and_shell"] <= BUDGET_BYTES for w in weights.values()), weights


def test_player_plays_with_captions_and_resumes(browser: Browser, site: ServerProcess, archive: Archive,
                                                people: list[Person], tmp_path: Path) -> None:
    # The host adds captions through the page.
    page = archive.host.page
    page.goto(f"/recordings/{archive.id}")
    vtt = tmp_path / "en.vtt"
    vtt.write_text(CAPTIONS)
    page.set_input_files("#e-vtt", str(vtt))
    page.fill("#e-vtt-label", "English")
    page.click("#captions-form button[type=submit]")
    expect(page.locator("#captions-form .status")).to_have_text("Captions added.")
    # ...and chapters, one a line; a chapter plays from its start.
    page.fill("#e-chapters", "0:00 Welcome\n0:04 Questions from the field")
    page.click("#chapters-form button[type=submit]")
    expect(page.locator("#chapters-form .status")).to_have_text("Saved.")
    page.get_by_role("link", name="0:04 Questions from the field").click()
    page.wait_for_function("() => document.getElementById('player').currentTime >= 4")
    screenshot(page, "en-recording-host-390")
    assert run_axe(page) == []   # the host's editing forms too

    viewer = new_person(browser, site, "Lucía", width=360)
    people.append(viewer)
    page = viewer.page
    page.goto(f"/recordings/{archive.id}")
    expect(page.locator("#downloads")).to_contain_text("Audio only (Opus) · ")
    expect(page.locator("#chapters a")).to_have_text(["0:00 Welcome", "0:04 Questions from the field"])
    start_playing(page)
    # The captions track the page was rendered with is shown, with the cue of this moment.
    page.wait_for_function("""() => { const t = document.getElementById('player').textTracks[0];
        return t && t.mode === 'showing' && t.activeCues && t.activeCues.length > 0; }""")
    assert page.evaluate("document.getElementById('player').textTracks[0].activeCues[0].text") \
        == "Welcome to the field session"
    screenshot(page, "en-recording-360")
    assert run_axe(page) == []

    # Pausing saves the place; the next visit starts there.
    page.evaluate("(() => { const v = document.getElementById('player'); v.currentTime = 4; })()")
    page.wait_for_function("() => document.getElementById('player').currentTime >= 4")
    page.evaluate("document.getElementById('player').pause()")
    page.wait_for_function(f"() => fetch('/api/recordings/{archive.id}').then(r => r.json())"
                           ".then(d => d.resume_s >= 3.9)")
    page.reload()
    expect(page.locator("#resume-note")).to_be_visible()
    expect(page.locator("#resume-text")).to_have_text("Resumed at 0:04.")

    # Audio only: the same element plays the Opus file from the same moment, and the choice is kept.
    page.check("input[name=mode][value=audio]")
    page.wait_for_function("() => document.getElementById('player').currentSrc.includes('audio.ogg')")
    start_playing(page)
    page.reload()
    expect(page.locator("input[name=mode][value=audio]")).to_be_checked()
    assert "audio.ogg" in page.evaluate("document.getElementById('player').src")
    assert not viewer.errors

    # Someone saving data (low-bandwidth mode; likewise Save-Data or a 2G link) gets audio only first,
    # logged out too: the recording is public.
    context = browser.new_context(base_url=site.url, viewport={"width": 360, "height": 740})
    context.add_cookies([{"name": "convene_lite", "value": "1", "url": site.url}])
    page = context.new_page()
    page.goto(f"/recordings/{archive.id}")
    expect(page.locator("input[name=mode][value=audio]")).to_be_checked()
    assert "audio.ogg" in page.evaluate("document.getElementById('player').src")
    assert page.evaluate("document.getElementById('player').preload") == "none"
    context.close()


def test_an_invite_only_recording_for_invited_members(browser: Browser, site: ServerProcess, archive: Archive,
                                                      people: list[Person]) -> None:
    guest = new_person(browser, site, "Invited guest")
    people.append(guest)
    host = archive.host.page
    host.goto(f"/recordings/{archive.id}")
    host.check("input[name=visibility][value=invite]")
    host.click("#edit-form button[type=submit]")
    expect(host.locator("#edit-form .status")).to_have_text("Saved.")
    try:
        guest.page.goto(f"/recordings/{archive.id}")
        expect(guest.page.locator("h1")).to_have_text("Not allowed")
        host.fill("#e-invite", guest.username)
        host.click("#invite button[type=submit]")
        expect(host.locator("#invite .saved")).to_have_text("Invited guest can now watch this recording.")
        guest.page.reload()
        expect(guest.page.locator("#player")).to_be_visible()
    finally:
        archive.host.api("PATCH", f"/api/recordings/{archive.id}", {"visibility": "public"})


def test_the_discussion_replays_at_its_moments_and_jumps_there(
        browser: Browser, site: ServerProcess, people: list[Person], tmp_path: Path) -> None:
    recording_id, _ = run_async(live_webinar_recording(site, fake_live_dir(tmp_path / "live", seconds=CLIP_S)))
    viewer = new_person(browser, site, "Tomás R.", width=360)
    people.append(viewer)
    wait_ready(viewer, recording_id)
    page = viewer.page
    page.goto(f"/recordings/{recording_id}")
    expect(page.locator("#replay li")).to_have_count(0)
    start_playing(page)
    # The message appears once playback reaches its moment, not before.
    message = page.locator("#replay li").first
    expect(message).to_contain_text("How much chlorine for a 20 litre jerrycan?")
    assert page.evaluate("document.getElementById('player').currentTime") >= SAID_AT_S
    expect(message.locator(".meta")).to_contain_text("at 0:03")
    expect(page.locator("#replay li.question")).to_contain_text("Do you reuse the buckets?")
    # Back to the start: the discussion is empty again; its jump button (all shown) plays from the moment.
    page.evaluate("document.getElementById('player').pause()")
    page.evaluate("document.getElementById('player').currentTime = 0")
    expect(page.locator("#replay li")).to_have_count(0)
    page.check("#replay-all")
    expect(page.locator("#replay li")).to_have_count(2)
    page.locator("#replay li").first.get_by_role("button", name="Play from 0:03").click()
    page.wait_for_function(f"() => Math.abs(document.getElementById('player').currentTime - {SAID_AT_S}) < 0.5")
    assert run_axe(page) == []
    assert not viewer.errors
