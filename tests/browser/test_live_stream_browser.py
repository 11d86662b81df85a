"""Chromium plays a webinar's live stream through static/hls-player.js while it is being produced:
audio only first, then with video, until the stream ends (standard segments); standard or low latency chosen by
the player itself from the member's link; and at low latency, where the delay from the publisher's picture to the
screen is measured with a clock burned into the picture."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page

from recordings.live.packager import LivePackager
from recordings.live.settings import LiveSettings
from recordings.live.streams import live_dir
from tests.browser.conftest import Person, new_person, run_axe
from tests.support.live_media import CLOCK_BITS, CLOCK_SIZE, clock_block, clock_packets, opus_packets, play, \
    vp8_packets
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
        page.goto(f"/webinars/{webinar['id']}/stream?latency=standard")
        assert run_axe(page) == []
        # Pressed before the first segment is out (about 2.5 s after the first packet): the player waits for it.
        page.get_by_role("button", name="Listen").click()
        # currentTime moves only if the segments were fetched, appended and decoded.
        wait_until(page, "document.querySelector('.stream audio').currentTime > 1")
        assert page.evaluate("document.querySelector('.stream').dataset.state") == "live"
        assert page.evaluate("document.querySelector('.stream').dataset.latencyMode") == "standard"
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


def _viewer(browser: Browser, site: ServerProcess, people, name: str) -> tuple[Person, list[str]]:
    """A member on their own device, with the path of every live file their pages ask for."""
    person = new_person(browser, site, name)
    people.append(person)
    fetched: list[str] = []
    person.context.on("request", lambda request: fetched.append(urlsplit(request.url).path.rsplit("/", 1)[-1])
                      if "/live/" in request.url else None)
    return person, fetched


def test_the_player_takes_standard_segments_by_itself_in_low_bandwidth_mode_or_with_data_saver(
        browser: Browser, site: ServerProcess, people):
    """No ?latency= in the address: the player reads the link from the page (low-bandwidth mode, data-lite) and
    from the browser (navigator.connection.saveData) and loads the standard or the low-latency master."""
    host, _ = _viewer(browser, site, people, "Host")
    webinar = host.api("POST", "/api/webinars", {
        "title": "Water and sanitation", "starts_at": "2026-12-08T12:00:00Z", "ends_at": "2026-12-08T13:00:00Z",
        "visibility": "public"})
    lite, lite_fetched = _viewer(browser, site, people, "Lite")
    lite.context.add_cookies([{"name": "convene_lite", "value": "1", "url": site.url}])   # the settings page's switch
    saver, saver_fetched = _viewer(browser, site, people, "Saver")
    # Data saver as the browser reports it (Save-Data header, navigator.connection.saveData).
    saver.context.new_cdp_session(saver.page).send("Emulation.setDataSaverOverride", {"dataSaverEnabled": True})
    good, good_fetched = _viewer(browser, site, people, "Good")
    packets = vp8_packets(SECONDS + 3, 1) + opus_packets(SECONDS + 3, 1)
    packager = LivePackager(webinar["id"], live_dir(Path(site.env["CONVENE_DATA_DIR"]), webinar["id"]),
                            LiveSettings())
    publishing = threading.Thread(target=play, args=(packager, packets), daemon=True)
    publishing.start()
    try:
        for person in (lite, saver, good):
            person.page.goto(f"/webinars/{webinar['id']}/stream")
            person.page.get_by_role("button", name="Watch video").click()
        for person in (lite, saver, good):
            wait_until(person.page, "document.querySelector('.stream video').currentTime > 1", timeout_s=25)
        modes = {person.display_name: (person.page.evaluate("document.body.dataset.lite || null"),
                                       person.page.evaluate("navigator.connection.saveData"),
                                       person.page.evaluate("document.querySelector('.stream').dataset.latencyMode"))
                 for person in (lite, saver, good)}
    finally:
        publishing.join()
        packager.close()
        assert packager.wait(30) == 0
    assert modes == {"Lite": ("true", False, "standard"), "Saver": (None, True, "standard"),
                     "Good": (None, False, "low")}, modes
    # What each player loaded: the standard master and whole segments, or the low-latency master and parts.
    for fetched in (lite_fetched, saver_fetched):
        assert "master.m3u8" in fetched and "index.m3u8" in fetched, fetched
        assert any(name.startswith("seg-") for name in fetched), fetched
        assert not [name for name in fetched if name in ("master-ll.m3u8", "ll.m3u8") or name.startswith("part-")]
    assert "master-ll.m3u8" in good_fetched and "ll.m3u8" in good_fetched, good_fetched
    assert any(name.startswith("part-") for name in good_fetched), good_fetched
    assert not [name for name in good_fetched if name in ("master.m3u8", "index.m3u8") or name.startswith("seg-")]
    for person in (lite, saver, good):
        assert [e for e in person.errors if "status of 404" not in e] == [], person.errors


# Reads the clock in the picture on screen: the video drawn on a canvas, each bit's block bright or dark.
READ_CLOCK = """([blocks, scale, left]) => {
  const video = document.querySelector('.stream video');
  if (!video.videoWidth || video.paused) return null;
  const canvas = document.createElement('canvas');
  canvas.width = video.videoWidth; canvas.height = video.videoHeight;
  const context = canvas.getContext('2d', {willReadFrequently: true});
  context.drawImage(video, 0, 0);
  const now = Date.now();
  let value = 0;
  blocks.forEach(([x, y, w, h], bit) => {
    const [r, g, b] = context.getImageData(left + (x + w / 2) * scale, (y + h / 2) * scale, 1, 1).data;
    if ((r + g + b) / 3 > 128) value |= 1 << bit;
  });
  return {value, now, behind: video.buffered.length ? video.buffered.end(video.buffered.length - 1) - video.currentTime : null};
}"""
CLOCK_SECONDS = 16.0


class Stamped:
    """The tap, noting when each video frame was handed to it (frame n of the clock shows n): the moment the
    frame leaves the publisher as far as the server is concerned, even when this busy process runs late."""

    def __init__(self, packager: LivePackager, fps: int) -> None:
        self.packager, self.fps = packager, fps
        self.sent: dict[int, float] = {}

    def on_packet(self, publisher_id: int, kind: str, codec: str, packet) -> None:
        if kind == "video":
            self.sent.setdefault(round(packet.pts * self.fps / 90_000), time.time())
        self.packager.on_packet(publisher_id, kind, codec, packet)


def test_low_latency_playback_is_about_two_seconds_behind_the_publisher(browser: Browser, site: ServerProcess, people):
    """Glass to glass, less the WebRTC hop: frame n leaves the publisher (the media session's tap) at a known
    time and shows n; the test reads n off the screen and compares the clocks (one machine, one clock)."""
    member = new_person(browser, site, "Viewer")
    people.append(member)
    webinar = member.api("POST", "/api/webinars", {
        "title": "Psychological first aid", "starts_at": "2026-12-07T12:00:00Z", "ends_at": "2026-12-07T13:00:00Z",
        "visibility": "public"})
    fps = 15
    packets = clock_packets(CLOCK_SECONDS, 1, fps=fps) + opus_packets(CLOCK_SECONDS, 1)
    packager = LivePackager(webinar["id"], live_dir(Path(site.env["CONVENE_DATA_DIR"]), webinar["id"]),
                            LiveSettings())
    tap = Stamped(packager, fps)
    started = time.time()
    publishing = threading.Thread(target=play, args=(tap, packets), daemon=True)
    publishing.start()
    readings = []
    try:
        page = member.page
        page.goto(f"/webinars/{webinar['id']}/stream")
        page.get_by_role("button", name="Watch video").click()
        wait_until(page, "document.querySelector('.stream video').currentTime > 1", timeout_s=25)
        # A good link (no data saver, no low-bandwidth mode): the player chose low latency by itself.
        assert page.evaluate("document.querySelector('.stream').dataset.latencyMode") == "low"
        page.wait_for_timeout(1500)   # settled at its distance from the live edge
        scale = 360 / CLOCK_SIZE[1]
        left = (640 - CLOCK_SIZE[0] * scale) / 2
        blocks = [clock_block(bit) for bit in range(CLOCK_BITS)]
        while time.time() - started < CLOCK_SECONDS - 1.0:
            seen = page.evaluate(READ_CLOCK, [blocks, scale, left])
            if seen is not None:
                readings.append(seen)
            page.wait_for_timeout(250)
        estimate = page.evaluate("document.querySelector('.stream').player.latency()")
    finally:
        publishing.join()
        packager.close()
        assert packager.wait(30) == 0
    # Every reading is a frame that was really sent (not garbage read off a blurred picture).
    assert all(seen["value"] in tap.sent for seen in readings), [s["value"] for s in readings]
    samples = sorted(seen["now"] / 1000 - tap.sent[seen["value"]] for seen in readings)
    median, worst = samples[len(samples) // 2], samples[-1]
    print(f"low-latency glass-to-glass: median {median:.2f} s, worst {worst:.2f} s over {len(samples)} readings; "
          f"the player's own estimate {estimate:.2f} s")
    assert len(samples) >= 20 and all(0.0 < sample < 6.0 for sample in samples), samples
    # The target is 2 s (docs/live-stream.md has the measured figure); a shared, busy machine adds some.
    assert median <= 2.5, samples
    assert abs(estimate - median) < 1.0
