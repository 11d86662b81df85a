"""One way to open a Redis client: a bounded, blocking pool, so bursts wait instead of failing."""

from __future__ import annotations

import redis.asyncio as aioredis

MAX_CONNECTIONS = 50


def redis_client(url: str) -> aioredis.Redis:
    # The default pool raises "Too many connections" past 100; a reconnect storm of thousands of
    # sockets would turn into presence and publish failures instead of a short queue.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=20, socket_connect_timeout=10, socket_timeout=10)
    return aioredis.Redis(connection_pool=pool)
