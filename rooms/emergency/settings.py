"""Settings of emergency rooms, read from the environment once at start-up (documented in docs/emergency.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float as _number


@dataclass(frozen=True)
class EmergencySettings:
    # Unacknowledged alerts are re-sent this long after the alert (and after each reminder).
    alert_renotify_s: float = 600.0
    alert_renotify_max: int = 3          # reminders per alert at most
    job_interval_s: float = 5.0          # how often the reminder job looks for work
    sitrep_max_chars: int = 20_000
    alert_max_chars: int = 1_000
    fourw_import_max_bytes: int = 1_048_576
    fourw_import_max_rows: int = 5_000

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "EmergencySettings":
        env = os.environ if env is None else env
        return cls(
            alert_renotify_s=_number(env, "ALERT_RENOTIFY_S", cls.alert_renotify_s),
            alert_renotify_max=int(_number(env, "ALERT_RENOTIFY_MAX", cls.alert_renotify_max)),
            job_interval_s=_number(env, "EMERGENCY_JOB_INTERVAL_S", cls.job_interval_s),
        )
