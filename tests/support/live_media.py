"""Synthetic publishers for the live stream tests and bench: real VP8 and Opus packets, encoded with PyAV,
timestamped as a media session hands them on (RTP clock: 90 kHz video, 48 kHz audio, from 0)."""

from __future__ import annotations

import array
import fractions
import functools
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import av

from recordings.live.packager import LivePackager
from recordings.live.settings import LiveSettings
from recordings.live.streams import live_dir
from recordings.media.taps import PacketTap


@dataclass(frozen=True)
class Sent:
    at: float            # seconds after the publisher started
    publisher_id: int
    kind: str
    codec: str
    packet: av.Packet


def vp8_encoder(size: tuple[int, int], fps: int, bit_rate: int, keyframe_s: float) -> av.CodecContext:
    """libvpx as a browser's WebRTC uses it: real time, no look-ahead, a 90 kHz clock."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height = size
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = fractions.Fraction(1, 90_000)
    encoder.framerate = fractions.Fraction(fps, 1)
    encoder.bit_rate = bit_rate
    encoder.gop_size = max(1, int(fps * keyframe_s))
    encoder.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    return encoder


def vp8_packets(seconds: float, publisher_id: int, *, fps: int = 15, size: tuple[int, int] = (160, 120),
                keyframe_s: float = 1.0, colour: tuple[int, int, int] | None = None, kind: str = "video",
                start_s: float = 0.0) -> list[Sent]:
    """A camera (kind "video") or a screen share ("screen"): a moving grey, or one YUV `colour` throughout."""
    encoder = vp8_encoder(size, fps, 300_000, keyframe_s)
    sent = []
    for index in range(int(seconds * fps)):
        frame = av.VideoFrame(size[0], size[1], "yuv420p")
        values = colour or ((40 + index * 4) % 220, 90 + publisher_id * 30 % 80, 160)
        for plane, value in zip(frame.planes, values):
            plane.update(bytes([value]) * plane.buffer_size)
        frame.pts = index * 90_000 // fps
        frame.time_base = encoder.time_base
        for packet in encoder.encode(frame):
            sent.append(Sent(start_s + packet.pts / 90_000, publisher_id, kind, "vp8", packet))
    return sent


def opus_packets(seconds: float, publisher_id: int, *, tone_hz: int = 400, start_s: float = 0.0,
                 level: int = 8000, talking: list[tuple[float, float]] | None = None) -> list[Sent]:
    """A steady tone; `tone_hz` should be a multiple of 50 so every 20 ms frame is the same samples.
    With `talking` ((from, to) seconds after start_s), the tone only in those windows and silence between."""
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate = 48_000
    encoder.layout = "stereo"
    encoder.format = "s16"
    encoder.time_base = fractions.Fraction(1, 48_000)
    encoder.bit_rate = 64_000
    per_frame = 960   # 20 ms, as WebRTC sends
    samples = array.array("h")
    for n in range(per_frame):
        value = int(level * math.sin(2 * math.pi * tone_hz * n / 48_000))
        samples.extend((value, value))
    data, silence = samples.tobytes(), bytes(per_frame * 4)
    sent = []
    for index in range(int(seconds * 50)):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=per_frame)
        at = index / 50
        voiced = talking is None or any(start <= at < end for start, end in talking)
        frame.planes[0].update(data if voiced else silence)
        frame.sample_rate = 48_000
        frame.pts = index * per_frame
        frame.time_base = encoder.time_base
        for packet in encoder.encode(frame):
            sent.append(Sent(start_s + packet.pts / 48_000, publisher_id, "audio", "opus", packet))
    return sent


def play(packager: PacketTap, packets: list[Sent], *, offset_s: float = 0.0) -> None:
    """Hands the packets to the tap at their own times (the way the session forwards them)."""
    start = time.monotonic() - offset_s
    for sent in sorted(packets, key=lambda s: s.at):
        delay = start + sent.at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        packager.on_packet(sent.publisher_id, sent.kind, sent.codec, sent.packet)


@dataclass(frozen=True)
class Recording:
    """A live stream the packager produced from synthetic publishers, and what was seen while it ran."""

    directory: Path
    seconds: float
    segments_while_flowing: dict[str, list[str]]   # rendition → segment files present before the end
    exit_status: int
    dropped_video: int
    dropped_audio: int


SECONDS = 6.0
SECOND_SPEAKER = (2.0, 5.0)   # a second publisher (audio only) speaks in this window: the mix gets louder


@functools.cache
def recorded_stream() -> Recording:
    """Once per test process: publisher 1 sends VP8 + Opus for SECONDS, publisher 2 joins with audio only for
    a while and leaves; the packager turns it into HLS, in real time, as it would in a webinar."""
    directory = Path(tempfile.mkdtemp(prefix="convene-live-")) / "live" / "1"
    start, stop = SECOND_SPEAKER
    packets = (vp8_packets(SECONDS, 1) + opus_packets(SECONDS, 1)
               + opus_packets(stop - start, 2, tone_hz=650, start_s=start))
    packager = LivePackager(1, directory, LiveSettings())
    play(packager, [p for p in packets if p.at < stop])
    packager.on_publisher_left(2)
    play(packager, [p for p in packets if p.at >= stop], offset_s=stop)
    seen = {name: sorted(p.name for p in (directory / name).glob("seg-*.m4s")) for name in ("video", "audio")}
    packager.close()
    status = packager.wait(30)
    return Recording(directory, SECONDS, seen, status, packager.dropped_video, packager.dropped_audio)


def copy_stream(recording: Recording, data_dir: Path, webinar_id: int) -> Path:
    """Puts the recorded stream where a server looks for webinar `webinar_id`'s live stream."""
    target = live_dir(data_dir, webinar_id)
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(recording.directory, target)
    return target


# A clock burned into the picture: frame n shows n in binary, CLOCK_BITS big blocks in two rows (bright = 1),
# large enough to survive VP8, the packager's scaling and H.264 at the stream's bit rate.
CLOCK_BITS = 12
CLOCK_SIZE = (320, 240)


def clock_block(bit: int) -> tuple[int, int, int, int]:
    """(x, y, width, height) of a bit's block in the CLOCK_SIZE picture."""
    columns = CLOCK_BITS // 2
    width, height = CLOCK_SIZE[0] // columns, CLOCK_SIZE[1] // 2
    return (bit % columns) * width, (bit // columns) * height, width, height


def clock_packets(seconds: float, publisher_id: int, *, fps: int = 15) -> list[Sent]:
    """A camera whose frame n (sent n/fps s after the start) shows the number n."""
    encoder = vp8_encoder(CLOCK_SIZE, fps, 600_000, keyframe_s=1.0)
    width, height = CLOCK_SIZE
    sent = []
    for index in range(int(seconds * fps)):
        luma = bytearray([16]) * (width * height)
        for bit in range(CLOCK_BITS):
            if index >> bit & 1:
                x, y, w, h = clock_block(bit)
                for row in range(y + 8, y + h - 8):
                    luma[row * width + x + 8: row * width + x + w - 8] = bytes([235]) * (w - 16)
        frame = av.VideoFrame(width, height, "yuv420p")
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = index * 90_000 // fps
        frame.time_base = encoder.time_base
        for packet in encoder.encode(frame):
            sent.append(Sent(packet.pts / 90_000, publisher_id, "video", "vp8", packet))
    return sent
