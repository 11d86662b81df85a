"""Webinar settings read from the environment once (documented in the README and docs/webinars.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from rooms.envvars import env_float as _float


@dataclass(frozen=True)
class WebinarSettings:
    # How often each process looks for breakout groups whose warning or end is due (and closes those of
    # webinars that ended): the timer's precision.
    breakout_tick_s: float = 1.0
    # How often each process counts the people who have a live webinar open, for the hosts' summary
    # (peak concurrent viewers). Every process samples at the same instants (multiples of this).
    viewers_sample_s: float = 15.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "WebinarSettings":
        env = os.environ if env is None else env
        return cls(breakout_tick_s=_float(env, "WEBINAR_BREAKOUT_TICK_S", cls.breakout_tick_s),
                   viewers_sample_s=_float(env, "WEBINAR_VIEWERS_SAMPLE_S", cls.viewers_sample_s))
