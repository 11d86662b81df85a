"""Streams that never reached the archive: a process died mid-webinar (its packager never saw the end),
or the hand-over failed (the database was away). The webinar's media must not be lost for that.

A sweep, at start-up and then every few minutes on every process, looks at each live directory:
an ended webinar whose stream is not marked as handed over, and that no process is writing
(the packager's flock is free), is closed (#EXT-X-ENDLIST) and handed to the archive. The
archive's `live_finished` answers the same recording when called twice, so two processes
sweeping at once, or a sweep racing the normal hand-over, still make one recording.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Awaitable, Callable

from recordings.live.packager import START_FILE
from recordings.storage.durable import write_file
from rooms.webinars.models import Webinar, WebinarState

log = logging.getLogger(__name__)

HANDED_OVER = "archived"            # marker file in the live directory, written after a hand-over
RENDITIONS = ("video", "audio")
Finished = Callable[[int, Path, datetime], Awaitable[bool]]
WebinarLookup = Callable[[int], Awaitable[Webinar | None]]


def mark_handed_over(directory: Path) -> None:
    write_file(directory / HANDED_OVER, datetime.now(timezone.utc).isoformat().encode())


def close_playlists(directory: Path) -> None:
    """What the worker would have written at the end: the playlists say the stream is over (the low-latency one
    without its preload hint, so blocking requests are answered at once instead of waiting for a part)."""
    for rendition in RENDITIONS:
        for name in ("index.m3u8", "ll.m3u8"):
            playlist = directory / rendition / name
            if not playlist.exists() or "#EXT-X-ENDLIST" in (text := playlist.read_text()):
                continue
            lines = [line for line in text.splitlines() if not line.startswith("#EXT-X-PRELOAD-HINT")]
            playlist.write_text("\n".join(lines + ["#EXT-X-ENDLIST"]) + "\n")


def _idle(directory: Path) -> bool:
    """No process holds the packager's writer lock on this directory."""
    lock_path = directory.parent / f"{directory.name}.lock"
    if not lock_path.exists():
        return True
    descriptor = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    finally:
        os.close(descriptor)   # closing drops the lock we may have taken
    return True


async def sweep(live_root: Path, webinar: WebinarLookup, finished: Finished, settle: timedelta,
                now: datetime | None = None) -> list[int]:
    """Hands every abandoned, ended stream under live_root to the archive; answers their webinar ids.
    `settle`: how long the normal path (the packager's own end and its flush) gets before the sweep steps in."""
    now = now or datetime.now(timezone.utc)
    handed: list[int] = []
    if not live_root.is_dir():
        return handed
    for directory in sorted(live_root.iterdir()):
        start = directory / START_FILE
        if not directory.name.isdigit() or not start.exists() or (directory / HANDED_OVER).exists():
            continue
        found = await webinar(int(directory.name))
        if found is None or found.state is not WebinarState.ENDED:
            continue
        if found.ended_at is not None and now - found.ended_at < settle:
            continue
        if not _idle(directory):
            continue
        try:
            started_at = datetime.fromisoformat(json.loads(start.read_text())["started_at"])
        except (OSError, ValueError, KeyError, TypeError):
            log.error("live stream of webinar %s has no readable start time; not archived", directory.name)
            continue
        close_playlists(directory)
        if not await finished(found.id, directory, started_at):
            continue
        mark_handed_over(directory)
        handed.append(found.id)
        log.info("live stream of webinar %s recovered and handed to the archive", found.id)
    return handed


async def sweep_forever(live_root: Path, webinar: WebinarLookup, finished: Finished,
                        settle: timedelta, interval_s: float) -> None:
    while True:
        try:
            await sweep(live_root, webinar, finished, settle)
        except Exception:   # the database may be away; the next sweep tries again
            log.exception("sweeping abandoned live streams failed")
        await asyncio.sleep(interval_s)
