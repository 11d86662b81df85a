"""Writes the stream: H.264 + AAC into video/, the same AAC into audio/, as HLS with fMP4 segments, and master.m3u8.

FFmpeg's hls muxer cuts a segment at the first keyframe after `segment_s`; the encoder makes a
keyframe exactly every `segment_s` (no scene-cut keyframes), so every video segment is that long.
Audio is encoded once and the same packets go into both renditions.
"""

from __future__ import annotations

import fractions
from pathlib import Path

import av

from recordings.live.settings import LiveSettings
from recordings.storage.durable import write_file

AUDIO_RATE = 48_000
PLAYLIST = "index.m3u8"
# H.264 Constrained Baseline, level 3.0; AAC-LC. What MSE players are told in CODECS.
VIDEO_CODECS = "avc1.42c01e,mp4a.40.2"
AUDIO_CODECS = "mp4a.40.2"


def master_playlist(settings: LiveSettings) -> str:
    audio = settings.audio_bitrate
    video = settings.video_bitrate + audio
    # BANDWIDTH is a peak; the encoder's rate control stays near the average, so allow a quarter more.
    return (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={video * 5 // 4},AVERAGE-BANDWIDTH={video},CODECS="{VIDEO_CODECS}",'
        f"RESOLUTION={settings.width}x{settings.height},FRAME-RATE={settings.fps:.3f}\n"
        f"video/{PLAYLIST}\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={audio * 5 // 4},AVERAGE-BANDWIDTH={audio},CODECS="{AUDIO_CODECS}"\n'
        f"audio/{PLAYLIST}\n"
    )


def write_atomically(path: Path, text: str) -> None:
    """Readers (the HTTP endpoint, a CDN) never see half a file."""
    write_file(path, text.encode())


def _open_rendition(directory: Path, settings: LiveSettings) -> av.container.OutputContainer:
    directory.mkdir(parents=True, exist_ok=True)
    flags = ["independent_segments", "temp_file"]
    if (directory / PLAYLIST).exists():
        # The worker restarted mid-webinar (the server did): continue the same playlist after a discontinuity.
        flags += ["append_list", "discont_start"]
    return av.open(str(directory / PLAYLIST), "w", format="hls", options={
        "hls_segment_type": "fmp4",
        "hls_time": str(settings.segment_s),
        "hls_list_size": "0",                # every segment stays listed: the playlist is the recording
        "hls_playlist_type": "event",
        "hls_fmp4_init_filename": "init.mp4",
        "hls_segment_filename": str(directory / "seg-%05d.m4s"),
        "hls_flags": "+".join(flags),
    })


class HlsOutput:
    def __init__(self, out_dir: Path, settings: LiveSettings) -> None:
        self.settings = settings
        self.video_out = _open_rendition(out_dir / "video", settings)
        self.audio_out = _open_rendition(out_dir / "audio", settings)
        gop = settings.fps * settings.segment_s
        self.video = self.video_out.add_stream("libx264", rate=settings.fps, options={
            "preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "level": "3.0", "threads": "1",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:nal-hrd=none",
        })
        self.video.width, self.video.height, self.video.pix_fmt = settings.width, settings.height, "yuv420p"
        self.video.bit_rate = settings.video_bitrate
        self.video.codec_context.time_base = fractions.Fraction(1, settings.fps)
        self.audio = self.video_out.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        self.audio.bit_rate = settings.audio_bitrate
        self.audio.codec_context.open()   # the copy below needs the encoder's AudioSpecificConfig
        self.audio_copy = self.audio_out.add_stream_from_template(self.audio)
        # The template leaves out the AudioSpecificConfig; without it browsers refuse the audio-only init segment.
        self.audio_copy.codec_context.extradata = self.audio.codec_context.extradata
        write_atomically(out_dir / "master.m3u8", master_playlist(settings))

    def encode_video(self, frame: av.VideoFrame, index: int) -> None:
        frame.pts = index
        frame.time_base = fractions.Fraction(1, self.settings.fps)
        for packet in self.video.encode(frame):
            self.video_out.mux(packet)

    def encode_audio(self, frame: av.AudioFrame | None) -> None:
        for packet in self.audio.encode(frame):
            copy = av.Packet(bytes(packet))
            copy.pts, copy.dts, copy.time_base = packet.pts, packet.dts, packet.time_base
            copy.stream = self.audio_copy
            self.video_out.mux(packet)
            self.audio_out.mux(copy)

    def close(self) -> None:
        """Flushes the encoders; closing the muxers writes the last segments and #EXT-X-ENDLIST."""
        for packet in self.video.encode(None):
            self.video_out.mux(packet)
        self.encode_audio(None)
        self.video_out.close()
        self.audio_out.close()
