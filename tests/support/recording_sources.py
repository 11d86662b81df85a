"""Synthetic media for recording tests, made with PyAV's own FFmpeg (no WebRTC, no files in the repo).

`fake_live_dir` writes what the live packager writes (docs/recordings.md, the live HLS contract):
fMP4 HLS with H.264 + AAC in video/ and AAC alone in audio/. `synthetic_file` (recordings/archive/samples.py,
which the demo uses too) writes an ordinary upload (mp4 with video and audio, or an audio-only file).
"""

from __future__ import annotations

from pathlib import Path

import av

from recordings.archive.samples import encode, synthetic_file

__all__ = ["fake_live_dir", "synthetic_file"]


def fake_live_dir(live_dir: Path, seconds: float = 5.0) -> Path:
    """<live_dir>/master.m3u8, video/{index.m3u8,init.mp4,seg-NNNNN.m4s}, audio/{...}, ended with ENDLIST."""
    for rendition, video in (("video", True), ("audio", False)):
        folder = live_dir / rendition
        folder.mkdir(parents=True, exist_ok=True)
        options = {"hls_time": "1", "hls_playlist_type": "event", "hls_segment_type": "fmp4",
                   "hls_fmp4_init_filename": "init.mp4", "hls_segment_filename": str(folder / "seg-%05d.m4s")}
        with av.open(str(folder / "index.m3u8"), "w", format="hls", options=options) as out:
            encode(out, seconds, video=video, audio=True)
    (live_dir / "master.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=800000,CODECS="avc1.42c01e,mp4a.40.2"\nvideo/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=48000,CODECS="mp4a.40.2"\naudio/index.m3u8\n')
    return live_dir
