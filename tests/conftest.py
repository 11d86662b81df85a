"""Shared fixtures: private Postgres, Redis and Redis Cluster, and real uvicorn servers for each backend.

Every test that takes `server` runs twice: on the embedded default (SQLite, in-process
broker) and on Postgres + Redis. Every test that takes `process_pair` runs twice too: two
processes on one Redis, and on a Redis Cluster (sharded pub/sub). Private service instances
run on free ports, so the machine's shared services are never touched and fault tests may
break their own. A service that cannot start fails the tests that need it, with the reason;
nothing skips.
"""

from __future__ import annotations

import functools
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.services import (  # noqa: E402
    PostgresInstance, RedisClusterInstance, RedisInstance, ServerProcess)

# Short intervals so presence expiry and repair are observable within a test.
FAST = {
    "PRESENCE_HEARTBEAT_S": "0.5",
    "PRESENCE_TTL_S": "2",
    # A closed connection leaves presence this soon (tests/integration/test_presence_grace.py tests the grace).
    "PRESENCE_GRACE_S": "0.2",
    "REPAIR_INTERVAL_S": "0.5",
    "MESSAGE_RATE": "200",
    "MESSAGE_BURST": "400",
    "FRAME_RATE": "400",
    "FRAME_BURST": "800",
    "SECRET_KEY": "test-secret-key",
    # Retention passes (and the completion of interrupted account deletions) often enough to observe.
    "RETENTION_INTERVAL_S": "0.5",
    # Background jobs that find nothing back off to this (tests/unit/test_job_pacing.py tests the default's rule).
    "NOTIFY_JOB_IDLE_MAX_S": "2",
    # Breakout timers and the summary's viewer samples, at test speed.
    "WEBINAR_BREAKOUT_TICK_S": "0.25",
    "WEBINAR_VIEWERS_SAMPLE_S": "0.5",
    # Abuse limits stay on, far above what the tests do from one address.
    **{f"LIMIT_{name}": "100000/1:100000" for name in (
        "MEMBER_MESSAGES", "IP_MESSAGES", "MEMBER_CONNECTIONS", "IP_CONNECTIONS",
        "USERNAME_LOGIN_FAILURES", "IP_LOGIN_FAILURES", "IP_REGISTRATIONS", "MEMBER_ROOM_CREATIONS")},
    # Cheap password hashing: the suite registers hundreds of members.
    "PASSWORD_TIME_COST": "1",
    "PASSWORD_MEMORY_KIB": "1024",
}


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresInstance]:
    instance = PostgresInstance()
    instance.start()
    yield instance
    instance.cleanup()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisInstance]:
    instance = RedisInstance()
    instance.start()
    yield instance
    instance.cleanup()


def embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**FAST, "CONVENE_DATA_DIR": str(data_dir), "DATABASE_URL": "", "REDIS_URL": "", **extra}


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterInstance]:
    """A Redis Cluster (3 primaries, 3 replicas) shared by the tests that do not break it."""
    instance = RedisClusterInstance()
    instance.start()
    yield instance
    instance.cleanup()


@functools.cache
def shared_vapid_key() -> str:
    """One VAPID key for every process on the suite's shared Postgres, as a deployment gives all its
    processes one (README): any of them may take a push job, and it signs with the key /api/push/key shows."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def shared_env(postgres: PostgresInstance, redis: RedisInstance | RedisClusterInstance, data_dir: Path,
               **extra: str) -> dict[str, str]:
    return {**FAST, "CONVENE_DATA_DIR": str(data_dir), "DATABASE_URL": postgres.url,
            "REDIS_URL": redis.url, "VAPID_PRIVATE_KEY": shared_vapid_key(), **extra}


def backend_env(request: pytest.FixtureRequest, prefix: str, **extra: str) -> dict[str, str]:
    """The environment of a server of a test module's own, on the backend its fixture is parametrised
    with ("embedded" or "postgres"), in a fresh data folder."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-{request.param}-"))
    if request.param == "embedded":
        return embedded_env(data_dir, **extra)
    return shared_env(request.getfixturevalue("postgres"), request.getfixturevalue("redis_server"), data_dir, **extra)


@pytest.fixture(scope="session", params=["embedded", "postgres"])
def server(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """One real server per backend, shared by the tests of a session."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"convene-{request.param}-"))
    if request.param == "embedded":
        env = embedded_env(data_dir)
    else:
        env = shared_env(request.getfixturevalue("postgres"), request.getfixturevalue("redis_server"), data_dir)
    process = ServerProcess(env=env)
    process.start()
    process.backend = request.param
    yield process
    process.cleanup()


@pytest.fixture(params=["embedded", "postgres"])
async def domain_stores(request: pytest.FixtureRequest, tmp_path: Path):
    """The chat domain's stores in-process, on a fresh SQLite file or a fresh database of the private
    Postgres, migrated: for tests of the store itself on both backends."""
    from rooms.store import Stores

    if request.param == "embedded":
        url = f"sqlite+aiosqlite:///{tmp_path}/domain.db"
    else:
        import asyncpg

        postgres = request.getfixturevalue("postgres")
        name = f"domain_{uuid.uuid4().hex[:12]}"
        admin = await asyncpg.connect(postgres.url.rsplit("/", 1)[0] + "/postgres")
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = postgres.url.replace("postgresql://", "postgresql+asyncpg://").rsplit("/", 1)[0] + f"/{name}"
    stores = Stores.open(url)
    await stores.db.migrate()
    yield stores
    await stores.dispose()


@pytest.fixture(scope="session")
def cluster(postgres: PostgresInstance, redis_server: RedisInstance) -> Iterator[list[ServerProcess]]:
    """Two server processes sharing one Postgres and one Redis."""
    data_dir = Path(tempfile.mkdtemp(prefix="convene-cluster-"))
    processes = [ServerProcess(env=shared_env(postgres, redis_server, data_dir)) for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


@pytest.fixture(scope="session")
def cluster_on_redis_cluster(postgres: PostgresInstance,
                             redis_cluster: RedisClusterInstance) -> Iterator[list[ServerProcess]]:
    """Two server processes sharing one Postgres and a Redis Cluster."""
    data_dir = Path(tempfile.mkdtemp(prefix="convene-redis-cluster-"))
    processes = [ServerProcess(env=shared_env(postgres, redis_cluster, data_dir)) for _ in range(2)]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


@pytest.fixture(scope="session", params=["redis", "redis-cluster"])
def process_pair(request: pytest.FixtureRequest) -> list[ServerProcess]:
    """Two server processes on Postgres and, in turn, one Redis (`cluster`) and a Redis Cluster:
    for the tests whose subject is what passes between processes."""
    return request.getfixturevalue("cluster" if request.param == "redis" else "cluster_on_redis_cluster")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """A failed test shows the log tails of the server processes it used: a session's shared servers
    have run many tests by then, and an intermittent failure is otherwise hard to place."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed:
        return
    for name, value in getattr(item, "funcargs", {}).items():
        processes = value if isinstance(value, (list, tuple)) else [value]
        for number, process in enumerate(p for p in processes if isinstance(p, ServerProcess)):
            report.sections.append((f"server log: {name}[{number}] (last 80 lines)", process.log_tail(80)))
