"""Reading settings from the environment: one spelling of each rule for every settings class.

An unset or empty variable means "the default", so a deployment can blank a variable to reset it.
"""

from __future__ import annotations

from typing import Mapping


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    return int(raw) if raw not in (None, "") else default


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    return float(raw) if raw not in (None, "") else default


def env_bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated; blanks dropped, trailing slashes trimmed (origins, addresses)."""
    raw = env.get(name, "")
    return tuple(item.strip().rstrip("/") for item in raw.split(",") if item.strip())
