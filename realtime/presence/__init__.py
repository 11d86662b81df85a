"""Picks the presence adapter from REDIS_URL: Redis (one server or a cluster) when set, in-process otherwise."""

from __future__ import annotations

from realtime.presence.base import PresenceBackend, aggregate


def open_presence(redis_url: str, ttl_s: float) -> PresenceBackend:
    if redis_url:
        from realtime.presence.redis import RedisPresence
        return RedisPresence(redis_url, ttl_s)
    from realtime.presence.memory import MemoryPresence
    return MemoryPresence()


__all__ = ["PresenceBackend", "aggregate", "open_presence"]

