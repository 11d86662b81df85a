"""Scenario (in the loopback namespace): a server that seats two WebRTC viewers (MEDIA_MAX_VIEWERS=2).

The host publishes; two attendees (aiortc) watch over WebRTC; a third (aiortc) is answered media.stream and
refused a view; a fourth, in Chromium with French as its language, opens the live page and plays the
HTTP stream in the stage under the note saying why. Then the host promotes the third attendee: as a
speaker they publish over WebRTC at once, and the seated viewers receive them."""

from __future__ import annotations

import asyncio
import json
import re
import time

import httpx
from aiortc.mediastreams import AudioStreamTrack
from playwright.async_api import async_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.media.peers import SyntheticVideo, live_webinar, publish, start_server, until, view
from tests.media.scenario_browser import MEDIA_ARGS, TIMEOUT_MS, api, member
from tests.media.scenario_browser import until as page_until
from tests.media.scenario_live_stream import Tone

STREAM_STATE = """() => {
  const video = document.getElementById('m-stream');
  const note = document.getElementById('m-full');
  return {playing: !!video && video.readyState >= 2 && video.currentTime > 1, time: video ? video.currentTime : null,
          tag: video ? video.tagName : null, note: note && !note.hidden ? note.textContent.trim() : null,
          lang: document.documentElement.lang, webrtc_views: window.conveneMedia.views.size};
}"""


async def metric(url: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=url, timeout=5) as http:
        text = (await http.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


async def main() -> dict:
    server = start_server(MEDIA_MAX_VIEWERS="2")
    errors: list[str] = []
    out: dict = {}
    try:
        host, webinar, (first, second, speaker) = await live_webinar(server, 3)
        wid = webinar["id"]
        host_ws = await host.connect(server.ws_url)
        host_pc = await publish(host_ws, wid, [SyntheticVideo(), Tone()])
        seated = [await person.connect(server.ws_url) for person in (first, second)]
        watched = [await client.request({"type": "media.watch", "webinar": wid}) for client in seated]
        views = [await view(client, wid, host.id) for client in seated]
        await until(lambda: all(got.video_frames and got.audio_frames for _, got in views), "the seated viewers' frames")
        out["seated"] = [frame["type"] for frame in watched]

        # The budget is used up: the next attendee is sent to the HTTP stream, and may not view over WebRTC.
        speaker_ws = await speaker.connect(server.ws_url)
        out["third_watch"] = await speaker_ws.request({"type": "media.watch", "webinar": wid})
        refused = await speaker_ws.request({"type": "media.view", "webinar": wid, "publisher": host.id,
                                            "sdp": "v=0\r\n"})
        out["third_view"] = refused.get("code")

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + MEDIA_ARGS)
            context = await browser.new_context(base_url=server.url, locale="fr-FR")
            context.set_default_timeout(TIMEOUT_MS)
            page = await member(context)
            page.on("pageerror", lambda error: errors.append(f"pageerror: {error}"))
            await api(context, server.url, "POST", f"/api/webinars/{wid}/register")
            await page.goto(f"/webinars/{wid}/live")
            out["browser"] = await page_until(page, STREAM_STATE, lambda s: s["playing"] and s["note"],
                                              "the HTTP stream to play in the stage", timeout=60)
            await browser.close()

        # Promoted, the third attendee is on stage: always seated, publishing over WebRTC despite the budget.
        assert (await host.http.post(f"/api/webinars/{wid}/speakers", json={"member_id": speaker.id})).status_code \
            == 204
        heard = len(seated[0].frames)
        speaker_pc = await publish(speaker_ws, wid, [SyntheticVideo(), AudioStreamTrack()])
        out["speaker_watch"] = (await speaker_ws.request({"type": "media.watch", "webinar": wid}))["type"]
        listed = await seated[0].wait_for(lambda f: f["type"] == "media.publishers" and
                                          speaker.id in [p["member"]["id"] for p in f["publishers"]], start=heard)
        out["publishers_seen_by_seated"] = sorted(p["member"]["id"] for p in listed["publishers"])
        speaker_view, got = await view(seated[0], wid, speaker.id)
        started = time.monotonic()
        await until(lambda: got.video_frames > 10 and got.audio_frames > 10, "the speaker's frames at a seated viewer")
        out["speaker_frames_after_s"] = round(time.monotonic() - started, 2)
        out["ids"] = {"host": host.id, "speaker": speaker.id}
        out["metrics"] = {"sent_to_stream": await metric(server.url, "convene_media_viewers_sent_to_stream_total"),
                          "webrtc_viewers": await metric(server.url, "convene_media_webrtc_viewers"),
                          "publishers": await metric(server.url, "convene_media_webrtc_publishers")}
        out["errors"] = errors
        for pc in (host_pc, speaker_pc, speaker_view, *(pc for pc, _ in views)):
            await pc.close()
        for client in (host_ws, speaker_ws, *seated):
            await client.close()
        return out
    finally:
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
