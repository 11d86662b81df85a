"""Synthetic media made with PyAV's own FFmpeg: a test pattern and a 440 Hz tone, for `make run`'s demo recording
and the recording tests (no media files in the repository, and nothing downloaded)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

WIDTH, HEIGHT, FPS = 320, 240, 25


def frames(seconds: float, video: bool, audio: bool):
    """Decoded test-pattern frames and a sine tone, interleaved roughly by time."""
    sources = []
    if video:
        sources.append(av.open(f"testsrc=size={WIDTH}x{HEIGHT}:rate={FPS}:duration={seconds}", format="lavfi"))
    if audio:
        sources.append(av.open(f"sine=frequency=440:sample_rate=48000:duration={seconds}", format="lavfi"))
    try:
        for source in sources:
            for frame in source.decode(source.streams[0]):
                yield frame
    finally:
        for source in sources:
            source.close()


def encode(out: av.container.OutputContainer, seconds: float, video: bool, audio: bool,
            video_codec: str = "libx264", audio_codec: str = "aac") -> None:
    vout = aout = None
    if video:
        vout = out.add_stream(video_codec, rate=FPS, options={"preset": "ultrafast", "g": str(FPS)}
                              if video_codec == "libx264" else {})
        vout.width, vout.height, vout.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    if audio:
        aout = out.add_stream(audio_codec, rate=48000, layout="mono")
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
    for frame in frames(seconds, video, audio):
        if isinstance(frame, av.VideoFrame) and vout is not None:
            frame = frame.reformat(format="yuv420p")
            frame.time_base = Fraction(1, FPS)
            out.mux(vout.encode(frame))
        elif isinstance(frame, av.AudioFrame) and aout is not None:
            frame.pts = None
            for chunk in resampler.resample(frame):
                out.mux(aout.encode(chunk))
    for stream in (vout, aout):
        if stream is not None:
            out.mux(stream.encode(None))


def synthetic_file(path: Path, seconds: float = 4.0, video: bool = True, audio: bool = True) -> Path:
    """An upload: .mp4 (H.264 + AAC), .webm (VP8 + Opus) or, without video, .m4a/.ogg audio."""
    suffix = path.suffix
    if suffix == ".webm":
        codecs = {"video_codec": "libvpx", "audio_codec": "libopus"}
    elif suffix == ".ogg":
        codecs = {"audio_codec": "libopus"}
    else:
        codecs = {}
    with av.open(str(path), "w") as out:
        encode(out, seconds, video=video, audio=audio, **codecs)
    return path
