"""Media: WebRTC viewers per process, video and audio-only, with the server's CPU and memory at each count.

One presenter publishes 640×480 VP8 at 30 fps plus Opus audio (aiortc, in its own process);
viewers (aiortc, in this process) watch with video or audio only, and the server forwards
without re-encoding (recordings/media). At each viewer count the server process's CPU
(fraction of one core) and resident memory are read from /proc, with what each viewer
received per second. The live HTTP stream's packager, a child of the server, is reported
apart (its own scenario measures it). Viewers do not decode (they count the encoded frames
the server forwards), so the load generator stays cheap; the server cannot tell the difference.

Everything runs in a loopback-only network namespace (`unshare -n`, root), like the media tests:
`python -m bench --only media` re-runs this module under `unshare -n` and reads its JSON.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from bench.procstat import children_of, cpu_seconds, machine_cpu, rss_kib
from bench.scenarios.common import RunOptions, log
from bench.sizes import Sizes

REASON = "needs root and unshare/ip for a loopback-only network namespace; run it as root with --only media"


def can_run() -> bool:
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("unshare", "ip"))

# Quick: enough for a per-viewer slope inside `make bench`'s five minutes; full: up to the machine's limit.
STEPS = {"quick": (1, 5), "full": (1, 5, 10, 20, 40)}
WINDOW_S = {"quick": 3.0, "full": 10.0}
WIDTH, HEIGHT, FPS = 640, 480, 30
VIDEO_TIME_BASE = fractions.Fraction(1, 90000)
REPO_ROOT = Path(__file__).resolve().parents[2]


def run(sizes: Sizes, options: RunOptions) -> dict:
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            return {"error": f"the media benchmark needs `{tool}`", "targets": []}
    command = ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$0" -m bench.scenarios.media "$@"',
               sys.executable, "measure", sizes.mode]
    log(f"media: {sizes.mode} run in a loopback-only namespace")
    proc = subprocess.run(command, cwd=REPO_ROOT, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
                          capture_output=True, text=True, timeout=1800)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"media measurement failed ({proc.returncode}): {proc.stderr[-3000:]}")
    result = json.loads(lines[-1])
    result["targets"] = _targets(result)
    return result


def _full_rate(step: dict) -> bool:
    """Every viewer got at least 90 % of what was published (30 video frames, 50 audio frames a second)."""
    return "failed" not in step and step["audio_fps_min"] >= 45 and (step["kind"] == "audio" or step["video_fps_min"] >= 27)


def _targets(result: dict) -> list[dict]:
    """Viewers per core, extrapolated from the largest count that still got everything."""
    targets = []
    for kind, label in (("video", "WebRTC video viewers"), ("audio", "WebRTC audio-only viewers")):
        steps = [s for s in result["steps"] if s["kind"] == kind and s["viewers"] and _full_rate(s)]
        if not steps:
            continue
        top = steps[-1]
        per_viewer = (top["server_cpu"] - result["idle"]["server_cpu"]) / top["viewers"]
        per_core = int(1 / per_viewer) if per_viewer > 0 else None
        targets.append({"target": f"{label} per process (one core, extrapolated from {top['viewers']} at full rate)",
                        "value": f"{per_core} ({per_viewer * 100:.2f} % of a core each)", "met": None,
                        "undecided": "no pass mark in issue 6: measured"})
    return targets


# --- inside the namespace ----------------------------------------------------------------------------


async def _measure(mode: str) -> dict:
    from tests.conftest import embedded_env
    from tests.support.client import Api
    from tests.support.services import ServerProcess

    from recordings.media.ice import restrict_host_addresses

    restrict_host_addresses(["127.0.0.1"])
    server = ServerProcess(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-bench-media-")),
                                            MEDIA_HOST_ADDRESSES="127.0.0.1"))
    server.start(timeout=60)
    publisher_proc = None
    try:
        host, webinar, publisher_proc = await presenting(server, "Bench stage")
        steps_max = max(STEPS[mode])
        viewers = [await Api.register(server.url) for _ in range(steps_max)]
        for viewer in viewers:
            assert (await viewer.http.post(f"/api/webinars/{webinar}/register")).status_code == 200
        window = WINDOW_S[mode]
        await asyncio.sleep(2)
        idle = _sample(server.pid, window, publisher_proc.pid)
        steps = []
        for kind in ("video", "audio"):
            for count in STEPS[mode]:
                try:
                    steps.append(await _step(server, webinar, host.id, viewers[:count], kind, window,
                                             publisher_proc.pid))
                except AssertionError as error:   # not every viewer received: say so, go on
                    steps.append({"kind": kind, "viewers": count, "failed": str(error)})
        return {"idle": idle, "steps": steps, "window_s": window,
                "published": {"width": WIDTH, "height": HEIGHT, "fps": FPS, "codec": "vp8+opus"}}
    except BaseException:
        print(server.log_tail(40), file=sys.stderr, flush=True)
        raise
    finally:
        if publisher_proc is not None:
            publisher_proc.terminate()
            publisher_proc.wait(10)
        server.stop()


async def presenting(server, title: str, pin: tuple[str, ...] = ()) -> tuple[object, int, subprocess.Popen]:
    """A live webinar on `server` whose host publishes from a process of its own (run under `pin`, e.g.
    taskset): the host's Api, the webinar id and that process, once it publishes."""
    from tests.support.client import Api

    host = await Api.register(server.url)
    starts = datetime.now(timezone.utc)
    response = await host.http.post("/api/webinars", json={
        "title": title, "description": "", "language": "en", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(), "visibility": "public"})
    webinar = response.json()["id"]
    assert (await host.http.post(f"/api/webinars/{webinar}/start")).status_code == 200
    publisher = subprocess.Popen(
        [*pin, sys.executable, "-m", "bench.scenarios.media", "publish", server.ws_url, host.token, str(webinar)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    assert publisher.stdout is not None and publisher.stdout.readline().strip() == "publishing"
    return host, webinar, publisher


def _sample(pid: int, window_s: float, publisher: int) -> dict:
    """Over the window, in fractions of one core: the server, its children (the live packager), the
    viewers (this process), the publisher, and the whole machine (all cores); and the server's RSS."""
    kids = children_of(pid)

    def read() -> tuple[float, ...]:
        return (cpu_seconds(pid) or 0.0, sum(cpu_seconds(k) or 0.0 for k in kids), cpu_seconds(os.getpid()) or 0.0,
                cpu_seconds(publisher) or 0.0, machine_cpu()[0], time.monotonic())

    before = read()
    time.sleep(window_s)
    after = read()
    span = after[-1] - before[-1]
    server, packager, viewers, presenter, machine = ((a - b) / span for a, b in zip(after[:-1], before[:-1]))
    return {"server_cpu": round(server, 4), "server_rss_mib": round((rss_kib(pid) or 0) / 1024, 1),
            "packager_cpu": round(packager, 4), "viewers_cpu": round(viewers, 4),
            "publisher_cpu": round(presenter, 4), "machine_busy": round(machine, 3)}


async def _step(server, webinar: int, host_id: int, people: list, kind: str, window: float,
                publisher: int) -> dict:
    from tests.media.peers import until

    log(f"media: {len(people)} {kind} viewers")
    viewers = [await _Viewer.open(server.ws_url, person, webinar, host_id, audio_only=kind == "audio")
               for person in people]
    try:
        await until(lambda: all(v.video if kind == "video" else v.audio for v in viewers), "viewers to receive", 60)
        await asyncio.sleep(1)
        for v in viewers:
            v.video = v.audio = 0
        sample = await asyncio.get_running_loop().run_in_executor(None, _sample, server.pid, window, publisher)
        video = [v.video / window for v in viewers]
        audio = [v.audio / window for v in viewers]
    finally:
        for v in viewers:
            await v.close()
        await asyncio.sleep(1)
    return {"kind": kind, "viewers": len(people), **sample,
            "video_fps_min": round(min(video), 1), "video_fps_median": round(statistics.median(video), 1),
            "audio_fps_min": round(min(audio), 1), "audio_fps_median": round(statistics.median(audio), 1)}


class _Viewer:
    """One attendee: a socket and a peer whose receivers count forwarded frames instead of decoding them."""

    def __init__(self) -> None:
        self.video = 0
        self.audio = 0
        self.client = None
        self.pc = None

    @classmethod
    async def open(cls, ws_url: str, person, webinar: int, publisher: int, audio_only: bool) -> "_Viewer":
        from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

        from recordings.media.forwarding import forward_packets

        self = cls()
        self.client = await person.connect(ws_url)
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        kinds = ["audio"] if audio_only else ["audio", "video"]
        transceivers = [self.pc.addTransceiver(k, direction="recvonly") for k in kinds]
        await self.pc.setLocalDescription(await self.pc.createOffer())
        reply = await self.client.request({"type": "media.view", "webinar": webinar, "publisher": publisher,
                                           "sdp": self.pc.localDescription.sdp, "audio_only": audio_only}, timeout=60)
        assert reply["type"] == "media.answer", reply
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        for transceiver in transceivers:
            forward_packets(transceiver.receiver, transceiver.kind, self._counter(transceiver.kind))
        return self

    def _counter(self, kind: str):
        def count(codec: str, packet: object) -> None:
            if kind == "video":
                self.video += 1
            else:
                self.audio += 1
        return count

    async def close(self) -> None:
        await self.pc.close()
        await self.client.close()


async def _publish(ws_url: str, token: str, webinar: int) -> None:
    """The presenter: VP8 encoded once up front and looped (cheap to send), and aiortc's Opus."""
    import av
    from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
    from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack

    from recordings.media.ice import restrict_host_addresses
    from tests.support.client import ChatClient

    restrict_host_addresses(["127.0.0.1"])
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate, codec.gop_size, codec.time_base = 800_000, 2 * FPS, VIDEO_TIME_BASE
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    encoded: list[bytes] = []
    for i in range(2 * FPS):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane, value in zip(frame.planes, ((i * 4) % 256, 128, 128)):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = i * 3000
        encoded += [bytes(p) for p in codec.encode(frame)]

    class LoopedVideo(MediaStreamTrack):
        kind = "video"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0
            self.start = time.monotonic()

        async def recv(self) -> av.Packet:
            self.n += 1
            await asyncio.sleep(max(0.0, self.start + self.n / FPS - time.monotonic()))
            packet = av.Packet(encoded[self.n % len(encoded)])
            packet.pts, packet.time_base = self.n * (90000 // FPS), VIDEO_TIME_BASE
            return packet

    client = await ChatClient.connect(ws_url, token)
    while True:   # as a browser would, publish again if the connection fails
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.addTransceiver(LoopedVideo(), direction="sendonly")
        pc.addTransceiver(AudioStreamTrack(), direction="sendonly")
        gone = asyncio.Event()
        pc.on("connectionstatechange", lambda pc=pc, gone=gone: pc.connectionState in ("failed", "closed")
              and gone.set())
        await pc.setLocalDescription(await pc.createOffer())
        reply = await client.request({"type": "media.publish", "webinar": webinar,
                                      "sdp": pc.localDescription.sdp}, timeout=60)
        assert reply["type"] == "media.answer", reply
        await pc.setRemoteDescription(RTCSessionDescription(sdp=reply["sdp"], type="answer"))
        print("publishing", flush=True)
        await gone.wait()
        print("publishing again", file=sys.stderr, flush=True)
        await pc.close()


if __name__ == "__main__":
    if sys.argv[1] == "measure":
        print(json.dumps(asyncio.run(_measure(sys.argv[2]))))
    elif sys.argv[1] == "publish":
        asyncio.run(_publish(sys.argv[2], sys.argv[3], int(sys.argv[4])))
