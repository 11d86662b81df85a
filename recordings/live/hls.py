"""Encodes the stream once (H.264 + AAC) and hands the packets to both renditions: video/ (picture and sound)
and audio/ (the same AAC alone), each cut into parts and segments (recordings/live/segments.py); master playlists.

The encoder makes a keyframe exactly every `segment_s` (no scene-cut keyframes), so every
video segment starts with one and is that long; parts are a whole number of frames, so both
renditions cut at the same instants. Audio is encoded once and the same packets go into both.
"""

from __future__ import annotations

import fractions
import io
from fractions import Fraction
from pathlib import Path

import av

from recordings.live.fmp4 import Sample, annexb_to_length_prefixed, init_segment, timescales
from recordings.live.segments import LL_PLAYLIST, PLAYLIST, Rendition, Track, wall_zero
from recordings.live.settings import LiveSettings
from recordings.storage.durable import write_file

AUDIO_RATE = 48_000
# H.264 Constrained Baseline, level 3.0; AAC-LC. What MSE players are told in CODECS.
VIDEO_CODECS = "avc1.42c01e,mp4a.40.2"
AUDIO_CODECS = "mp4a.40.2"
MASTER = "master.m3u8"          # standard segments: every player, every link
LL_MASTER = "master-ll.m3u8"    # the same renditions as low-latency HLS (parts, blocking reload)


def master_playlist(settings: LiveSettings, playlist: str = PLAYLIST) -> str:
    audio = settings.audio_bitrate
    video = settings.video_bitrate + audio
    # BANDWIDTH is a peak; the encoder's rate control stays near the average, so allow a quarter more.
    return (
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={video * 5 // 4},AVERAGE-BANDWIDTH={video},CODECS="{VIDEO_CODECS}",'
        f"RESOLUTION={settings.width}x{settings.height},FRAME-RATE={settings.fps:.3f}\n"
        f"video/{playlist}\n"
        f'#EXT-X-STREAM-INF:BANDWIDTH={audio * 5 // 4},AVERAGE-BANDWIDTH={audio},CODECS="{AUDIO_CODECS}"\n'
        f"audio/{playlist}\n"
    )


def write_atomically(path: Path, text: str) -> None:
    """Readers (the HTTP endpoint, a CDN) never see half a file; the recording keeps it after a power cut."""
    write_file(path, text.encode())


class HlsOutput:
    def __init__(self, out_dir: Path, settings: LiveSettings, t0: float) -> None:
        self.settings = settings
        fps = settings.fps
        gop = fps * settings.segment_s
        self._buffer = io.BytesIO()
        # An mp4 muxer that only writes its header: the encoders get global headers (avcC) and the init segment.
        self._muxer = av.open(self._buffer, "w", format="mp4",
                              options={"movflags": "empty_moov+default_base_moof+frag_custom"})
        self.video = self._muxer.add_stream("libx264", rate=fps, options={
            "preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "level": "3.0", "threads": "1",
            "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:nal-hrd=none",
        })
        self.video.width, self.video.height, self.video.pix_fmt = settings.width, settings.height, "yuv420p"
        self.video.bit_rate = settings.video_bitrate
        self.video.codec_context.time_base = fractions.Fraction(1, fps)
        self.audio = self._muxer.add_stream("aac", rate=AUDIO_RATE, layout="mono")
        self.audio.bit_rate = settings.audio_bitrate
        self._muxer.start_encoding()
        video_init = self._buffer.getvalue()
        audio_init, self._audio_muxer = init_segment([self.audio])
        self.video_scale, audio_scale = timescales(video_init)
        frames = settings.part_frames
        parts = gop // frames
        zero = wall_zero(t0)
        self.renditions = [
            Rendition(out_dir / "video", video_init, [Track(1, self.video_scale), Track(2, audio_scale)],
                      fps, frames, parts, settings.segment_s, zero),
            Rendition(out_dir / "audio", audio_init, [Track(1, timescales(audio_init)[0])],
                      fps, frames, parts, settings.segment_s, zero),
        ]
        self._audio_shift: int | None = None
        write_atomically(out_dir / MASTER, master_playlist(settings))
        write_atomically(out_dir / LL_MASTER, master_playlist(settings, LL_PLAYLIST))

    @property
    def parts_written(self) -> int:
        return sum(rendition.parts_written for rendition in self.renditions)

    @property
    def segments_written(self) -> int:
        return sum(rendition.segments_written for rendition in self.renditions)

    def encode_video(self, frame: av.VideoFrame | None, index: int = 0) -> None:
        if frame is not None:
            frame.pts = index
            frame.time_base = fractions.Fraction(1, self.settings.fps)
        fps, scale = self.settings.fps, self.video_scale
        for packet in self.video.encode(frame):
            dts = packet.dts if packet.dts is not None else packet.pts
            sample = Sample(annexb_to_length_prefixed(bytes(packet)), scale // fps, packet.is_keyframe,
                            (packet.pts - dts) * scale // fps)
            self.renditions[0].add(0, Fraction(dts, fps), dts * scale // fps, sample)

    def encode_audio(self, frame: av.AudioFrame | None) -> None:
        for packet in self.audio.encode(frame):
            if self._audio_shift is None:
                # AAC's first packet is the encoder's priming (dts -1024): the stream's audio starts at 0 with it.
                self._audio_shift = max(0, -packet.dts)
            position = packet.dts + self._audio_shift
            sample = Sample(bytes(packet), packet.duration or 1024, True)
            at = Fraction(position, AUDIO_RATE)
            self.renditions[0].add(1, at, position, sample)
            self.renditions[1].add(0, at, position, sample)

    def close(self) -> None:
        """Flushes the encoders; the renditions write their last part and segment and end their playlists."""
        self.encode_video(None)
        self.encode_audio(None)
        for rendition in self.renditions:
            rendition.close()
        for muxer in (self._muxer, self._audio_muxer):
            try:
                muxer.close()
            except av.error.FFmpegError:
                pass   # nothing was muxed: only the header mattered
