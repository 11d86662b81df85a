"""Run private PostgreSQL, Redis and Convene server processes on free ports for tests."""

from __future__ import annotations

import atexit
import glob
import http.client
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Callable, Self

import redis
from redis.crc import key_slot

REPO_ROOT = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `make test` or `bash scripts/setup-system.sh` to install it"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it returns True; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{what} not ready after {timeout:g} s")
        time.sleep(0.05)


def tail(path: Path, n: int = 50) -> str:
    """The last `n` lines of a log file, or "" if it does not exist yet."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    return "\n".join(lines[-n:])


def _failure(what: str, exc: Exception, log: str) -> RuntimeError:
    message = f"{what} failed to start: {exc}"
    return RuntimeError(f"{message}\n--- log tail ---\n{log}" if log.strip() else message)


def _require_running(proc: subprocess.Popen[bytes], name: str) -> None:
    # Fail at once instead of waiting out the timeout when the process already died.
    if proc.poll() is not None:
        raise RuntimeError(f"{name} exited with status {proc.returncode} while starting")


def _stop_child(proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


class _Managed:
    """`with Instance() as instance:` starts it, and cleans it up (stops it, deletes its files)."""

    def start(self) -> None:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.cleanup()


def _kill_child(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(10)


# --- PostgreSQL --------------------------------------------------------------


def find_postgres_bin() -> Path:
    """The bin directory of the newest PostgreSQL server installed under /usr/lib/postgresql."""
    candidates = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")]
    candidates = [d for d in candidates if (d / "pg_ctl").exists()]
    if not candidates:
        raise RuntimeError(
            "PostgreSQL server binaries (initdb, pg_ctl) not found under "
            f"/usr/lib/postgresql/*/bin; {INSTALL_HINT} (Debian package `postgresql`)"
        )

    def version(bin_dir: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", bin_dir.parent.name))

    return max(candidates, key=version)


def _proc_state(pid: int) -> tuple[int, str] | None:
    """(parent pid, state letter) from /proc, or None if the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[0]


def _alive(pid: int) -> bool:
    # A zombie counts as dead: the postmaster is not our child, and PID 1 in a
    # container may never reap it.
    state = _proc_state(pid)
    return state is not None and state[1] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            state = _proc_state(int(entry.name))
            if state is not None and state[0] == pid:
                found.append(int(entry.name))
    return found


