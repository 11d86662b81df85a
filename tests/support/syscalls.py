"""A server run under strace, and its trace read back as calls on named files and sockets.

`TracedServer` is a ServerProcess whose command runs under `strace -f` (Debian's strace; see
scripts/setup-system.sh), writing the syscalls that matter for durability (opening, syncing,
renaming, writing the WAL, reading and writing sockets, forking) to a file. `read_trace` turns
that file into `Call`s in the order they completed, each knowing which file its descriptor was
opened on: descriptors are followed through openat/close, and through fork, clone and execve, so
a child's descriptor 12 is never taken for the server's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.services import INSTALL_HINT, ServerProcess

# Sockets are read and written with read/write under uvloop (uvicorn's default when installed) and
# with recvfrom/sendto under asyncio's own loop: both are traced.
TRACED = ("openat", "close", "pwrite64", "write", "writev", "fsync", "fdatasync", "rename", "renameat", "renameat2",
          "read", "recvfrom", "sendto", "sendmsg", "clone", "clone3", "fork", "vfork", "execve")
READS = ("read", "recvfrom")
WRITES = ("write", "writev", "sendto", "sendmsg")

_LINE = re.compile(r"^(?P<pid>\d+) +(?P<time>\d\d:\d\d:\d\d\.\d+) (?P<rest>.*)$")
_CALL = re.compile(r"^(?P<name>\w+)\((?P<args>.*)$")
_RESUMED = re.compile(r"^<\.\.\. (?P<name>\w+) resumed>(?P<args>.*)$")
_RESULT = re.compile(r"\) += (?P<result>-?\d+|\?|0x[0-9a-f]+)(?: .*)?$")


@dataclass
class Call:
    """One syscall: where its line started (entry) and ended (exit), in trace order."""

    entry: int
    pid: int
    name: str
    args: str = ""
    exit: int = -1
    result: int | None = None
    path: str | None = None         # the file or directory behind the first descriptor argument
    paths: tuple[str, ...] = ()     # rename: (from, to); openat: (the path opened,)
    space: int = 0                  # the descriptor table it used (threads of a process share one)

    @property
    def fd(self) -> int | None:
        first = self.args.split(",", 1)[0].strip()
        return int(first) if first.isdigit() else None

    def data(self) -> str:
        """The (escaped) bytes a write or send carried, as strace printed them."""
        found = re.search(r'"((?:[^"\\]|\\.)*)"', self.args)
        return found.group(1) if found else ""


def require_strace() -> str:
    path = shutil.which("strace")
    if path is None:
        raise RuntimeError(f"strace not found; {INSTALL_HINT} (Debian package `strace`)")
    return path


class TracedServer(ServerProcess):
    """The server under `strace -f`. Signals go to the server itself (strace's child), never to strace,
    which would detach and leave the server running; strace ends when the server has."""

    def __init__(self, env: dict[str, str], trace_path: Path, **kwargs) -> None:
        super().__init__(env, **kwargs)
        self.trace_path = trace_path

    def command(self) -> list[str]:
        return [require_strace(), "-f", "--seccomp-bpf", "-tt", "-s", "4096", "-e", f"trace={','.join(TRACED)}",
                "-o", str(self.trace_path), *super().command()]

    def start(self, timeout: float = 60.0) -> None:
        super().start(timeout)

    def _server_pid(self) -> int | None:
        try:
            children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        except (OSError, RuntimeError):
            return None
        return int(children[0]) if children else None

    def _signal_server(self, signum: int) -> None:
        pid = self._server_pid()
        if pid is not None:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM to the server, then waits for strace to finish writing the trace."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal_server(signal.SIGTERM)
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._signal_server(signal.SIGKILL)
        try:
            self._proc.wait(10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(10)


def _parse(text: str) -> list[Call]:
    calls: list[Call] = []
    pending: dict[int, Call] = {}
    for index, line in enumerate(text.splitlines()):
        matched = _LINE.match(line)
        if matched is None:
            continue
        pid, rest = int(matched["pid"]), matched["rest"]
        if rest.startswith(("+++", "---")):
            continue
        resumed = _RESUMED.match(rest)
        if resumed is not None:
            call = pending.pop(pid, None)
            if call is None or call.name != resumed["name"]:
                continue
            tail = resumed["args"]
        else:
            started = _CALL.match(rest)
            if started is None:
                continue
            call = Call(entry=index, pid=pid, name=started["name"])
            tail = started["args"]
        if tail.endswith("<unfinished ...>"):
            call.args += tail[: -len("<unfinished ...>")]
            pending[pid] = call
            continue
        result = _RESULT.search(tail)
        call.args += tail[: result.start()] if result else tail
        if result is not None and result["result"] not in ("?",):
            call.result = int(result["result"], 0)
        call.exit = index
        calls.append(call)
    calls.sort(key=lambda c: c.exit)
    return calls


def _quoted(args: str) -> list[str]:
    return [bytes(s, "utf-8").decode("unicode_escape") for s in re.findall(r'"((?:[^"\\]|\\.)*)"', args)]


def read_trace(path: Path, cwd: Path) -> list[Call]:
    """The trace's calls in completion order, with the file behind each descriptor filled in."""
    calls = _parse(path.read_text(errors="replace"))
    space_of: dict[int, int] = {}          # pid (thread) → its descriptor table
    tables: dict[int, dict[int, str]] = {}
    first = next((c.pid for c in calls), None)
    if first is not None:
        space_of[first] = first
        tables[first] = {}

    def table(pid: int) -> dict[int, str]:
        space = space_of.setdefault(pid, pid)
        return tables.setdefault(space, {})

    for call in calls:
        fds = table(call.pid)
        call.space = space_of[call.pid]
        if call.name in ("clone", "clone3", "fork", "vfork") and call.result and call.result > 0:
            shares = "CLONE_FILES" in call.args
            space_of[call.result] = space_of.get(call.pid, call.pid) if shares else call.result
            if not shares:
                tables[call.result] = dict(fds)
        elif call.name == "execve" and call.result == 0:
            fds.clear()     # Python and SQLite open everything close-on-exec
        elif call.name == "openat" and call.result is not None and call.result >= 0:
            names = _quoted(call.args)
            if names:
                target = Path(names[0])
                opened = str(target if target.is_absolute() else cwd / target)
                fds[call.result] = opened
                call.paths = (opened,)
        elif call.name == "close" and call.fd is not None:
            call.path = fds.pop(call.fd, None)
            continue
        elif call.name.startswith("rename") and call.result == 0:
            names = [str(Path(n) if Path(n).is_absolute() else cwd / n) for n in _quoted(call.args)]
            call.paths = tuple(names[:2])
        if call.fd is not None:
            call.path = fds.get(call.fd)
    return calls
