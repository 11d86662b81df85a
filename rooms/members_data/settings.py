"""Limits of members' data features, read from the environment once at start-up (docs/privacy.md, README table)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float, env_int


@dataclass(frozen=True)
class MembersDataSettings:
    retention_interval_s: float = 3600.0   # how often each process removes expired history (and finishes deletions)
    retention_batch: int = 5000            # events removed from one room per transaction (the room waits meanwhile)
    retention_max_days: int = 3650         # the longest retention an owner may set

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "MembersDataSettings":
        env = os.environ if env is None else env
        return cls(
            retention_interval_s=env_float(env, "RETENTION_INTERVAL_S", cls.retention_interval_s),
            retention_batch=env_int(env, "RETENTION_BATCH", cls.retention_batch),
            retention_max_days=env_int(env, "RETENTION_MAX_DAYS", cls.retention_max_days),
        )
