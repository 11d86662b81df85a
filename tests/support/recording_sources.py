"""Synthetic media for recording tests, made with PyAV's own FFmpeg (no WebRTC, no files in the repo).

`fake_live_dir` writes what the live packager writes (docs/recordings.md, the live HLS contract):
fMP4 HLS with H.264 + AAC in video/ and AAC alone in audio/. `synthetic_file` writes an ordinary
upload (mp4 with video and audio, or an audio-only file).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av

WIDTH, HEIGHT, FPS = 320, 240, 25


def _frames(seconds: float, video: bool, audio: bool):
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


def _encode(out: av.container.OutputContainer, seconds: float, video: bool, audio: bool,
            video_codec: str = "libx264", audio_codec: str = "aac") -> None:
    vout = aout = None
    if video:
        vout = out.add_stream(video_codec, rate=FPS, options={"preset": "ultrafast", "g": str(FPS)}
                              if video_codec == "libx264" else {})
        vout.width, vout.height, vout.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    if audio:
        aout = out.add_stream(audio_codec, rate=48000, layout="mono")
    resampler = av.AudioResampler(format="fltp", layout="mono", rate=48000)
    for frame in _frames(seconds, video, audio):
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


def fake_live_dir(live_dir: Path, seconds: float = 5.0) -> Path:
    """<live_dir>/master.m3u8, video/{index.m3u8,init.mp4,seg-NNNNN.m4s}, audio/{...}, ended with ENDLIST."""
    for rendition, video in (("video", True), ("audio", False)):
        folder = live_dir / rendition
        folder.mkdir(parents=True, exist_ok=True)
        options = {"hls_time": "1", "hls_playlist_type": "event", "hls_segment_type": "fmp4",
                   "hls_fmp4_init_filename": "init.mp4", "hls_segment_filename": str(folder / "seg-%05d.m4s")}
        with av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as out:
            _encode(out, seconds, video=video, audio=True)
    (live_dir / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.42c01e,mp4a.40.2"\nvideo/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=48000,CODECS="mp4a.40.2"\naudio/index.m3u8\n')
    return live_dir


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
        _encode(out, seconds, video=video, audio=audio, **codecs)
    return path
