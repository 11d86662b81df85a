"""The servers a scenario measures, behind one small interface: Convene (one or more uvicorn processes,
embedded or on Postgres + Redis) and the baseline broadcast server.

A target starts its processes, turns a Layout (rooms × members, who sends) into
the load generator's ClientSpecs, and names the PIDs whose CPU and memory count.
The generator does not know which server it talks to: the baseline speaks the
same frames, and for it the "adapter" is just a layout without accounts.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

from bench.generator import ClientSpec
from bench.procstat import children_of
from bench.seed import SeededRoom, seed_rooms
from tests.support.services import PostgresInstance, RedisInstance, ServerProcess, free_port, wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Layout:
    """Who is where: `rooms` rooms of `members_per_room` members; the first `senders_per_room`
    members of each room send; every member opens `connections_per_member` sockets."""

    rooms: int
    members_per_room: int
    senders_per_room: int = 0
    connections_per_member: int = 1

    @property
    def connections(self) -> int:
        return self.rooms * self.members_per_room * self.connections_per_member

    @property
    def senders(self) -> int:
        return self.rooms * self.senders_per_room


def build_specs(layout: Layout, room_ids: list[int], tokens: list[list[str | None]],
                urls: list[str]) -> list[ClientSpec]:
    """Client specs in an order that spreads each room's members over the server URLs and the workers:
    socket number c of every member comes before socket c+1 of any member (capacity ramps in this order)."""
    specs: list[ClientSpec] = []
    sender_no = 0
    for copy in range(layout.connections_per_member):
        for m in range(layout.members_per_room):
            for r, room in enumerate(room_ids):
                sends = copy == 0 and m < layout.senders_per_room
                index = len(specs)
                specs.append(ClientSpec(
                    index=index, url=urls[index % len(urls)], token=tokens[r][m], rooms=(room,),
                    send_room=room if sends else None,
                    send_slot=(sender_no / layout.senders) if sends and layout.senders else 0.0))
                sender_no += sends
    return specs


class Target(ABC):
    name: str

    @abstractmethod
    def start(self) -> None: ...

    @abstractmethod
    def stop(self) -> None: ...

    @abstractmethod
    def clients(self, layout: Layout) -> list[ClientSpec]: ...

    @property
    @abstractmethod
    def pids(self) -> list[int]:
        """The server processes themselves."""

    @property
    def service_pids(self) -> list[int]:
        """Processes it depends on (Postgres, Redis), counted apart from the server."""
        return []

    def describe(self) -> dict:
        return {"name": self.name}

    def __enter__(self) -> "Target":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- Convene ---------------------------------------------------------------------------------------


# Every abuse limit (realtime/limits/policy.py), as count/seconds:burst, far above what any scenario sends.
# All load comes from 127.0.0.1, so the per-address limits would otherwise cap the whole benchmark
# at one client's allowance. The limiter still runs on every message and connection: its cost counts.
UNLIMITED = "1000000/1:1000000"
ABUSE_LIMITS = ("MEMBER_MESSAGES", "IP_MESSAGES", "MEMBER_CONNECTIONS", "IP_CONNECTIONS",
                "IP_REGISTRATIONS", "MEMBER_ROOM_CREATIONS")


def convene_env(data_dir: Path, database_url: str = "", redis_url: str = "", **extra: str) -> dict[str, str]:
    """Settings for a benchmarked server: cheap password hashing for mass registration and rate
    limits out of the way (the generator decides the rate); everything else as shipped. The
    uvicorn options are ServerProcess's, which are the Procfile's."""
    return {
        "CONVENE_DATA_DIR": str(data_dir), "DATABASE_URL": database_url, "REDIS_URL": redis_url,
        "SECRET_KEY": "bench-secret-key",
        "PASSWORD_TIME_COST": "1", "PASSWORD_MEMORY_KIB": "1024",
        "MESSAGE_RATE": "100000", "MESSAGE_BURST": "100000",
        "FRAME_RATE": "100000", "FRAME_BURST": "100000",
        **{f"LIMIT_{name}": UNLIMITED for name in ABUSE_LIMITS},
        **extra,
    }


class ConveneTarget(Target):
    """`processes` uvicorn processes on the embedded backend (SQLite + in-process broker; one process
    only) or on private Postgres + Redis instances."""

    def __init__(self, *, backend: str = "embedded", processes: int = 1, name: str = "convene",
                 env: dict[str, str] | None = None, durable_postgres: bool = True) -> None:
        if backend not in ("embedded", "postgres"):
            raise ValueError(f"unknown backend {backend!r}")
        if backend == "embedded" and processes != 1:
            raise ValueError("the embedded backend serves one process only")
        self.name = name
        self.backend = backend
        self.process_count = processes
        self.extra_env = env or {}
        self.durable_postgres = durable_postgres
        self.postgres: PostgresInstance | None = None
        self.redis: RedisInstance | None = None
        self.servers: list[ServerProcess] = []
        self.data_dir: Path | None = None
        self.rooms: list[SeededRoom] = []

    def start(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="convene-bench-"))
        database_url = redis_url = ""
        if self.backend == "postgres":
            self.postgres = PostgresInstance()
            self.postgres.start()
            if self.durable_postgres:
                self._make_durable(self.postgres)
            self.redis = RedisInstance()
            self.redis.start()
            database_url, redis_url = self.postgres.url, self.redis.url
        env = convene_env(self.data_dir, database_url, redis_url, **self.extra_env)
        for _ in range(self.process_count):
            server = ServerProcess(env=env)
            server.start(timeout=60)
            self.servers.append(server)

    @staticmethod
    def _make_durable(postgres: PostgresInstance) -> None:
        # The test instance turns fsync off; a deployment keeps PostgreSQL's durable defaults, and an
        # ack promises a durable commit, so the benchmark pays for it too.
        with open(postgres.data_dir / "postgresql.conf", "a") as conf:
            conf.write("\nfsync = on\nsynchronous_commit = on\nfull_page_writes = on\n")
        postgres.restart()

    def stop(self) -> None:
        for server in self.servers:
            server.cleanup()
        self.servers = []
        for service in (self.redis, self.postgres):
            if service is not None:
                service.cleanup()
        self.redis = self.postgres = None
        if self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    @property
    def base_url(self) -> str:
        return self.servers[0].url

    @property
    def database_url(self) -> str:
        assert self.postgres is not None, "only the postgres backend has a database URL"
        return self.postgres.url

    @property
    def pids(self) -> list[int]:
        return [server.pid for server in self.servers]

    @property
    def service_pids(self) -> list[int]:
        pids = []
        if self.redis is not None:
            pids.append(self.redis.pid)
        if self.postgres is not None:
            try:
                postmaster = int((self.postgres.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
            except (OSError, ValueError):
                postmaster = None
            if postmaster is not None:
                pids += [postmaster, *children_of(postmaster)]
        return pids

    def seed(self, rooms: int, members_per_room: int) -> list[SeededRoom]:
        self.rooms = asyncio.run(seed_rooms(self.base_url, rooms, members_per_room))
        return self.rooms

    def clients(self, layout: Layout) -> list[ClientSpec]:
        seeded = self.seed(layout.rooms, layout.members_per_room)
        tokens = [[m.token for m in room.members] for room in seeded]
        urls = [f"ws://127.0.0.1:{server.port}/ws?v=1" for server in self.servers]
        return build_specs(layout, [room.id for room in seeded], tokens, urls)

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(server.log_tail(n) for server in self.servers)

    def describe(self) -> dict:
        return {"name": self.name, "backend": self.backend, "processes": self.process_count,
                "postgres_durable": self.durable_postgres if self.backend == "postgres" else None,
                "settings": self.extra_env}


# --- The baseline ----------------------------------------------------------------------------------


class BaselineTarget(Target):
    """bench/baseline.py in its own process."""

    def __init__(self, name: str = "baseline") -> None:
        self.name = name
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Path | None = None

    def start(self) -> None:
        self.port = free_port()
        self._log = Path(tempfile.mkstemp(prefix="bench-baseline-", suffix=".log")[1])
        with open(self._log, "ab") as log:
            self._proc = subprocess.Popen([sys.executable, "-m", "bench.baseline", "--port", str(self.port)],
                                          cwd=REPO_ROOT, stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT, env=os.environ.copy())
        wait_until(self._listening, 20, f"baseline on port {self.port}")

    def _listening(self) -> bool:
        assert self._proc is not None and self.port is not None
        if self._proc.poll() is not None:
            raise RuntimeError(f"baseline exited with {self._proc.returncode}: {self.log_tail()}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        self._proc = None
        if self._log is not None:
            self._log.unlink(missing_ok=True)
            self._log = None

    def log_tail(self, n: int = 20) -> str:
        if self._log is None or not self._log.exists():
            return ""
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-n:])

    @property
    def pids(self) -> list[int]:
        assert self._proc is not None
        return [self._proc.pid]

    def clients(self, layout: Layout) -> list[ClientSpec]:
        tokens: list[list[str | None]] = [[None] * layout.members_per_room for _ in range(layout.rooms)]
        url = f"ws://127.0.0.1:{self.port}/"
        return build_specs(layout, list(range(1, layout.rooms + 1)), tokens, [url])

    def describe(self) -> dict:
        return {"name": self.name, "server": "websockets asyncio server, broadcast(), no storage"}


def settle(seconds: float = 1.0) -> None:
    """A pause between phases so the previous one's stragglers do not count in the next."""
    time.sleep(seconds)
