"""Scenario (in the loopback namespace): Chromium with a fake camera publishes as host through static/media.js;
a second browser context watches on the live page; getStats() shows frames being decoded."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime, timedelta, timezone

from playwright.async_api import BrowserContext, Page, async_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, PASSWORD
from tests.media.peers import start_server

MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
              "--autoplay-policy=no-user-gesture-required"]
TIMEOUT_MS = 45_000

VIEWER_STATS = """async () => {
  const view = Array.from(window.conveneMedia.views.values())[0];
  if (!view) return null;
  const stats = await view.pc.getStats();
  let video = null, audio = null;
  stats.forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') video = {framesDecoded: s.framesDecoded || 0, frameWidth: s.frameWidth || 0};
    if (s.type === 'inbound-rtp' && s.kind === 'audio') audio = {packetsReceived: s.packetsReceived || 0};
  });
  return {state: view.pc.connectionState, video, audio};
}"""

PUBLISHER_STATS = """async () => {
  const local = window.conveneMedia.local();
  if (!local || !local.pc) return null;
  let sent = 0;
  (await local.pc.getStats()).forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video') sent = s.packetsSent; });
  return {state: local.pc.connectionState, packetsSent: sent};
}"""


async def member(context: BrowserContext) -> Page:
    page = await context.new_page()
    username = "m" + uuid.uuid4().hex[:10]
    await page.goto("/register?next=/rooms")
    await page.fill("#username", username)
    await page.fill("#display_name", username.title())
    await page.fill("#password", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_url("**/rooms")
    return page


async def api(context: BrowserContext, base: str, method: str, path: str, data: object = None) -> dict:
    response = await context.request.fetch(base + path, method=method, data=data, headers={"Origin": base})
    assert response.ok, f"{method} {path}: {response.status} {await response.text()}"
    return await response.json() if response.status != 204 else {}


async def until(page: Page, script: str, predicate, what: str, timeout: float = 45) -> dict:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await page.evaluate(script)
        if value is not None and predicate(value):
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last {value}")
        await asyncio.sleep(0.25)


GREEN_ROOM = """() => {
  const meter = document.getElementById('m-level');
  const note = document.getElementById('w-green-room');
  return {level: meter.hidden ? 0 : meter.value, meter_shown: !meter.hidden,
          note_shown: !!note && !note.hidden, status: document.getElementById('m-status').textContent};
}"""


async def main() -> dict:
    server = start_server()
    errors: list[str] = []
    try:
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + MEDIA_ARGS)
            contexts = []
            for _ in range(2):
                context = await browser.new_context(base_url=server.url, viewport={"width": 900, "height": 900})
                context.set_default_timeout(TIMEOUT_MS)
                contexts.append(context)
            host_page, viewer_page = [await member(c) for c in contexts]
            for page in (host_page, viewer_page):
                page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            starts = datetime.now(timezone.utc)
            webinar = await api(contexts[0], server.url, "POST", "/api/webinars", {
                "title": "Browser stage", "description": "", "language": "en", "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})
            wid = webinar["id"]
            await api(contexts[1], server.url, "POST", f"/api/webinars/{wid}/register")

            # Before the start the host is in the green room: they publish, and the level meter moves.
            await host_page.goto(f"/webinars/{wid}/live")
            await host_page.click("#m-camera")
            published = await until(host_page, PUBLISHER_STATS, lambda s: s["state"] == "connected" and
                                    s["packetsSent"] > 0, "the host to publish")
            green_room = await until(host_page, GREEN_ROOM, lambda s: s["level"] > 0.02, "the level meter to move")
            await api(contexts[0], server.url, "POST", f"/api/webinars/{wid}/start")
            await viewer_page.goto(f"/webinars/{wid}/live")
            first = await until(viewer_page, VIEWER_STATS, lambda s: s["video"] and s["video"]["framesDecoded"] > 0,
                                "the viewer to decode video")
            await asyncio.sleep(2)
            later = await viewer_page.evaluate(VIEWER_STATS)
            figures = await viewer_page.locator("#m-videos figure video").count()
            # The viewer switches to audio only: the picture goes, the sound stays.
            await viewer_page.check("#m-audio-only")
            await until(viewer_page, VIEWER_STATS, lambda s: s["state"] == "connected" and s["video"] is None
                        and s["audio"] and s["audio"]["packetsReceived"] > 20, "audio only")
            audio_only = {"video_elements": await viewer_page.locator("#m-videos figure video").count(),
                          "audio_elements": await viewer_page.locator("#m-videos figure audio").count()}
            result = {"published": published, "first": first, "later": later, "video_elements": figures,
                      "audio_only": audio_only, "green_room": green_room,
                      "after_start": await host_page.evaluate(GREEN_ROOM), "errors": errors}
            await browser.close()
            return result
    finally:
        server.stop()
        print(server.log_tail(20), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
