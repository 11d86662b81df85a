"""The media work of an archive job, with PyAV: probe, remux or transcode, audio-only Opus, poster, HLS.

Runs in the job's own process (recordings/archive/process.py), never on the server's event loop.
Every function reports progress through a callback taking a fraction of its own share of the work.
"""

from __future__ import annotations

import heapq
import re
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator

import av
import av.error

Progress = Callable[[float], None]
POSTER_AT_S = 3.0
POSTER_MAX_WIDTH = 1280
HLS_SEGMENT_S = 4
_SEGMENT = re.compile(r"^seg-\d{5,6}\.m4s$")


class NotMedia(ValueError):
    """The file is not audio or video that FFmpeg can decode."""


@dataclass(frozen=True)
class Probe:
    has_video: bool
    has_audio: bool
    duration_s: float | None


def probe(path: Path) -> Probe:
    """What the file really holds, read from its content (never its name or declared type)."""
    try:
        with av.open(str(path), options={"probesize": "5000000"}) as container:
            video = any(s.type == "video" and s.codec_context.name not in ("mjpeg", "png") for s in container.streams)
            audio = any(s.type == "audio" for s in container.streams)
            duration = container.duration / av.time_base if container.duration else None
            if not video and not audio:
                raise NotMedia("no audio or video stream")
            # A demuxer can claim almost anything (text files look like raw formats): decode a little.
            if not _decodes(container):
                raise NotMedia("no decodable audio or video")
            return Probe(video, audio, duration)
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, NotMedia):
            raise
        raise NotMedia(str(error)) from None


def _decodes(container: av.container.InputContainer) -> bool:
    streams = [s for s in container.streams if s.type in ("video", "audio")]
    for n, frame in enumerate(container.decode(*streams)):
        return True if frame is not None else n < 0
    return False


# Live sources: the packager's fMP4 HLS, remuxed without re-encoding.

def playlist_segments(playlist: Path) -> list[Path]:
    """The media segments a live playlist lists, in order; only names the packager writes."""
    names = [line.strip() for line in playlist.read_text().splitlines() if line.strip() and not line.startswith("#")]
    return [playlist.parent / name for name in names if _SEGMENT.match(name)]


def concat_fmp4(rendition: Path, target: Path) -> bool:
    """init.mp4 + every segment = one fragmented MP4 file; False when the rendition is missing."""
    init, playlist = rendition / "init.mp4", rendition / "index.m3u8"
    if not init.exists() or not playlist.exists():
        return False
    with open(target, "wb") as out:
        for part in [init, *playlist_segments(playlist)]:
            with open(part, "rb") as data:
                shutil.copyfileobj(data, out, 1024 * 1024)
    return True


def remux_mp4(video_src: Path | None, audio_src: Path | None, target: Path, progress: Progress) -> None:
    """Copies the H.264 (from video_src) and AAC (from video_src, else audio_src) packets into one
    faststart MP4, shifting both onto a common zero and interleaving them by time."""
    opened = [av.open(str(p)) for p in (video_src, audio_src) if p is not None]
    try:
        chosen: dict[int, list[av.stream.Stream]] = {}   # index in opened -> its streams we copy
        if video_src is not None and opened[0].streams.video:
            chosen.setdefault(0, []).append(opened[0].streams.video[0])
        for n, container in enumerate(opened):
            if container.streams.audio:
                chosen.setdefault(n, []).append(container.streams.audio[0])
                break
        streams = [s for group in chosen.values() for s in group]
        if not streams:
            raise NotMedia("the live recording holds no audio or video")
        zero = min(float((s.start_time or 0) * s.time_base) for s in streams)
        total = max((_duration_s(c) or 0.0) for c in opened) or 1.0
        with av.open(str(target), "w", format="mp4", options={"movflags": "+faststart"}) as out:
            outs = {id(s): out.add_stream_from_template(s) for s in streams}
            shifts = {id(s): round(zero / s.time_base) for s in streams}

            def packets(n: int) -> Iterator[tuple[float, int, av.Packet]]:
                for packet in opened[n].demux(*chosen[n]):
                    if packet.dts is not None:
                        yield float(packet.dts * packet.time_base), n, packet

            done = 0.0
            last: dict[int, int] = {}
            for at, _, packet in heapq.merge(*(packets(n) for n in chosen), key=lambda item: item[0]):
                key = id(packet.stream)
                if key in last and packet.dts - shifts[key] <= last[key]:
                    # The packager restarted mid-webinar and its appended segments start again from zero
                    # (after #EXT-X-DISCONTINUITY): carry on from where the stream was.
                    shifts[key] = packet.dts - last[key] - max(1, packet.duration or 1)
                packet.pts -= shifts[key]
                packet.dts -= shifts[key]
                last[key] = packet.dts
                packet.stream = outs[key]
                out.mux(packet)
                if at - done >= 5:
                    done = at
                    progress(min(1.0, (at - zero) / total))
        progress(1.0)
    finally:
        for container in opened:
            container.close()


