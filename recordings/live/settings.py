"""The live stream's encoding settings, read from the environment once (documented in docs/live-stream.md)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Mapping

from rooms.envvars import env_float as _float, env_int as _int


@dataclass(frozen=True)
class LiveSettings:
    # Video rendition: H.264 at a small size and rate, for attendees on modest links.
    width: int = 640
    height: int = 360
    fps: int = 15
    video_bitrate: int = 350_000
    # One AAC encode, muxed into both renditions: the audio-only one is just this.
    audio_bitrate: int = 48_000
    # Segment length; the keyframe interval is the same, so every segment is exactly this long.
    segment_s: int = 2
    # Low-latency HLS: the length of a partial segment (rounded to whole frames that divide a segment).
    part_s: float = 1 / 3
    # How far behind real time the worker mixes, so packets that arrive late still make it (WebRTC receivers
    # have their own jitter buffers: this is for arrival jitter between publishers; it adds to the latency).
    jitter_s: float = 0.3
    # The active speaker (recordings/live/speaker.py): who talks this long takes the picture over...
    speaker_min_s: float = 0.4
    # ... once the one shown has been quiet this long (a pause shorter than this changes nothing) ...
    speaker_hold_s: float = 1.2
    # ... or at once if they talk this much louder than the one shown.
    speaker_margin_db: float = 10.0
    # Encoded video waiting for the worker beyond this is dropped (until the next keyframe); audio is not.
    video_backlog_bytes: int = 512 * 1024
    # Audio is dropped only when the worker is this far behind: it is stuck, not slow.
    audio_backlog_bytes: int = 4 * 1024 * 1024
    # The pipe to the worker (Linux's default is 64 KiB): about a second of video in flight.
    pipe_bytes: int = 1024 * 1024
    # Streams a dead process left behind are handed to the archive by a sweep (recordings/live/recovery.py):
    # this long after their webinar ended, checked this often.
    recovery_settle_s: float = 60.0
    recovery_interval_s: float = 120.0
    # When the webinar's media moves to this process, the previous owner may still be finishing the stream
    # (a graceful stop); wait this long for its writer lock before standing by.
    claim_wait_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "LiveSettings":
        env = os.environ if env is None else env
        return cls(
            width=_int(env, "LIVE_VIDEO_WIDTH", cls.width) // 2 * 2,
            height=_int(env, "LIVE_VIDEO_HEIGHT", cls.height) // 2 * 2,
            fps=_int(env, "LIVE_VIDEO_FPS", cls.fps),
            video_bitrate=_int(env, "LIVE_VIDEO_BITRATE", cls.video_bitrate),
            audio_bitrate=_int(env, "LIVE_AUDIO_BITRATE", cls.audio_bitrate),
            segment_s=_int(env, "LIVE_SEGMENT_S", cls.segment_s),
            part_s=_float(env, "LIVE_PART_S", cls.part_s),
            jitter_s=_float(env, "LIVE_JITTER_S", cls.jitter_s),
            speaker_min_s=_float(env, "LIVE_SPEAKER_MIN_S", cls.speaker_min_s),
            speaker_hold_s=_float(env, "LIVE_SPEAKER_HOLD_S", cls.speaker_hold_s),
            speaker_margin_db=_float(env, "LIVE_SPEAKER_MARGIN_DB", cls.speaker_margin_db),
            video_backlog_bytes=_int(env, "LIVE_VIDEO_BACKLOG_BYTES", cls.video_backlog_bytes),
            audio_backlog_bytes=_int(env, "LIVE_AUDIO_BACKLOG_BYTES", cls.audio_backlog_bytes),
            pipe_bytes=_int(env, "LIVE_PIPE_BYTES", cls.pipe_bytes),
            recovery_settle_s=_float(env, "LIVE_RECOVERY_SETTLE_S", cls.recovery_settle_s),
            recovery_interval_s=_float(env, "LIVE_RECOVERY_INTERVAL_S", cls.recovery_interval_s),
            claim_wait_s=_float(env, "LIVE_CLAIM_WAIT_S", cls.claim_wait_s),
        )

    @property
    def part_frames(self) -> int:
        """Frames per part: near part_s, and a whole number of parts in a segment (so both cut at keyframes)."""
        gop = self.fps * self.segment_s
        wanted = max(1, round(self.part_s * self.fps))
        return min((n for n in range(1, gop + 1) if gop % n == 0), key=lambda n: (abs(n - wanted), n))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "LiveSettings":
        return cls(**json.loads(text))
