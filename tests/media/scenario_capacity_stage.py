"""Scenario (in the loopback namespace): a server that seats one WebRTC viewer (MEDIA_MAX_VIEWERS=1), then the
stage comes to watch.

The host publishes (aiortc) and one attendee (aiortc) takes the only seat. Then three members open the live page
in Chromium: a co-host, a panelist and a plain attendee. The co-host and the panelist are seated anyway and
decode the host's video over WebRTC, with no note; the attendee is sent to the HTTP stream, under the note.
"""

from __future__ import annotations

import asyncio
import json

from playwright.async_api import BrowserContext, Page, async_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.media.peers import SyntheticVideo, live_webinar, publish, start_server, until, view
from tests.media.scenario_browser import MEDIA_ARGS, TIMEOUT_MS, VIEWER_STATS, api, member
from tests.media.scenario_browser import until as page_until
from tests.media.scenario_capacity import STREAM_STATE, metric
from tests.media.scenario_live_stream import Tone

# What the page shows instead of, or beside, the WebRTC views: the note and the HTTP stream's element.
PAGE_STATE = """() => {
  const note = document.getElementById('m-full');
  return {note: !!note && !note.hidden, stream_element: !!document.getElementById('m-stream'),
          webrtc_views: window.conveneMedia.views.size};
}"""


async def main() -> dict:
    server = start_server(MEDIA_MAX_VIEWERS="1")
    errors: list[str] = []
    out: dict = {}
    try:
        host, webinar, (seated,) = await live_webinar(server, 1)
        wid = webinar["id"]
        host_ws = await host.connect(server.ws_url)
        host_pc = await publish(host_ws, wid, [SyntheticVideo(), Tone()])
        seated_ws = await seated.connect(server.ws_url)
        out["seated"] = (await seated_ws.request({"type": "media.watch", "webinar": wid}))["type"]
        seated_pc, got = await view(seated_ws, wid, host.id)
        await until(lambda: got.video_frames and got.audio_frames, "the seated attendee's frames")

        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + MEDIA_ARGS)
            pages: dict[str, tuple[BrowserContext, Page]] = {}
            for name in ("co_host", "panelist", "attendee"):
                context = await browser.new_context(base_url=server.url)
                context.set_default_timeout(TIMEOUT_MS)
                page = await member(context)
                page.on("pageerror", lambda error, name=name: errors.append(f"{name} pageerror: {error}"))
                pages[name] = (context, page)
            ids = {name: (await api(context, server.url, "GET", "/api/me"))["member"]["id"]
                   for name, (context, _) in pages.items()}
            # The budget is used up before the stage arrives: roles given now, then everyone opens the live page.
            assert (await host.http.post(f"/api/webinars/{wid}/hosts",
                                         json={"member_id": ids["co_host"]})).status_code == 200
            assert (await host.http.post(f"/api/webinars/{wid}/panelists",
                                         json={"member_id": ids["panelist"]})).status_code == 204
            await api(pages["attendee"][0], server.url, "POST", f"/api/webinars/{wid}/register")
            for _, page in pages.values():
                await page.goto(f"/webinars/{wid}/live")
            for name in ("co_host", "panelist"):
                page = pages[name][1]
                out[name] = await page_until(page, VIEWER_STATS, lambda s: s["video"] and s["video"]["frameWidth"]
                                             and s["video"]["framesDecoded"] > 10, f"the {name} to decode video")
                out[name + "_page"] = await page.evaluate(PAGE_STATE)
            out["attendee"] = await page_until(pages["attendee"][1], STREAM_STATE, lambda s: s["playing"] and s["note"],
                                               "the HTTP stream to play for the attendee", timeout=60)
            # Read while the pages are open: closing them frees their seats.
            out["metrics"] = {
                "sent_to_stream": await metric(server.url, "convene_media_viewers_sent_to_stream_total"),
                "webrtc_viewers": await metric(server.url, "convene_media_webrtc_viewers")}
            await browser.close()

        out["errors"] = errors
        for pc in (host_pc, seated_pc):
            await pc.close()
        for client in (host_ws, seated_ws):
            await client.close()
        return out
    finally:
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
