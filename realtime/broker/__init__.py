"""Picks the broker adapter from REDIS_URL: Redis when set, in-process otherwise."""

from __future__ import annotations

from realtime.broker.base import RESYNC, Broker, BrokerState, BrokerUnavailable, Published


def open_broker(redis_url: str) -> Broker:
    if redis_url:
        from realtime.broker.redis import RedisBroker
        return RedisBroker(redis_url)
    from realtime.broker.memory import MemoryBroker
    return MemoryBroker()


__all__ = ["Broker", "BrokerState", "BrokerUnavailable", "Published", "RESYNC", "open_broker"]