class PostgresInstance(_Managed):
    """A throwaway PostgreSQL cluster in a temp dir, listening on 127.0.0.1:`port`."""

    def __init__(self, database: str = "convene") -> None:
        self.database = database
        self.port: int | None = None
        self.dir: Path | None = None
        self._bin: Path | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("PostgresInstance has not been started")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        assert self.dir is not None, "PostgresInstance has not been started"
        return self.dir / "data"

    @property
    def log_path(self) -> Path:
        assert self.dir is not None, "PostgresInstance has not been started"
        return self.dir / "postgres.log"

    def log_tail(self, n: int = 50) -> str:
        return tail(self.log_path, n) if self.dir is not None else ""

    def start(self, timeout: float = 30.0) -> None:
        """Create the cluster on first call, then start it and wait until it accepts connections."""
        first = self.dir is None
        try:
            if first:
                self._create_cluster()
            self._pg(["pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path),
                      "-w", "-t", str(int(timeout)), "start"], as_owner=True, timeout=timeout + 5)
            wait_until(self._accepts_connections, timeout, f"PostgreSQL on port {self.port}")
            if first:
                self._create_database(timeout)
        except BaseException as exc:
            log = self.log_tail()
            self.kill()
            if first:
                self.cleanup()
            if isinstance(exc, Exception):
                raise _failure("PostgreSQL", exc, log) from exc
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown: disconnect clients, then exit cleanly."""
        if self._postmaster_pid() is None:
            return
        try:
            self._pg(["pg_ctl", "-D", str(self.data_dir), "-m", "fast", "-w",
                      "-t", str(int(timeout)), "stop"], as_owner=True, timeout=timeout + 5)
        except (RuntimeError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        """SIGKILL the postmaster, as in a crash, and wait until it is gone."""
        pid = self._postmaster_pid()
        if pid is None:
            return
        children = _children(pid)
        os.kill(pid, signal.SIGKILL)
        # Orphaned backends keep the shared memory attached, and a new postmaster
        # refuses to start until they are gone; in a real host crash they die too.
        for child in children:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        wait_until(lambda: not any(_alive(p) for p in [pid, *children]), 10, "postmaster exit")
        # The lock files name a pid that may linger as an unreaped zombie, which
        # Postgres would take for a running server.
        (self.data_dir / "postmaster.pid").unlink(missing_ok=True)
        assert self.dir is not None
        (self.dir / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)

    def restart(self, timeout: float = 30.0) -> None:
        """Stop and start again on the same port with the same data."""
        self.stop(timeout)
        self.start(timeout)

    def cleanup(self) -> None:
        """Stop the server if it runs and delete its directory."""
        if self.dir is None:
            return
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        atexit.unregister(self.cleanup)

    def _prepare_dir(self) -> None:
        self._bin = find_postgres_bin()
        owner = _postgres_owner()
        self.dir = Path(tempfile.mkdtemp(prefix="convene-pg-"))
        # pg_ctl detaches the postmaster from us; stop it even if a test forgets to.
        atexit.register(self.cleanup)
        if owner is not None:
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self.port = free_port()

    def _create_cluster(self) -> None:
        self._prepare_dir()
        self._pg(["initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--locale=C", "--no-sync"], as_owner=True, timeout=60)
        # Any instance can be a streaming replica's primary (PostgresReplicaInstance).
        with open(self.data_dir / "pg_hba.conf", "a") as hba:
            hba.write("\nhost replication postgres 127.0.0.1/32 trust\n")
        self._configure("wal_level = replica\nmax_wal_senders = 5\n"
                        # fsync off is safe here: tests kill the server process, never the OS, and the
                        # page cache survives that. synchronous_commit stays on: fault tests kill
                        # Postgres and check that acknowledged (committed) messages survive.
                        "fsync = off\nfull_page_writes = off\n")

    def _configure(self, extra: str) -> None:
        # Settings live in the config file so restarts keep the same port and socket dir.
        assert self.dir is not None
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\n"
                       f"unix_socket_directories = '{self.dir}'\n{extra}")

    def _create_database(self, timeout: float) -> None:
        self._pg(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                  self.database], timeout=timeout)

    def sql(self, query: str, timeout: float = 10.0) -> str:
        """Runs one statement with psql and answers its output (unaligned, tuples only)."""
        result = subprocess.run(
            [str(self._binary("psql")), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", self.database, "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query],
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed on port {self.port}: {result.stderr.strip()}")
        return result.stdout.strip()

    def _accepts_connections(self) -> bool:
        result = subprocess.run(
            [str(self._binary("pg_isready")), "-q", "-h", "127.0.0.1", "-p", str(self.port)],
            capture_output=True, timeout=5, check=False,
        )
        return result.returncode == 0

    def _postmaster_pid(self) -> int | None:
        if self.dir is None:
            return None
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def _binary(self, name: str) -> Path:
        assert self._bin is not None
        return self._bin / name

    def _pg(self, argv: list[str], *, timeout: float, as_owner: bool = False) -> None:
        cmd = [str(self._binary(argv[0])), *argv[1:]]
        if as_owner and os.geteuid() == 0:
            # initdb and postgres refuse to run as root.
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        result = subprocess.run(cmd, cwd=self.dir, capture_output=True, text=True,
                                timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv[:1])} failed ({result.returncode}): "
                               f"{result.stderr.strip() or result.stdout.strip()}")


class PostgresReplicaInstance(PostgresInstance):
    """A hot-standby streaming replica of `primary`, made with `pg_basebackup -R`, in its own temp
    dir on its own port. It serves reads only; its replay can be paused to simulate lag."""

    def __init__(self, primary: PostgresInstance) -> None:
        super().__init__(primary.database)
        self.primary = primary

    def _create_cluster(self) -> None:
        self._prepare_dir()
        # -R writes standby.signal and primary_conninfo; -X stream copies the WAL written meanwhile;
        # a fast checkpoint, or the backup waits for a spread one (minutes).
        self._pg(["pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
                  "-D", str(self.data_dir), "-R", "-X", "stream", "--checkpoint=fast", "--no-sync"], as_owner=True, timeout=120)
        # The primary's postgresql.conf came along; later lines win.
        self._configure("hot_standby = on\n")

    def _create_database(self, timeout: float) -> None:
        pass   # it came with the base backup

    def pause_replay(self) -> None:
        """Receives WAL but applies none of it: the replica falls behind, as under load."""
        self.sql("SELECT pg_wal_replay_pause()")

    def resume_replay(self) -> None:
        self.sql("SELECT pg_wal_replay_resume()")

    def wait_caught_up(self, timeout: float = 20.0) -> None:
        """Until the replica has replayed everything the primary had written when called."""
        target = self.primary.sql("SELECT pg_current_wal_lsn()")

        def replayed() -> bool:
            return self.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn") == "t"

        wait_until(replayed, timeout, "the replica's replay")


def _postgres_owner() -> pwd.struct_passwd | None:
    """The OS user that must own the cluster: `postgres` when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None
    if shutil.which("runuser") is None:
        raise RuntimeError("`runuser` is missing; it is needed to run PostgreSQL as a non-root user")
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise RuntimeError(
            f"OS user `postgres` is missing; {INSTALL_HINT} (the `postgresql` package creates it)"
        ) from None


