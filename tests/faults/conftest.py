"""Fault tests get their own Postgres, Redis and servers: they break them on purpose.

Every fault test runs twice: on one Redis, and on a Redis Cluster. Tests that do not break Redis
share the session's cluster; a test that breaks it overrides `fault_redis` with a private one.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.conftest import shared_env
from tests.support.services import PostgresInstance, RedisClusterInstance, RedisInstance, ServerProcess


@pytest.fixture
def private_postgres() -> Iterator[PostgresInstance]:
    instance = PostgresInstance()
    instance.start()
    yield instance
    instance.cleanup()


@pytest.fixture
def private_redis() -> Iterator[RedisInstance]:
    instance = RedisInstance()
    instance.start()
    yield instance
    instance.cleanup()


@pytest.fixture(params=["redis", "redis-cluster"])
def fault_redis(request: pytest.FixtureRequest) -> RedisInstance | RedisClusterInstance:
    """The Redis the test's servers share: a private server, or the session's Redis Cluster."""
    return request.getfixturevalue("private_redis" if request.param == "redis" else "redis_cluster")


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "server-logs"


@pytest.fixture
def start_servers(private_postgres, fault_redis, request) -> Iterator[Callable[..., list[ServerProcess]]]:
    """Starts n server processes on the private Postgres and the test's Redis; all are cleaned up after the test."""
    started: list[ServerProcess] = []

    def start(n: int = 1, **extra: str) -> list[ServerProcess]:
        data_dir = Path(tempfile.mkdtemp(prefix="convene-fault-"))
        processes = [ServerProcess(env=shared_env(private_postgres, fault_redis, data_dir, **extra))
                     for _ in range(n)]
        for process in processes:
            process.start()
        started.extend(processes)
        return processes

    yield start
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for number, process in enumerate(started):
        # Kept for the CI log reader: what the servers said while being broken.
        (ARTIFACTS / f"{request.node.name}-{number}.log").write_text(process.log_tail(500))
        process.cleanup()
