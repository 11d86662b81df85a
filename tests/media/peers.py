"""Helpers for media scenarios (run inside the loopback-only namespace): a server, a live webinar, aiortc peers.

The peers use aiortc as a browser would use WebRTC: offers go over the websocket as
media.publish / media.view, answers come back as media.answer.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack, VideoStreamTrack
from av import VideoFrame

from recordings.media.ice import restrict_host_addresses
from tests.conftest import embedded_env
from tests.support.client import Api, ChatClient
from tests.support.services import ServerProcess

WIDTH, HEIGHT = 320, 240


def start_server(**extra: str) -> ServerProcess:
    restrict_host_addresses(["127.0.0.1"])   # for this process's own aiortc peers
    server = ServerProcess(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-media-")),
                                            MEDIA_HOST_ADDRESSES="127.0.0.1", **extra))
    server.start()
    return server


async def live_webinar(server: ServerProcess, attendees: int) -> tuple[Api, dict, list[Api]]:
    host = await Api.register(server.url)
    starts = datetime.now(timezone.utc)
    response = await host.http.post("/api/webinars", json={
        "title": "Media check", "description": "", "language": "en", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})
    assert response.status_code == 201, response.text
    webinar = response.json()
    people = [await Api.register(server.url) for _ in range(attendees)]
    for person in people:
        assert (await person.http.post(f"/api/webinars/{webinar['id']}/register")).status_code == 200
    assert (await host.http.post(f"/api/webinars/{webinar['id']}/start")).status_code == 200
    return host, webinar, people


class SyntheticVideo(VideoStreamTrack):
    """A moving 320x240 picture at 30 fps."""

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(WIDTH, HEIGHT, "yuv420p")
        shade = (pts // 3000) % 256
        for plane, value in zip(frame.planes, (shade, 128, (255 - shade) % 256)):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


def peer() -> RTCPeerConnection:
    # max-bundle as browsers do: with aiortc's default, a second video track (a screen share) never starts.
    return RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))


async def publish(client: ChatClient, webinar_id: int, tracks: list[MediaStreamTrack],
                  kinds: list[str] | None = None) -> RTCPeerConnection:
    """Publishes the tracks in this order; `kinds` labels them (a second video track is a screen share)."""
    pc = peer()
    for track in tracks:
        pc.addTransceiver(track, direction="sendonly")
    await pc.setLocalDescription(await pc.createOffer())
    reply = await client.request({"type": "media.publish", "webinar": webinar_id, "sdp": pc.localDescription.sdp,
                                  "kinds": kinds or sorted({t.kind for t in tracks})}, timeout=30)
    assert reply["type"] == "media.answer", reply
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    return pc


@dataclass
class Received:
    """What one viewer got: track kinds, decoded video frames and their sizes, audio frames."""

    kinds: list[str] = field(default_factory=list)
    video_frames: int = 0
    sizes: set[tuple[int, int]] = field(default_factory=set)
    audio_frames: int = 0
    video_times: list[float] = field(default_factory=list)
    audio_times: list[float] = field(default_factory=list)


async def view(client: ChatClient, webinar_id: int, publisher: int, audio_only: bool = False, videos: int = 1
               ) -> tuple[RTCPeerConnection, Received]:
    """Views a publisher; `videos` 2 takes their screen share too (the second video m-line)."""
    pc = peer()
    got = Received()
    pc.addTransceiver("audio", direction="recvonly")
    for _ in range(0 if audio_only else videos):
        pc.addTransceiver("video", direction="recvonly")

    @pc.on("track")
    def on_track(track: MediaStreamTrack) -> None:
        got.kinds.append(track.kind)
        asyncio.ensure_future(_consume(track, got))

    await pc.setLocalDescription(await pc.createOffer())
    reply = await client.request({"type": "media.view", "webinar": webinar_id, "publisher": publisher,
                                  "sdp": pc.localDescription.sdp, "audio_only": audio_only}, timeout=30)
    assert reply["type"] == "media.answer", reply
    await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
    return pc, got


async def _consume(track: MediaStreamTrack, got: Received) -> None:
    while True:
        try:
            frame = await track.recv()
        except MediaStreamError:
            return
        if track.kind == "video":
            got.video_frames += 1
            got.sizes.add((frame.width, frame.height))
            got.video_times.append(time.monotonic())
        else:
            got.audio_frames += 1
            got.audio_times.append(time.monotonic())


def per_second(times: list[float], start: float, seconds: int) -> list[int]:
    """Frames in each whole second after `start`."""
    return [sum(1 for t in times if start + i <= t < start + i + 1) for i in range(seconds)]


async def until(condition, what: str, timeout: float = 20.0) -> None:
    """Waits for media to arrive (ICE, DTLS and the first keyframe take longer on a busy machine)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)