# --- Redis -------------------------------------------------------------------


class RedisInstance(_Managed):
    """A private, non-persistent redis-server on 127.0.0.1:`port`."""

    def __init__(self) -> None:
        self.port: int | None = None
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("RedisInstance has not been started")
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("RedisInstance has not been started")
        return self._proc.pid

    def log_tail(self, n: int = 50) -> str:
        return tail(self.dir / "redis.log", n) if self.dir is not None else ""

    def start(self, timeout: float = 10.0) -> None:
        """Start redis-server (keeping the port of any earlier start) and wait for PING."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(f"redis-server not found on PATH; {INSTALL_HINT} "
                               "(Debian package `redis-server`)")
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="convene-redis-"))
            self.port = free_port()
            atexit.register(self.cleanup)
        with open(self.dir / "redis.log", "ab") as log:
            self._proc = subprocess.Popen(
                [binary, "--port", str(self.port), "--bind", "127.0.0.1",
                 "--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", str(self.dir),
                 *self.extra_args()],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self._pongs, timeout, f"Redis on port {self.port}")
        except Exception as exc:
            self.kill()
            raise _failure("Redis", exc, self.log_tail()) from exc

    def extra_args(self) -> list[str]:
        """More redis-server options, for subclasses (a cluster node)."""
        return []

    def stop(self, timeout: float = 10.0) -> None:
        _stop_child(self._proc, timeout)

    def kill(self) -> None:
        """SIGKILL redis-server, as in a crash."""
        _kill_child(self._proc)

    def restart(self, timeout: float = 10.0) -> None:
        """Stop and start again on the same port (the data is gone: nothing is persisted)."""
        self.stop()
        self.start(timeout)

    def cleanup(self) -> None:
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            atexit.unregister(self.cleanup)

    def _pongs(self) -> bool:
        assert self._proc is not None and self.port is not None
        _require_running(self._proc, "redis-server")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(64).startswith(b"+PONG")
        except OSError:
            return False


# --- Redis Cluster -----------------------------------------------------------


class RedisClusterNode(RedisInstance):
    """One node of a private Redis Cluster: a RedisInstance in cluster mode, its identity kept in
    its directory (nodes.conf) so a restarted node rejoins as the same node."""

    def __init__(self, node_timeout_ms: int) -> None:
        super().__init__()
        self.node_timeout_ms = node_timeout_ms
        self.bus_port: int | None = None

    def extra_args(self) -> list[str]:
        if self.bus_port is None:
            # Chosen, not port + 10000, which may be taken or past 65535.
            self.bus_port = free_port()
        return ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", str(self.node_timeout_ms), "--cluster-port", str(self.bus_port),
                # A shard without its primary does not stop the others (docs/scaling.md).
                "--cluster-require-full-coverage", "no"]

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2, socket_connect_timeout=2)

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def info(self, *args: str) -> dict[str, str]:
        """`CLUSTER INFO` (no arguments) or `INFO <section>` as a dict of strings."""
        with self.client() as client:
            raw = client.execute_command("CLUSTER", "INFO") if not args else client.execute_command("INFO", *args)
        text = raw.decode() if isinstance(raw, bytes) else raw
        if isinstance(text, dict):
            return {k: str(v) for k, v in text.items()}
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


class RedisClusterInstance(_Managed):
    """A private Redis Cluster: `primaries` shards with `replicas` replicas each, from Debian's
    redis-server and `redis-cli --cluster create`, non-persistent, with a short node timeout so a
    killed primary's replica takes over within seconds."""

    def __init__(self, primaries: int = 3, replicas: int = 1, node_timeout_ms: int = 1000) -> None:
        self.replicas = replicas
        self.nodes = [RedisClusterNode(node_timeout_ms) for _ in range(primaries * (1 + replicas))]

    @property
    def url(self) -> str:
        """REDIS_URL for Convene: every node as a seed (docs/scaling.md)."""
        return "redis+cluster://" + ",".join(node.address for node in self.nodes)

    def start(self, timeout: float = 60.0) -> None:
        """Create the cluster on first call; later, start every node again (each rejoins as the node
        it was, from its nodes.conf, with no data: nothing is persisted) and wait until it is whole."""
        if self.nodes[0].dir is not None:
            for node in self.nodes:
                if not node.alive():
                    node.start()
            self.wait_healthy(timeout)
            return
        cli = shutil.which("redis-cli")
        if cli is None:
            raise RuntimeError(f"redis-cli not found on PATH; {INSTALL_HINT} (Debian package `redis-tools`)")
        try:
            for node in self.nodes:
                node.start()
            result = subprocess.run(
                [cli, "--cluster", "create", *(node.address for node in self.nodes),
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                capture_output=True, text=True, timeout=timeout, check=False)
            if result.returncode != 0:
                raise RuntimeError(f"redis-cli --cluster create failed: {result.stdout[-2000:]}{result.stderr}")
            self.wait_healthy(timeout)
        except BaseException as exc:
            log = "\n".join(node.log_tail(20) for node in self.nodes)
            self.cleanup()
            if isinstance(exc, Exception):
                raise _failure("Redis Cluster", exc, log) from exc
            raise

    def wait_healthy(self, timeout: float = 30.0) -> None:
        """Until every live node says cluster_state:ok and knows every node, every slot is served
        by a live primary, and every live replica is in sync with its primary."""
        wait_until(self._healthy, timeout, "Redis Cluster")

    def _healthy(self) -> bool:
        live = [node for node in self.nodes if node.alive()]
        try:
            for node in live:
                info = node.info()
                if info.get("cluster_state") != "ok" or int(info.get("cluster_slots_ok", 0)) != 16384:
                    return False
                if int(info.get("cluster_known_nodes", 0)) != len(self.nodes):
                    return False
                replication = node.info("replication")
                if replication.get("role") == "slave" and replication.get("master_link_status") != "up":
                    return False
            primaries = self.primaries()
        except Exception:   # a node still starting or just killed: not healthy yet
            return False
        return bool(primaries) and all(node.alive() for node in primaries)

    def _view(self) -> list[list[str]]:
        """CLUSTER NODES as seen by a live node: one list of fields per node."""
        for node in self.nodes:
            if node.alive():
                try:
                    with node.client() as client:
                        raw = client.execute_command("CLUSTER", "NODES")
                except Exception:
                    continue
                text = raw.decode() if isinstance(raw, bytes) else raw
                if isinstance(text, dict):   # some client versions parse it
                    return [[info["node_id"], address, info["flags"]] for address, info in text.items()]
                return [line.split() for line in text.splitlines() if line.strip()]
        raise RuntimeError("no live node in the Redis Cluster")

    def _by_address(self, address: str) -> RedisClusterNode:
        port = int(address.split("@", 1)[0].rsplit(":", 1)[1])
        return next(node for node in self.nodes if node.port == port)

    def primaries(self) -> list[RedisClusterNode]:
        """The nodes currently serving slots as primaries (not marked failed)."""
        return [self._by_address(fields[1]) for fields in self._view()
                if "master" in fields[2] and "fail" not in fields[2]]

    def primary_for(self, key: str) -> RedisClusterNode:
        """The primary serving `key`'s hash slot (a channel name works the same way)."""
        slot = key_slot(key.encode())
        with next(node for node in self.nodes if node.alive()).client() as client:
            shards = client.execute_command("CLUSTER", "SLOTS")
        for start, end, primary, *_ in shards:
            if start <= slot <= end:
                return next(node for node in self.nodes if node.port == int(primary[1]))
        raise RuntimeError(f"slot {slot} is not served")

    def kill_and_wait_for_failover(self, primary: RedisClusterNode, timeout: float = 30.0) -> RedisClusterNode:
        """SIGKILL a primary, as in a crash, and wait until one of its replicas serves its slots."""
        with primary.client() as client:
            own_slots = {int(s[0]) for s in client.execute_command("CLUSTER", "SLOTS")
                         if int(s[2][1]) == primary.port}
        primary.kill()

        def promoted() -> RedisClusterNode | None:
            try:
                with next(node for node in self.nodes if node.alive()).client() as client:
                    shards = client.execute_command("CLUSTER", "SLOTS")
            except Exception:
                return None
            owners = {int(s[2][1]) for s in shards if int(s[0]) in own_slots}
            if len(owners) == 1 and primary.port not in owners:
                return next(node for node in self.nodes if node.port in owners)
            return None

        wait_until(lambda: promoted() is not None and self._slots_ok(), timeout,
                   f"failover of the primary on port {primary.port}")
        successor = promoted()
        assert successor is not None
        return successor

    def kill(self) -> None:
        """SIGKILL every node, as in a crash of the whole cluster."""
        for node in self.nodes:
            node.kill()

    def _slots_ok(self) -> bool:
        return all(node.info().get("cluster_state") == "ok" for node in self.nodes if node.alive())

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


# --- The Convene app ---------------------------------------------------------


class ServerProcess(_Managed):
    """The Convene app under uvicorn in a subprocess, with its output in a log file."""

    def __init__(self, env: dict[str, str], port: int | None = None, shutdown_grace_s: int = 5,
                 ws_protocol: str = "realtime.websocket_protocol:ConveneWebSocketProtocol",
                 log_level: str = "warning", host: str = "127.0.0.1") -> None:
        self.env = dict(env)
        self.port = port if port is not None else free_port()
        self.shutdown_grace_s = shutdown_grace_s
        self.ws_protocol = ws_protocol
        self.log_level = log_level   # "info" adds uvicorn's access log
        self.host = host             # what uvicorn binds; clients still reach it on 127.0.0.1
        self.dir: Path | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("ServerProcess has not been started")
        return self._proc.pid

    @property
    def log_path(self) -> Path | None:
        return self.dir / "server.log" if self.dir is not None else None

    def log_tail(self, n: int = 50) -> str:
        return tail(self.log_path, n) if self.log_path is not None else ""

    def command(self) -> list[str]:
        # The same uvicorn options as the Procfile's web process.
        return [sys.executable, "-m", "uvicorn", "realtime.app:create_app", "--factory",
                "--host", self.host, "--port", str(self.port), "--log-level", self.log_level,
                "--ws", self.ws_protocol, "--ws-max-size", "65536",
                "--timeout-graceful-shutdown", str(self.shutdown_grace_s)]

    def start(self, timeout: float = 20.0) -> None:
        """Launch the server and wait until GET /healthz answers 200."""
        if self.dir is None:
            self.dir = Path(tempfile.mkdtemp(prefix="convene-server-"))
            atexit.register(self.cleanup)
        assert self.log_path is not None
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                # PUBLIC_URL: links in e-mails and pushes point at this server unless a test says otherwise.
                self.command(), cwd=REPO_ROOT, env={**os.environ, "PUBLIC_URL": self.url, **self.env},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        try:
            wait_until(self._healthy, timeout, f"server on {self.url}/healthz")
        except Exception as exc:
            self.kill()
            raise _failure("server", exc, self.log_tail()) from exc

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (graceful shutdown), then SIGKILL if it takes longer than `timeout`."""
        _stop_child(self._proc, timeout)

    def kill(self) -> None:
        """SIGKILL the server, as in a crash."""
        _kill_child(self._proc)

    def terminate(self) -> None:
        """SIGTERM without waiting: the start of a graceful shutdown."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> int:
        """The exit status, waiting at most `timeout` seconds (AssertionError with the log's end after)."""
        if self._proc is None:
            raise RuntimeError("ServerProcess has not been started")
        try:
            return self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the server still runs after {timeout} s; its log ends:\n{self.log_tail(80)}") from None

    def cleanup(self) -> None:
        self.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
            atexit.unregister(self.cleanup)

    def _healthy(self) -> bool:
        assert self._proc is not None
        _require_running(self._proc, "server")
        # http.client rather than urllib: urllib would obey an http_proxy variable.
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
        try:
            conn.request("GET", "/healthz")
            return conn.getresponse().status == 200
        except (OSError, http.client.HTTPException):
            return False
        finally:
            conn.close()
