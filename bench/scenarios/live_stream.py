"""The live HTTP stream's encode cost: CPU of the packager worker per second of stream, at the default settings.

One worker per webinar does all the work (decode the publishers, mix, scale, encode H.264 +
AAC once, write HLS), however many attendees watch; viewers cost only HTTP (and nothing on
the origin behind a CDN). Packets are real VP8/Opus, encoded before the measurement and
handed to the tap at their own pace, as a media session does. Measured from /proc after the
worker's start-up, so importing PyAV is not counted.

Run alone: `python -m bench.scenarios.live_stream [--full]` (prints JSON and a Markdown table).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import av

from bench.procstat import cpu_seconds, rss_kib
from recordings.live.packager import LivePackager
from recordings.live.settings import LiveSettings
from tests.support.live_media import Sent, opus_packets, vp8_encoder

WARMUP_S = 2.0


def camera_packets(seconds: float, publisher_id: int, size: tuple[int, int], fps: int) -> list[Sent]:
    """A moving picture encoded with libvpx at a webcam's usual size and rate. Two seconds are encoded
    (keyframe first) and repeated with advancing timestamps: the packager sees a continuous stream."""
    encoder = vp8_encoder(size, fps, 800_000, keyframe_s=2.0)
    width, height = size
    pattern = bytes((x * 7 + (x // 13) * 31) % 220 + 16 for x in range(width * height * 2))
    loop: list[av.Packet] = []
    for index in range(2 * fps):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = frame.planes[0]
        shift = (index * 9) % (width * height)
        luma.update(pattern[shift: shift + luma.buffer_size])
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = index * 90_000 // fps, encoder.time_base
        loop.extend(encoder.encode(frame))
    sent = []
    step = 90_000 // fps
    for index in range(int(seconds * fps)):
        source = loop[index % len(loop)]
        packet = av.Packet(bytes(source))
        packet.pts = packet.dts = index * step
        packet.time_base = encoder.time_base
        packet.is_keyframe = source.is_keyframe
        sent.append(Sent(index / fps, publisher_id, "video", "vp8", packet))
    return sent


def measure(name: str, packets: list[Sent], seconds: float, settings: LiveSettings) -> dict:
    directory = Path(tempfile.mkdtemp(prefix="convene-bench-live-")) / "live" / "1"
    packager = LivePackager(1, directory, settings)
    started = time.monotonic()
    tap_s, calls = 0.0, 0
    cpu_start = None
    queue = sorted(packets, key=lambda s: s.at)
    position = 0
    while True:
        now = time.monotonic() - started
        if cpu_start is None and now >= WARMUP_S:
            assert packager.process is not None, "the worker starts with the first packet"
            pid = packager.process.pid
            cpu_start, measured_from = cpu_seconds(pid), now
        if now >= seconds:
            break
        while position < len(queue) and queue[position].at <= now:
            sent = queue[position]
            # CPU of this thread, not wall time: on a shared machine the wall clock counts preemption.
            before = time.thread_time()
            packager.on_packet(sent.publisher_id, sent.kind, sent.codec, sent.packet)
            tap_s += time.thread_time() - before
            calls += 1
            position += 1
        time.sleep(0.002)
    cpu_end, measured_to, rss = cpu_seconds(pid), time.monotonic() - started, rss_kib(pid)
    packager.close()
    packager.wait(30)
    sizes = {r: sum(p.stat().st_size for p in (directory / r).glob("seg-*.m4s")) for r in ("video", "audio")}
    durations = {r: len(list((directory / r).glob("seg-*.m4s"))) for r in ("video", "audio")}
    shutil.rmtree(directory.parents[1], ignore_errors=True)
    stream_s = measured_to - measured_from
    return {
        "case": name,
        "stream_s": round(stream_s, 1),
        "worker_cpu_per_stream_s": round((cpu_end - cpu_start) / stream_s, 3),
        "worker_rss_mib": round((rss or 0) / 1024, 1),
        "tap_us_per_packet": round(1e6 * tap_s / max(1, calls), 1),
        "video_kbit_s": round(8 * sizes["video"] / max(1, durations["video"] * settings.segment_s) / 1000, 1),
        "audio_kbit_s": round(8 * sizes["audio"] / max(1, durations["audio"] * settings.segment_s) / 1000, 1),
        "dropped_video": packager.dropped_video,
        "dropped_audio": packager.dropped_audio,
    }


def run_cases(seconds: float) -> dict:
    settings = LiveSettings()
    camera = camera_packets(seconds, 1, (640, 480), 30)
    voice = opus_packets(seconds, 1)
    second_voice = opus_packets(seconds, 2, tone_hz=650)
    cases = [
        # The stream starts with a first packet; after it, nobody: black and silence, encoded all the same.
        ("nobody publishing (black, silence)", voice[:1]),
        ("one presenter: 640x480 30 fps VP8 + Opus", camera + voice),
        ("presenter + a second speaker (audio mixed)", camera + voice + second_voice),
    ]
    return {"settings": {"size": f"{settings.width}x{settings.height}", "fps": settings.fps,
                         "video_bitrate": settings.video_bitrate, "audio_bitrate": settings.audio_bitrate,
                         "segment_s": settings.segment_s},
            "cases": [measure(name, packets, seconds, settings) for name, packets in cases]}


def markdown(result: dict) -> str:
    s = result["settings"]
    lines = [f"Settings: {s['size']} at {s['fps']} fps, H.264 {s['video_bitrate'] // 1000} kbit/s, "
             f"AAC {s['audio_bitrate'] // 1000} kbit/s, {s['segment_s']} s segments.", "",
             "| case | worker CPU per stream second | worker RSS | tap CPU per packet (event loop) | video rendition | audio rendition |",
             "| --- | --- | --- | --- | --- | --- |"]
    for case in result["cases"]:
        lines.append(f"| {case['case']} | {case['worker_cpu_per_stream_s'] * 100:.1f} % of a core | "
                     f"{case['worker_rss_mib']} MiB | {case['tap_us_per_packet']} µs | "
                     f"{case['video_kbit_s']} kbit/s | {case['audio_kbit_s']} kbit/s |")
    return "\n".join(lines)


def run(sizes: object, options: object) -> dict:
    """The bench runner's interface (bench/scenarios/__init__.py): quick 5 s per case, full 40 s."""
    seconds = 40.0 if getattr(sizes, "mode", "quick") == "full" else 5.0
    result = run_cases(seconds)
    result["targets"] = []
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true")
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    found = run_cases(args.seconds or (40.0 if args.full else 12.0))
    print(json.dumps(found, indent=1))
    print(markdown(found), file=sys.stderr)
