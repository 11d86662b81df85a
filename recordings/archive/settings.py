"""Settings of the recordings archive, read from the environment once at start-up (docs/recordings.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float as _number


@dataclass(frozen=True)
class RecordingSettings:
    max_upload_bytes: int = 2 * 1024 ** 3        # an imported recording at most
    caption_max_bytes: int = 1024 * 1024         # one WebVTT file at most
    url_ttl_s: float = 6 * 3600                  # signed media URLs stay valid at least this long
    job_lease_s: float = 60.0                    # a job whose worker stops renewing is taken over after this
    job_poll_s: float = 2.0                      # how often each process looks for queued jobs
    job_max_attempts: int = 3                    # takeovers after a worker died, before the job is failed
    job_step_delay_s: float = 0.0                # a pause between a job's steps: only for restart tests
    opus_bit_rate: int = 32_000                  # the audio-only rendition: ~15 MB an hour

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "RecordingSettings":
        env = os.environ if env is None else env
        return cls(
            max_upload_bytes=int(_number(env, "RECORDING_MAX_UPLOAD_BYTES", cls.max_upload_bytes)),
            caption_max_bytes=int(_number(env, "RECORDING_CAPTION_MAX_BYTES", cls.caption_max_bytes)),
            url_ttl_s=_number(env, "RECORDING_URL_TTL_S", cls.url_ttl_s),
            job_lease_s=_number(env, "RECORDING_JOB_LEASE_S", cls.job_lease_s),
            job_poll_s=_number(env, "RECORDING_JOB_POLL_S", cls.job_poll_s),
            job_max_attempts=int(_number(env, "RECORDING_JOB_MAX_ATTEMPTS", cls.job_max_attempts)),
            job_step_delay_s=_number(env, "RECORDING_JOB_STEP_DELAY_S", cls.job_step_delay_s),
            opus_bit_rate=int(_number(env, "RECORDING_OPUS_BIT_RATE", cls.opus_bit_rate)),
        )
