"""One way to open Redis from REDIS_URL: one server, or a Redis Cluster named by its seed nodes.

  redis://[user:password@]host:port/0                 one server (rediss:// with TLS)
  redis+cluster://[user:password@]host1:port1,host2:port2,.../
                                                      a Redis Cluster (rediss+cluster:// with TLS)

Any live seed is enough for the cluster client to find every shard; list several so a process can
start while one node is down. Clients are bounded: bursts wait for a connection instead of failing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.exceptions import RedisClusterException, RedisError

MAX_CONNECTIONS = 50
# What "Redis is not there right now" looks like, from one server or a cluster (a slot no live
# primary serves is a RedisClusterException, not a RedisError).
REDIS_FAILURES = (RedisError, RedisClusterException, OSError)
CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}   # scheme -> TLS


@dataclass(frozen=True)
class ClusterTarget:
    """A Redis Cluster as REDIS_URL names it: seed nodes and the credentials every node shares."""

    seeds: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    ssl: bool = False

    def connection_options(self) -> dict[str, Any]:
        return {"username": self.username, "password": self.password, "ssl": self.ssl,
                "socket_connect_timeout": 10, "socket_timeout": 10}


def cluster_target(url: str) -> ClusterTarget | None:
    """The cluster REDIS_URL names, or None when it names one server."""
    parts = urlsplit(url)
    if parts.scheme not in CLUSTER_SCHEMES:
        return None
    netloc = parts.netloc
    username = password = None
    if "@" in netloc:
        credentials, netloc = netloc.rsplit("@", 1)
        username, _, password = credentials.partition(":")
        username, password = unquote(username) or None, unquote(password) or None
    seeds = []
    for seed in filter(None, netloc.split(",")):
        host, _, port = seed.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"REDIS_URL: a cluster seed needs host:port, got {seed!r}")
        seeds.append((host.strip("[]"), int(port)))
    if not seeds:
        raise ValueError("REDIS_URL: redis+cluster:// needs at least one seed node host:port")
    return ClusterTarget(tuple(seeds), username, password, CLUSTER_SCHEMES[parts.scheme])


class BoundedRedisCluster(RedisCluster):
    """RedisCluster whose commands wait their turn: its per-node pools raise instead of waiting when
    full, and a reconnect storm would turn that into presence and publish failures."""

    def __init__(self, *args: Any, max_concurrency: int = MAX_CONNECTIONS, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._turns = asyncio.Semaphore(max_concurrency)

    async def execute_command(self, *args: Any, **kwargs: Any) -> Any:
        async with self._turns:
            return await super().execute_command(*args, **kwargs)


def cluster_client(target: ClusterTarget) -> BoundedRedisCluster:
    return BoundedRedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.seeds],
        # Pipelines bypass the semaphore: room for them beside the bounded commands.
        max_connections=2 * MAX_CONNECTIONS,
        # During a failover a shard refuses for a second or two: give up after about that long, so
        # a publish reports BrokerUnavailable (gap repair delivers) rather than holding an ack.
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 3),
        **target.connection_options())


def node_client(target: ClusterTarget, host: str, port: int) -> aioredis.Redis:
    """A plain client to one cluster node (a shard's subscriber connection). It never retries by
    itself: the caller notices the failure and asks the cluster who owns the slots now."""
    return aioredis.Redis(host=host, port=port, retry=Retry(NoBackoff(), 0), **target.connection_options())


def redis_client(url: str) -> aioredis.Redis | BoundedRedisCluster:
    target = cluster_target(url)
    if target is not None:
        return cluster_client(target)
    # The default pool raises "Too many connections" past 100; a reconnect storm of thousands of
    # sockets would turn into presence and publish failures instead of a short queue.
    pool = aioredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=20, socket_connect_timeout=10, socket_timeout=10)
    return aioredis.Redis(connection_pool=pool)
