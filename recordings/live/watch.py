"""Holds blocking requests until a low-latency playlist lists what they ask for: one stat poll per playlist, however many wait.

The playlist is written by a worker process (maybe of another server process on the same disk),
so the only signal is the file itself. While anyone waits on a playlist, one task stats it every
POLL_S and, when it changed, re-reads and parses it once and wakes every waiter: a thousand
viewers blocked on the next part cost one stat every 20 ms, not a thousand.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from recordings.live.playlists import Edge, edge
from rooms import metrics

POLL_S = 0.02


@dataclass
class _Watched:
    path: Path
    stamp: tuple[int, int, int] | None = None
    text: str | None = None
    edge: Edge | None = None
    waiters: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def refresh(self) -> bool:
        try:
            stat = os.stat(self.path)
        except OSError:
            return False
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self.stamp:
            return False
        try:
            self.text = self.path.read_text()
        except OSError:
            return False
        self.stamp, self.edge = stamp, edge(self.text)
        return True


class PlaylistWatch:
    def __init__(self, poll_s: float = POLL_S) -> None:
        self.poll_s = poll_s
        self._watched: dict[Path, _Watched] = {}

    async def wait(self, path: Path, ready: Callable[[Edge], bool], timeout_s: float | None = None
                   ) -> tuple[str, Edge] | None:
        """The playlist's text and edge once `ready(edge)`; None when that did not happen within the timeout
        (default: the playlist's own, three target durations) or the file is not a low-latency playlist."""
        watched = self._watched.get(path)
        if watched is None:
            watched = self._watched[path] = _Watched(path)
        watched.refresh()
        if watched.edge is None:
            self._forget(watched)
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout_s if timeout_s is not None else watched.edge.timeout_s)
        watched.waiters += 1
        metrics.live_blocking_waiting.inc()
        if watched.task is None:
            watched.task = loop.create_task(self._poll(watched), name=f"watch {path}")
        try:
            while True:
                assert watched.text is not None and watched.edge is not None
                if ready(watched.edge):
                    return watched.text, watched.edge
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(watched.changed.wait(), remaining)
                except asyncio.TimeoutError:
                    pass
        finally:
            watched.waiters -= 1
            metrics.live_blocking_waiting.dec()
            if watched.waiters == 0:
                self._forget(watched)

    def _forget(self, watched: _Watched) -> None:
        if watched.waiters == 0 and self._watched.get(watched.path) is watched:
            del self._watched[watched.path]
            if watched.task is not None:
                watched.task.cancel()

    async def _poll(self, watched: _Watched) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            if watched.refresh():
                # Everyone waiting re-checks the new edge; later waiters wait on a fresh event.
                woken, watched.changed = watched.changed, asyncio.Event()
                woken.set()