def _duration_s(container: av.container.InputContainer) -> float | None:
    return container.duration / av.time_base if container.duration else None


def copy_live_hls(live_dir: Path, target: Path) -> None:
    """The live playlists and segments, as the packager wrote them (already fMP4, already segmented)."""
    target.mkdir(parents=True, exist_ok=True)
    for rendition in ("video", "audio"):
        source = live_dir / rendition
        if not (source / "index.m3u8").exists():
            continue
        (target / rendition).mkdir(exist_ok=True)
        for part in [source / "init.mp4", source / "index.m3u8", *playlist_segments(source / "index.m3u8")]:
            shutil.copyfile(part, target / rendition / part.name)
    if (live_dir / "master.m3u8").exists():
        shutil.copyfile(live_dir / "master.m3u8", target / "master.m3u8")
    else:
        write_master(target)


# Uploaded sources: transcoded to the web-playable rendition.

def transcode_mp4(source: Path, target: Path, progress: Progress) -> None:
    """H.264 (yuv420p, at most 1280 wide) + AAC, faststart: what every browser plays."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="mp4",
                                              options={"movflags": "+faststart"}) as out:
        vin = src.streams.video[0] if src.streams.video else None
        ain = src.streams.audio[0] if src.streams.audio else None
        total = _duration_s(src) or 1.0
        vout = aout = None
        if vin is not None:
            rate = vin.average_rate or Fraction(25)
            vout = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "26"})
            width = min(POSTER_MAX_WIDTH, vin.codec_context.width) // 2 * 2
            vout.width = width
            vout.height = round(vin.codec_context.height * width / vin.codec_context.width) // 2 * 2
            vout.pix_fmt = "yuv420p"
            vout.codec_context.time_base = Fraction(1, 90000)
        if ain is not None:
            aout = out.add_stream("aac", rate=48000, layout="stereo")
            aout.bit_rate = 96_000
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=48000) if ain else None
        streams = [s for s in (vin, ain) if s is not None]
        start: float | None = None
        for frame in src.decode(*streams):
            if frame.time is None:
                continue
            start = frame.time if start is None else start
            t = max(0.0, frame.time - start)
            if isinstance(frame, av.VideoFrame) and vout is not None:
                image = frame.reformat(width=vout.width, height=vout.height, format="yuv420p")
                image.pts = round(t * 90000)
                image.time_base = Fraction(1, 90000)
                out.mux(vout.encode(image))
            elif isinstance(frame, av.AudioFrame) and aout is not None and resampler is not None:
                frame.pts = None
                for chunk in resampler.resample(frame):
                    out.mux(aout.encode(chunk))
            progress(min(1.0, t / total))
        for stream in (vout, aout):
            if stream is not None:
                out.mux(stream.encode(None))
    progress(1.0)


# Both kinds of source.

def encode_opus(source: Path, target: Path, progress: Progress, bit_rate: int = 32_000) -> None:
    """The audio-only rendition: Opus, mono, ~32 kbit/s (about 15 MB an hour) in Ogg."""
    with av.open(str(source)) as src, av.open(str(target), "w", format="ogg") as out:
        if not src.streams.audio:
            raise NotMedia("no audio to make the audio-only rendition from")
        ain = src.streams.audio[0]
        total = _duration_s(src) or 1.0
        aout = out.add_stream("libopus", rate=48000, layout="mono")
        aout.bit_rate = bit_rate
        resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
        for frame in src.decode(ain):
            t = frame.time or 0.0
            frame.pts = None
            for chunk in resampler.resample(frame):
                out.mux(aout.encode(chunk))
            progress(min(1.0, t / total))
        for chunk in resampler.resample(None):
            out.mux(aout.encode(chunk))
        out.mux(aout.encode(None))
    progress(1.0)


def poster(source: Path, target: Path, at_s: float = POSTER_AT_S) -> bool:
    """A JPEG of the frame a few seconds in (or a third of the way into a shorter video)."""
    with av.open(str(source)) as src:
        if not src.streams.video:
            return False
        duration = _duration_s(src) or at_s * 3
        wanted = min(at_s, duration / 3)
        chosen = None
        for frame in src.decode(src.streams.video[0]):
            chosen = frame
            if frame.time is not None and frame.time >= wanted:
                break
        if chosen is None:
            return False
    width = min(POSTER_MAX_WIDTH, chosen.width) // 2 * 2
    height = round(chosen.height * width / chosen.width) // 2 * 2
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    image = chosen.reformat(width=width, height=height, format="yuvj420p")
    image.pts = 0
    with open(target, "wb") as out:
        for packet in [*encoder.encode(image), *encoder.encode(None)]:
            out.write(bytes(packet))
    return True


def segment_hls(source: Path, target: Path, progress: Progress) -> None:
    """fMP4 HLS from a finished MP4: video/ (H.264 + AAC) and audio/ (AAC only), plus master.m3u8."""
    target.mkdir(parents=True, exist_ok=True)
    with av.open(str(source)) as probe_src:
        kinds = [kind for kind in ("video", "audio") if getattr(probe_src.streams, kind)]
    renditions = {"video": ("video", "audio"), "audio": ("audio",)}
    for n, rendition in enumerate(r for r in ("video", "audio") if r in kinds):
        folder = target / rendition
        folder.mkdir(exist_ok=True)
        with av.open(str(source)) as src:
            streams = [getattr(src.streams, kind)[0] for kind in renditions[rendition] if getattr(src.streams, kind)]
            options = {"hls_time": str(HLS_SEGMENT_S), "hls_playlist_type": "vod", "hls_segment_type": "fmp4",
                       "hls_fmp4_init_filename": "init.mp4",
                       "hls_segment_filename": str(folder / "seg-%05d.m4s"), "hls_flags": "independent_segments"}
            with av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as out:
                outs = {s.index: out.add_stream_from_template(s) for s in streams}
                for packet in src.demux(*streams):
                    if packet.dts is None:
                        continue
                    packet.stream = outs[packet.stream.index]
                    out.mux(packet)
        progress((n + 1) / len(kinds))
    write_master(target)


def write_master(target: Path) -> None:
    """A master playlist naming the renditions present: the video one first, audio-only after."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:7", "#EXT-X-INDEPENDENT-SEGMENTS"]
    if (target / "video" / "index.m3u8").exists():
        lines += ['#EXT-X-STREAM-INF:BANDWIDTH=1500000,CODECS="avc1.64001f,mp4a.40.2"', "video/index.m3u8"]
    if (target / "audio" / "index.m3u8").exists():
        lines += ['#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"', "audio/index.m3u8"]
    (target / "master.m3u8").write_text("\n".join(lines) + "\n")


def duration_of(path: Path) -> float | None:
    """The longest stream's end in seconds, from the packets (container headers can be missing)."""
    with av.open(str(path)) as container:
        end = 0.0
        for stream in container.streams:
            if stream.duration and stream.time_base:
                end = max(end, float(stream.duration * stream.time_base))
        if end:
            return end
        return _duration_s(container)
