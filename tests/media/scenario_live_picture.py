"""Scenario (in the loopback namespace): the picture of the live stream, with real aiortc publishers.

The host publishes a tone, a camera and a screen share (three distinct flat colours); a promoted
speaker publishes another tone and another camera. The host talks (with a short pause, and the
speaker's short interjection in it), then stops, and the speaker talks. Prints, for each decoded
frame of the live stream, the colours in the full frame and in the picture-in-picture corner, the
schedule on the stream's clock, and the same for frames of the archived recording."""

from __future__ import annotations

import array
import asyncio
import json
import math
import time
from datetime import datetime
from pathlib import Path

import av
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack

from recordings.live.picture import Canvas
from tests.media.peers import live_webinar, publish, start_server, until, view
from tests.media.scenario_live_stream import archived_files, archived_recording

SCREEN, HOST_CAMERA, SPEAKER_CAMERA = (200, 60, 60), (80, 200, 90), (150, 90, 210)
CAMERA_SIZE, SCREEN_SIZE = (320, 240), (640, 360)
# Seconds after the schedule starts: the host talks with a pause shorter than the hold time, the speaker
# says a word in it (shorter than it takes to take the picture over), then the host stops and the speaker talks.
HOST_TALKS = [(0.0, 3.0), (3.6, 6.0)]
SPEAKER_TALKS = [(3.1, 3.35), (6.0, 11.0)]
SPEAKER_STARTS = 6.0
END_S = 11.0


class Schedule:
    def __init__(self) -> None:
        self.start: float | None = None

    def talking(self, windows: list[tuple[float, float]]) -> bool:
        if self.start is None:
            return False
        at = time.monotonic() - self.start
        return any(begin <= at < end for begin, end in windows)


class Colour(VideoStreamTrack):
    """A flat picture of one YUV colour at 30 fps: a camera or a screen share."""

    def __init__(self, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
        super().__init__()
        self.colour, self.size = colour, size

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(*self.size, "yuv420p")
        for plane, value in zip(frame.planes, self.colour):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class Voice(AudioStreamTrack):
    """aiortc's paced 20 ms audio frames: a tone while the schedule says this publisher talks, else silence."""

    def __init__(self, tone_hz: int, schedule: Schedule, windows: list[tuple[float, float]]) -> None:
        super().__init__()
        self.tone_hz, self.schedule, self.windows = tone_hz, schedule, windows

    async def recv(self):   # type: ignore[override]
        frame = await super().recv()
        if self.schedule.talking(self.windows):
            samples = array.array("h", (int(8000 * math.sin(2 * math.pi * self.tone_hz * n / frame.sample_rate))
                                        for n in range(frame.samples)))
            channels = len(frame.layout.channels)
            frame.planes[0].update(array.array("h", (s for s in samples for _ in range(channels))).tobytes())
        return frame


def colour_at(frame: av.VideoFrame, x: int, y: int) -> list[int]:
    planes = [bytes(p) for p in frame.planes]
    return [planes[0][y * frame.planes[0].line_size + x],
            planes[1][(y // 2) * frame.planes[1].line_size + x // 2],
            planes[2][(y // 2) * frame.planes[2].line_size + x // 2]]


def pictures(path: Path, every: int = 3) -> list[dict]:
    """Every `every`th decoded frame: its time, the full frame's colour (away from the corner), the corner's."""
    canvas = Canvas(640, 360)
    x, y, width, height = canvas.pip_region(*CAMERA_SIZE)
    seen = []
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index % every == 0:
                seen.append({"t": round(float(frame.time), 3), "size": [frame.width, frame.height],
                             "full": colour_at(frame, 160, 120), "pip": colour_at(frame, x + width // 2, y + height // 2)})
    return seen


async def main() -> dict:
    server = start_server()
    try:
        host, webinar, (speaker, viewer) = await live_webinar(server, 2)
        wid = webinar["id"]
        assert (await host.http.post(f"/api/webinars/{wid}/speakers", json={"member_id": speaker.id})).status_code == 204
        live = Path(server.env["CONVENE_DATA_DIR"]) / "live" / str(wid)
        schedule = Schedule()
        host_ws, speaker_ws = await host.connect(server.ws_url), await speaker.connect(server.ws_url)
        host_pc = await publish(host_ws, wid, [Voice(400, schedule, HOST_TALKS), Colour(HOST_CAMERA, CAMERA_SIZE),
                                               Colour(SCREEN, SCREEN_SIZE)], kinds=["audio", "video", "screen"])
        speaker_pc = await publish(speaker_ws, wid, [Voice(650, schedule, SPEAKER_TALKS),
                                                     Colour(SPEAKER_CAMERA, CAMERA_SIZE)])
        # A WebRTC viewer takes the host's camera and screen share (two video tracks) and their sound.
        viewer_pc, got = await view(await viewer.connect(server.ws_url), wid, host.id, videos=2)
        await until(lambda: len(got.sizes) >= 2, "the host's camera and screen at a viewer", 30)
        await viewer_pc.close()
        await until(lambda: (live / "video" / "ll.m3u8").exists(), "the stream", 30)
        await asyncio.sleep(1.0)   # both pictures flowing
        schedule.start, started_wall = time.monotonic(), time.time()
        await asyncio.sleep(END_S + 0.5)
        assert (await host.http.post(f"/api/webinars/{wid}/end")).status_code == 200
        await until(lambda: "#EXT-X-ENDLIST" in (live / "video" / "index.m3u8").read_text(), "the end", 30)
        metrics = (await host.http.get("/metrics")).text
        await asyncio.gather(host_pc.close(), speaker_pc.close())
        playlist = (live / "video" / "index.m3u8").read_text()
        first_date = next(line.split(":", 1)[1] for line in playlist.splitlines()
                          if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"))
        zero = datetime.fromisoformat(first_date.replace("Z", "+00:00")).timestamp()
        recording = await archived_recording(host.http, wid, 20)
        files = await archived_files(host.http, recording["id"], live.parent / "downloads") if recording else {}
        switches = [line for line in metrics.splitlines() if line.startswith("convene_live_speaker_switches_total")]
        return {"schedule_at": round(started_wall - zero, 3), "host_talks": HOST_TALKS, "speaker_talks": SPEAKER_TALKS,
                "speaker_starts": SPEAKER_STARTS, "end_s": END_S,
                "colours": {"screen": SCREEN, "host": HOST_CAMERA, "speaker": SPEAKER_CAMERA},
                "live": pictures(live / "video" / "index.m3u8"),
                "archive": pictures(files["video"], every=5) if "video" in files else None,
                "switch_metric": switches, "viewer": {"kinds": sorted(got.kinds), "sizes": sorted(got.sizes)}}
    finally:
        server.stop()
        print(server.log_tail(30), flush=True)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main())))
