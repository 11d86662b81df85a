"""Chromium plays a webinar's live stream through static/hls-player.js while it is being produced:
audio only first, then with video, until the stream ends."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from playwright.sync_api import Browser, Page

from recordings.live.packager import LivePackager
from recordings.live.settings import LiveSettings
from recordings.live.streams import live_dir
from tests.browser.conftest import new_person, run_axe
from tests.support.live_media import opus_packets, play, vp8_packets
from tests.support.services import ServerProcess

SECONDS = 7.0
DELTA = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:2
#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12.0
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-MAP:URI="init.mp4?exp=1&sig=ab"
#EXT-X-SKIP:SKIPPED-SEGMENTS=40
#EXTINF:2.000000,
seg-00040.m4s?exp=1&sig=ab
#EXTINF:2.000000,
seg-00041.m4s?exp=1&sig=ab
"""


def wait_until(page: Page, expression: str, timeout_s: float = 20.0) -> None:
    """Polls through page.evaluate (the DevTools protocol): wait_for_function would need 'unsafe-eval',
    which our CSP rightly refuses."""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        page.wait_for_timeout(100)


def test_a_member_listens_then_watches_the_live_stream(browser: Browser, site: ServerProcess, people):
    member = new_person(browser, site, "Host")
    people.append(member)
    webinar = member.api("POST", "/api/webinars", {
        "title": "Grief in displacement", "starts_at": "2026-12-03T12:00:00Z", "ends_at": "2026-12-03T13:00:00Z",
        "visibility": "public"})
    packets = vp8_packets(SECONDS, 1) + opus_packets(SECONDS, 1)
    packager = LivePackager(webinar["id"], live_dir(Path(site.env["CONVENE_DATA_DIR"]), webinar["id"]),
                            LiveSettings())
    publishing = threading.Thread(target=play, args=(packager, packets), daemon=True)
    publishing.start()
    try:
        page = member.page
        page.goto(f"/webinars/{webinar['id']}/stream")
        assert run_axe(page) == []
        # Pressed before the first segment is out (about 2.5 s after the first packet): the player waits for it.
        page.get_by_role("button", name="Listen").click()
        # currentTime moves only if the segments were fetched, appended and decoded.
        wait_until(page, "document.querySelector('.stream audio').currentTime > 1")
        assert page.evaluate("document.querySelector('.stream').dataset.state") == "live"
        assert page.evaluate("document.querySelector('.stream video').hidden") is True

        page.get_by_role("button", name="Watch video").click()
        wait_until(page, "document.querySelector('.stream video').currentTime > 1")
        assert page.evaluate("document.querySelector('.stream video').videoWidth") == 640
        assert page.evaluate("document.querySelector('.stream').dataset.mode") == "video"
    finally:
        publishing.join()
        packager.close()
        assert packager.wait(30) == 0
    # At #EXT-X-ENDLIST the player plays out what it has and says so.
    wait_until(page, "document.querySelector('.stream').dataset.state === 'ended'")
    # A delta update continues the numbering after the skipped segments, signature and all.
    parsed = page.evaluate("(t) => ConveneHls.parseMedia(t, location.origin + '/x/index.m3u8')", DELTA)
    assert [s["seq"] for s in parsed["segments"]] == [40, 41] and parsed["canSkip"] is True
    assert parsed["segments"][0]["url"].endswith("/x/seg-00040.m4s?exp=1&sig=ab")
    # 404s while the stream had not started are how the player learns to wait; nothing else went wrong.
    assert [e for e in member.errors if "status of 404" not in e] == []
