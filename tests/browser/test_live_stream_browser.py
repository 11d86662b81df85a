"""Chromium plays the live stream through static/hls-player.js: audio only first, then with video."""

from __future__ import annotations

import time
from pathlib import Path

from playwright.sync_api import Browser, Page

from tests.browser.conftest import new_person
from tests.support.live_media import copy_stream, recorded_stream
from tests.support.services import ServerProcess


def wait_until(page: Page, expression: str, timeout_s: float = 15.0) -> None:
    """Polls through page.evaluate (the DevTools protocol): wait_for_function would need 'unsafe-eval',
    which our CSP rightly refuses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


def test_a_member_listens_then_watches_the_stream(browser: Browser, site: ServerProcess, people):
    recording = recorded_stream()
    member = new_person(browser, site, "Host")
    people.append(member)
    webinar = member.api("POST", "/api/webinars", {
        "title": "Grief in displacement", "starts_at": "2026-12-03T12:00:00Z", "ends_at": "2026-12-03T13:00:00Z",
        "visibility": "public"})
    copy_stream(recording, Path(site.env["CONVENE_DATA_DIR"]), webinar["id"])

    page = member.page
    page.goto(f"/webinars/{webinar['id']}/stream")
    page.get_by_role("button", name="Listen").click()
    # currentTime moves only if the segments were fetched, appended and decoded.
    wait_until(page, "document.querySelector('.stream audio').currentTime > 1.5")
    assert page.evaluate("document.querySelector('.stream audio').hidden") is False
    assert page.evaluate("document.querySelector('.stream video').hidden") is True

    page.get_by_role("button", name="Watch video").click()
    wait_until(page, "document.querySelector('.stream video').currentTime > 1.5")
    assert page.evaluate("document.querySelector('.stream video').videoWidth") == 640
    assert page.evaluate("document.querySelector('.stream').dataset.mode") == "video"
    assert member.errors == []
