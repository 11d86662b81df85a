"""Picks the broker adapter from REDIS_URL: a Redis Cluster (sharded pub/sub), one Redis, or in-process."""

from __future__ import annotations

from realtime.broker.base import RESYNC, Broker, BrokerState, BrokerUnavailable, Published


def open_broker(redis_url: str) -> Broker:
    from realtime.redis_client import cluster_target
    target = cluster_target(redis_url)
    if target is not None:
        from realtime.broker.redis_cluster import RedisClusterBroker
        return RedisClusterBroker(target)
    if redis_url:
        from realtime.broker.redis import RedisBroker
        return RedisBroker(redis_url)
    from realtime.broker.memory import MemoryBroker
    return MemoryBroker()


__all__ = ["Broker", "BrokerState", "BrokerUnavailable", "Published", "RESYNC", "open_broker"]
