"""Self-test of tests/support/services.py: private Postgres, Redis and server processes."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import Iterator

import asyncpg
import pytest
import redis.asyncio as aioredis

from tests.support.services import PostgresInstance, RedisInstance, ServerProcess


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresInstance]:
    with PostgresInstance() as instance:
        yield instance


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisInstance]:
    with RedisInstance() as instance:
        yield instance


async def _query(url: str) -> int:
    conn = await asyncpg.connect(url, timeout=5)
    try:
        return int(await conn.fetchval("SELECT 40 + 2"))
    finally:
        await conn.close()


async def _ping(url: str) -> bool:
    client = aioredis.from_url(url, socket_timeout=5)
    try:
        return bool(await client.ping())
    finally:
        await client.aclose()


def test_postgres_serves_the_convene_database(postgres: PostgresInstance) -> None:
    assert postgres.url.endswith(f"127.0.0.1:{postgres.port}/convene")
    assert asyncio.run(_query(postgres.url)) == 42


def test_postgres_comes_back_after_a_crash(postgres: PostgresInstance) -> None:
    asyncio.run(_query(postgres.url))
    postgres.kill()
    with pytest.raises(OSError):
        asyncio.run(_query(postgres.url))
    postgres.start()
    assert asyncio.run(_query(postgres.url)) == 42


def test_redis_restarts_on_the_same_port(redis_server: RedisInstance) -> None:
    url = redis_server.url
    assert asyncio.run(_ping(url))
    redis_server.restart()
    assert redis_server.url == url
    assert asyncio.run(_ping(url))


def test_redis_comes_back_after_a_crash(redis_server: RedisInstance) -> None:
    redis_server.kill()
    redis_server.start()
    assert asyncio.run(_ping(redis_server.url))


class _StubServer(ServerProcess):
    """Runs a tiny stand-in for the app, so these tests do not depend on realtime/."""

    def __init__(self, script: str) -> None:
        super().__init__(env={"STUB_GREETING": "hello"})
        self.script = script

    def command(self) -> list[str]:
        return [sys.executable, "-c", textwrap.dedent(self.script), str(self.port)]


_HEALTHY_APP = """
    import http.server, os, sys

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

    print(os.environ["STUB_GREETING"], flush=True)
    http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


def test_server_process_waits_for_healthz_and_stops() -> None:
    with _StubServer(_HEALTHY_APP) as server:
        assert server.ws_url == f"ws://127.0.0.1:{server.port}/ws"
        assert server.pid > 0
        assert "hello" in server.log_tail()
        server.kill()
        server.start()
    assert server.dir is None


def test_server_process_reports_why_it_did_not_start() -> None:
    server = _StubServer("import sys; sys.exit('boom: no settings')")
    try:
        with pytest.raises(RuntimeError, match="boom: no settings"):
            server.start(timeout=5)
    finally:
        server.cleanup()
