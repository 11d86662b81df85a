"""Scenario (in the loopback namespace): a host publishes over WebRTC; the server's live packager turns what it
forwards into HLS; segments are fetched over HTTP while the host publishes; the host ends the webinar and the
stream ends (#EXT-X-ENDLIST). Prints what was seen and what PyAV decodes from each rendition."""

from __future__ import annotations

import array
import asyncio
import json
import math
import re
import time
from pathlib import Path

import av
import httpx
from aiortc.mediastreams import AudioStreamTrack

from tests.media.peers import SyntheticVideo, live_webinar, publish, start_server, until

PUBLISH_S = 5.0


class Tone(AudioStreamTrack):
    """aiortc's paced 20 ms audio frames, with a 400 Hz tone instead of silence."""

    async def recv(self):   # type: ignore[override]
        frame = await super().recv()
        samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 400 * n / frame.sample_rate))
                                    for n in range(frame.samples)))
        frame.planes[0].update(samples.tobytes() if len(frame.layout.channels) == 1
                               else array.array("h", (s for s in samples for _ in range(2))).tobytes())
        return frame


def decoded(path: Path) -> dict:
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        end, lumas, loud = 0.0, set(), 0
        for frame in container.decode(*container.streams):
            if isinstance(frame, av.AudioFrame):
                end = max(end, float(frame.time) + frame.samples / frame.sample_rate)
                values = array.array("f", bytes(frame.planes[0])[: frame.samples * 4])
                loud += max(abs(v) for v in values) > 0.05
            else:
                end = max(end, float(frame.time))
                plane = frame.planes[0]
                lumas.add(bytes(plane)[plane.line_size * (frame.height // 2) + frame.width // 2])
    return {"kinds": kinds, "duration": end, "distinct_lumas": len(lumas), "loud_audio_frames": loud}


async def archived_recording(http: httpx.AsyncClient, webinar_id: int, timeout: float) -> dict | None:
    """The recording the archive made of the webinar's stream (as listed to its host), once it appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listing = (await http.get("/api/recordings", params={"limit": 50})).json()
        found = next((r for r in listing.get("recordings", []) if r.get("webinar_id") == webinar_id), None)
        if found is not None:
            return found
        await asyncio.sleep(0.2)
    return None


async def archived_files(http: httpx.AsyncClient, recording_id: int, into: Path) -> dict[str, Path]:
    """Waits for the archive job to finish, then downloads every rendition the way a member would."""
    detail: dict = {}
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        detail = (await http.get(f"/api/recordings/{recording_id}")).json()
        if detail["state"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.5)
    assert detail.get("state") == "ready", detail
    into.mkdir(parents=True, exist_ok=True)
    files = {}
    for download in detail["downloads"]:
        response = await http.get(download["url"])
        assert response.status_code == 200 and len(response.content) == download["bytes"], download
        files[download["kind"]] = into / download["name"]
        files[download["kind"]].write_bytes(response.content)
    return files


async def main() -> dict:
    server = start_server()
    try:
        host, webinar, _ = await live_webinar(server, 0)
        wid = webinar["id"]
        live = Path(server.env["CONVENE_DATA_DIR"]) / "live" / str(wid)
        host_ws = await host.connect(server.ws_url)
        started = time.monotonic()
        publisher = await publish(host_ws, wid, [SyntheticVideo(), Tone()])
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as anyone:
            await until(lambda: len(list((live / "video").glob("seg-*.m4s"))) >= 2, "two video segments", 30)
            # While the host is still publishing: what a player or CDN fetches.
            playlist = await anyone.get(f"/webinars/{wid}/live/video/index.m3u8")
            names = re.findall(r"^seg-\d+\.m4s$", playlist.text, re.M)
            segment = await anyone.get(f"/webinars/{wid}/live/video/{names[0]}")
            audio_playlist = await anyone.get(f"/webinars/{wid}/live/audio/index.m3u8")
            during = {"playlist_status": playlist.status_code, "segments_listed": len(names),
                      "ended_while_publishing": "#EXT-X-ENDLIST" in playlist.text,
                      "playlist_cache": playlist.headers.get("cache-control"),
                      "segment_status": segment.status_code, "segment_bytes": len(segment.content),
                      "audio_segments_listed": len(re.findall(r"^seg-\d+\.m4s$", audio_playlist.text, re.M))}
            await asyncio.sleep(max(0.0, PUBLISH_S - (time.monotonic() - started)))
            published_s = time.monotonic() - started
            assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200
            await until(lambda: all("#EXT-X-ENDLIST" in (live / r / "index.m3u8").read_text()
                                    for r in ("video", "audio")), "the end of the stream", 30)
            # Then the stream is handed to the archive (services.recordings.live_finished).
            archived = await archived_recording(host.http, wid, 20)
            files = await archived_files(host.http, archived["id"], live.parent / "downloads") if archived else {}
        await publisher.close()
        return {"during": during, "published_s": published_s,
                "archived": archived and {"state": archived["state"], "title": archived["title"]},
                "video": decoded(live / "video" / "index.m3u8"), "audio": decoded(live / "audio" / "index.m3u8"),
                "archive": {kind: decoded(path) for kind, path in files.items()}}
    finally:
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
