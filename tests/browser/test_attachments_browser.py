"""Attachments in Chromium: uploading with a progress bar, a voice note recorded with the fake microphone and
played back, hostile files that never run, photos held back in low-bandwidth mode, files queued offline."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, Playwright, expect

from rooms.attachments import samples
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, Person, new_person, run_axe, screenshot
from tests.support.services import ServerProcess

FAKE_MICROPHONE = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def _png(colour: str = "teal") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), colour).save(out, "PNG")
    return out.getvalue()


def _pick(page: Page, name: str, mime: str, data: bytes) -> None:
    page.set_input_files("#attach-file", files=[{"name": name, "mimeType": mime, "buffer": data}])


def _room_with(people: list[Person], browser: Browser, site: ServerProcess, *names: str) -> tuple[int, list[Person]]:
    made = [new_person(browser, site, name) for name in names]
    people += made
    room_id = made[0].create_room("Field materials")
    for person in made[1:]:
        person.join(room_id)
    for person in made:
        person.page.goto(f"/rooms/{room_id}")
        expect(person.page.locator("#room")).to_have_attribute("data-conn", "online")
    return room_id, made


def test_a_document_uploads_with_a_progress_bar_and_reaches_the_room(browser: Browser, site: ServerProcess,
                                                                     people: list[Person]) -> None:
    room_id, (amina, kofi) = _room_with(people, browser, site, "Amina", "Kofi")
    page = amina.page
    scripts: list[str] = []
    page.on("request", lambda request: scripts.append(request.url) if "attachments.js" in request.url else None)
    page.reload()
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    assert scripts == [], "attachments.js loads on first use, not with the room"

    # A slow uplink (about 2 Mbit/s), so the bar has time to move.
    cdp = amina.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20, "downloadThroughput": 2_000_000,
                                                  "uploadThroughput": 250_000})
    manual = samples.pdf("Community health worker manual", ["Module 1"], padding=1_500_000)
    page.fill("#body", "The manual, as promised")
    _pick(page, "CHW manual.pdf", "application/pdf", manual)
    bar = page.locator("#messages li.pending progress")
    expect(bar).to_be_visible()
    expect(bar).to_have_attribute("aria-label", "Uploading CHW manual.pdf")
    page.wait_for_function("() => { const p = document.querySelector('#messages li.pending progress');"
                           " return p && p.value > 0.1 && p.value < 0.9; }")
    screenshot(page, "attachment-progress")
    assert scripts and "?v=" in scripts[0]

    for person in (amina, kofi):
        link = person.page.locator("#messages li[data-seq] .att a", has_text="CHW manual.pdf")
        expect(link).to_be_visible(timeout=30_000)
        expect(person.page.locator("#messages li[data-seq] .att .att-size").last).to_have_text(re.compile(r"1[.,]\d MB"))
    expect(page.locator("#messages li.pending")).to_have_count(0)
    cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0, "downloadThroughput": -1,
                                                  "uploadThroughput": -1})
    with kofi.page.expect_download() as download:
        kofi.page.locator("#messages .att a", has_text="CHW manual.pdf").click()
    assert Path(download.value.path()).read_bytes() == manual
    assert download.value.suggested_filename == "CHW manual.pdf"

    # A photo too, then the room (server-rendered after a reload, and live) is checked with axe-core.
    _pick(page, "flipchart.png", "image/png", _png())
    expect(kofi.page.locator("#messages li[data-seq] .att img")).to_have_count(1)
    kofi.page.wait_for_function("() => document.querySelector('#messages .att img').naturalWidth > 0")
    assert run_axe(kofi.page) == []
    kofi.page.reload()
    expect(kofi.page.locator("#messages li[data-seq] .att img")).to_have_attribute("alt", "flipchart.png")
    assert run_axe(kofi.page) == []
    assert amina.errors == [] and kofi.errors == []


@pytest.fixture(scope="module")
def microphone_browser(playwright: Playwright) -> Iterator[Browser]:
    """Chromium with a fake microphone (a beep) that needs no permission prompt: for this module only."""
    instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + FAKE_MICROPHONE)
    yield instance
    instance.close()


def test_a_voice_note_recorded_in_the_browser_plays_back_for_everyone(microphone_browser: Browser,
                                                                      site: ServerProcess,
                                                                      people: list[Person]) -> None:
    room_id, (tomas, priya) = _room_with(people, microphone_browser, site, "Tomás", "Priya")
    page = tomas.page
    page.click("#record")
    expect(page.locator("#record")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#record-status")).to_contain_text("Recording")
    page.wait_for_timeout(2500)
    page.click("#record")
    expect(page.locator("#record")).to_have_attribute("aria-pressed", "false")

    for person in (tomas, priya):
        expect(person.page.locator("#messages li[data-seq] .att audio")).to_have_count(1, timeout=20_000)
    audio = priya.page.locator("#messages li[data-seq] .att audio")
    expect(audio).to_have_attribute("aria-label", re.compile(r"^Voice note: voice-note-.*\.webm$"))
    expect(priya.page.locator("#messages li[data-seq] .att .att-size")).to_have_text(re.compile(r"0:0[1-4]"))
    audio.evaluate("a => { a.muted = true; return a.play(); }")
    priya.page.wait_for_function("() => document.querySelector('#messages .att audio').currentTime > 0.5",
                                 timeout=15_000)
    played = audio.evaluate("a => ({duration: a.duration, error: a.error && a.error.message})")
    assert played["error"] is None and 1.5 < played["duration"] < 5, played
    assert tomas.errors == [] and priya.errors == []


def test_html_and_svg_posing_as_photos_never_run_script(browser: Browser, site: ServerProcess,
                                                       people: list[Person]) -> None:
    room_id, (amina, kofi) = _room_with(people, browser, site, "Amina", "Kofi")
    dialogs: list[str] = []
    for person in (amina, kofi):
        person.context.on("page", lambda p: p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss())))
        person.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    script = b"<script>alert('pwned'); window.pwned = 1; try { opener.pwned = 1; parent.pwned = 1 } catch (e) {}</script>"
    page = amina.page
    _pick(page, "photo.png", "image/png", b"<!DOCTYPE html><html><body>" + script + b"</body></html>")
    expect(page.locator("#messages li.failed .status")).to_contain_text("markup are not accepted")
    _pick(page, "image.png", "image/png",
          b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">' + script + b"</svg>")
    expect(page.locator("#messages li.failed")).to_have_count(2)

    # What is accepted is served inert: a PNG with a page appended after its end, and text holding a script.
    _pick(page, "poster.png", "image/png", _png("orange") + b"<html>" + script + b"</html>")
    _pick(page, "notes.html", "text/html", b"Agenda\n" + script)
    expect(kofi.page.locator("#messages li[data-seq] .att img[alt='poster.png']")).to_be_visible()
    expect(kofi.page.locator("#messages li[data-seq] .att a", has_text="notes.txt")).to_be_visible()
    with kofi.page.expect_download() as download:
        kofi.page.locator("#messages .att a", has_text="notes.txt").click()
    assert download.value.suggested_filename == "notes.txt"
    with kofi.context.expect_page() as opened:
        kofi.page.locator("#messages .att img[alt='poster.png']").click(modifiers=["Control"])
    image_page = opened.value
    image_page.wait_for_load_state()
    assert image_page.evaluate("document.contentType") == "image/png"
    served = kofi.context.request.get(image_page.url)
    assert b"<script" not in served.body() and served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    text_url = kofi.page.locator("#messages .att a", has_text="notes.txt").get_attribute("href")
    text = kofi.context.request.get(site.url + text_url)
    assert text.headers["content-type"] == "text/plain; charset=utf-8"
    assert text.headers["content-disposition"].startswith("attachment;")
    assert text.headers["x-content-type-options"] == "nosniff" and "sandbox" in text.headers["content-security-policy"]
    kofi.page.wait_for_timeout(500)
    assert dialogs == []
    assert kofi.page.evaluate("window.pwned") is None and amina.page.evaluate("window.pwned") is None


def test_in_low_bandwidth_mode_a_photo_costs_nothing_until_tapped(browser: Browser, site: ServerProcess,
                                                                 people: list[Person]) -> None:
    room_id, (amina, kofi) = _room_with(people, browser, site, "Amina", "Kofi")
    kofi.context.add_cookies([{"name": "convene_lite", "value": "1", "url": site.url}])
    kofi.page.reload()
    expect(kofi.page.locator("#room")).to_have_attribute("data-conn", "online")
    previews: list[str] = []
    kofi.page.on("request", lambda request: previews.append(request.url)
                 if "/api/attachments/" in request.url and request.url.endswith("/preview") else None)
    _pick(amina.page, "flipchart.png", "image/png", _png())
    expect(amina.page.locator("#messages li[data-seq] .att img")).to_have_count(1)
    for load in ("live", "page"):
        if load == "page":
            kofi.page.goto(f"/rooms/{room_id}")
        hold = kofi.page.locator("#messages .att-hold")
        expect(hold).to_have_text(re.compile(r"^Photo, \d+ KB: show$"))
        kofi.page.wait_for_timeout(300)
        assert previews == [], "nothing downloaded before the tap"
        hold.click()
        kofi.page.wait_for_function("() => document.querySelector('#messages .att img') &&"
                                    " document.querySelector('#messages .att img').naturalWidth > 0")
        assert len(previews) == 1
        previews.clear()
    assert run_axe(kofi.page) == []


def test_a_file_picked_offline_is_sent_once_when_the_link_returns(browser: Browser, site: ServerProcess,
                                                                   people: list[Person]) -> None:
    room_id, (priya, kofi) = _room_with(people, browser, site, "Priya", "Kofi")
    page = priya.page
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    priya.context.set_offline(True)
    expect(page.locator("#room")).to_have_attribute("data-conn", "offline")
    page.fill("#body", "Photo from the bus")
    _pick(page, "bus.png", "image/png", _png("navy"))
    expect(page.locator("#messages li.pending .att")).to_have_text(re.compile("bus.png"))
    page.close()

    # Reopened with no link: the page from the service worker, the file from IndexedDB.
    page = priya.context.new_page()
    page.goto(f"/rooms/{room_id}")
    expect(page.locator("#messages li.pending .body")).to_have_text("Photo from the bus")
    priya.context.set_offline(False)
    expect(page.locator("#messages li.pending")).to_have_count(0, timeout=20_000)
    expect(kofi.page.locator("#messages li[data-seq] .att img")).to_have_count(1)
    page.reload()
    expect(page.locator("#room")).to_have_attribute("data-conn", "online")
    page.wait_for_timeout(500)
    messages = priya.api("GET", f"/api/rooms/{room_id}/messages")["messages"]
    assert [(m["body"], [a["name"] for a in m["attachments"]]) for m in messages] == [("Photo from the bus", ["bus.png"])]
    assert page.evaluate("""() => new Promise((resolve) => {
        const open = indexedDB.open('convene-files');
        open.onsuccess = () => { const r = open.result.transaction('files').objectStore('files').count();
                                 r.onsuccess = () => resolve(r.result); };
    })""") == 0, "the kept copy is dropped once the message is acknowledged"
