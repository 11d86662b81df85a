"""Where the server's time goes: py-spy attached to a server PID, and a summary of its collapsed stacks."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Stack frames are "function (path:line)"; the path says which layer the time belongs to.
LAYERS = [
    ("compression (permessage-deflate)", ("permessage_deflate",)),
    ("uvicorn websocket/http protocol", ("uvicorn/",)),      # before websockets/: uvicorn/protocols/websockets/
    ("websockets protocol (framing)", ("websockets/",)),
    ("starlette", ("starlette/",)),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("SQLite driver (aiosqlite, sqlite3)", ("aiosqlite/", "sqlite3/")),
    ("asyncpg", ("asyncpg/",)),
    ("redis client", ("redis/",)),
    ("pydantic validation", ("pydantic",)),
    ("argon2", ("argon2/",)),
    ("Convene hub (fan-out)", ("realtime/hub.py", "realtime/connection.py", "rooms/fanout.py")),
    ("Convene gateway (read loop, writer)", ("realtime/gateway.py", "realtime/session.py", "realtime/frames/",
                                            "realtime/protocol.py", "realtime/ratelimit.py")),
    ("Convene presence", ("realtime/presence/", "rooms/presence.py")),
    ("Convene other", ("realtime/", "rooms/")),
    ("asyncio / event loop", ("asyncio/", "uvloop/")),
    ("json (orjson)", ("orjson",)),
    ("logging", ("logging/",)),
]
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise RuntimeError("py-spy is not installed: .venv/bin/pip install py-spy")
    return found


def record(pid: int, out: Path, duration_s: float, rate: int = 100,
           extra: tuple[str, ...] = ()) -> subprocess.Popen[bytes]:
    """Starts py-spy in the background on `pid` for `duration_s`; collapsed stacks go to `out`.
    --nonblocking samples without pausing the server, so the profile barely perturbs it;
    `extra` adds py-spy options (e.g. "--gil": only the thread holding the GIL)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [py_spy(), "record", "--pid", str(pid), "--duration", str(max(1, round(duration_s))),
         "--rate", str(rate), "--format", "raw", "--threads", "--nonblocking", *extra, "-o", str(out)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _frames(stack: str) -> list[tuple[str, str]]:
    frames = []
    for part in stack.split(";"):
        match = _FRAME.match(part.strip())
        if match:
            frames.append((match["func"], match["path"]))
        else:
            frames.append((part.strip(), ""))
    return frames


def layer_of(path: str) -> str:
    for name, needles in LAYERS:
        if any(needle in path for needle in needles):
            return name
    return "other"


def _short(path: str) -> str:
    for marker in ("site-packages/", "/work/main/", "lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def summarize(raw: Path, top: int = 25) -> dict:
    """Shares of samples by thread, by layer of the innermost frame (self time), and the functions
    with the most self and inclusive time."""
    threads: Counter = Counter()
    layers: Counter = Counter()
    self_time: Counter = Counter()
    inclusive: Counter = Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        frames = _frames(stack)
        if frames and frames[0][0].startswith("thread"):
            threads[frames[0][0]] += count
            frames = frames[1:]
        if not frames:
            continue
        total += count
        func, path = frames[-1]
        layers[layer_of(path)] += count
        self_time[f"{func} ({_short(path)})"] += count
        for name in {f"{f} ({_short(p)})" for f, p in frames}:
            inclusive[name] += count

    def shares(counter: Counter, n: int) -> list[list]:
        return [[name, round(100 * c / total, 1)] for name, c in counter.most_common(n)] if total else []

    return {"samples": total, "threads_pct": shares(threads, 8), "self_by_layer_pct": shares(layers, len(LAYERS) + 1),
            "self_top_pct": shares(self_time, top), "inclusive_top_pct": shares(inclusive, top)}
