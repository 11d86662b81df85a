"""This process's live streams, one per webinar whose media it hosts, and what happens when one ends."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable

from recordings.live.audience import Audience
from recordings.live.packager import LivePackager
from recordings.live.recovery import WebinarLookup, mark_handed_over, sweep_forever
from recordings.live.settings import LiveSettings
from recordings.storage.durable import sync_tree
from recordings.live.watch import PlaylistWatch
from rooms.webinars.models import WebinarState

log = logging.getLogger(__name__)

# (webinar id, its live directory, when the stream started) → the archive takes it from there.
CLOSED_POLL_S = 0.5

# Answers whether the stream was handed over (False: the webinar has not ended, or no archive here).
Finished = Callable[[int, Path, datetime], Awaitable[bool]]


def live_dir(data_dir: Path, webinar_id: int) -> Path:
    """The contract with the archive: <CONVENE_DATA_DIR>/live/<webinar_id>/."""
    return data_dir / "live" / str(int(webinar_id))


def archive_hook(services: Any) -> Finished:
    """Hands a finished stream to services.recordings.live_finished — when that service exists on this
    build (looked up at the end, not at start-up, so the stream works without the archive)."""

    async def finished(webinar_id: int, directory: Path, started_at: datetime) -> bool:
        webinar = await services.webinars.sessions.store.get(webinar_id)
        if webinar is None or webinar.state is not WebinarState.ENDED:
            # The server is stopping mid-webinar: the stream goes on after the restart (appended).
            log.info("live stream of webinar %s paused (the webinar has not ended)", webinar_id)
            return False
        recordings = getattr(services, "recordings", None)
        live_finished = getattr(recordings, "live_finished", None)
        if live_finished is None:
            log.info("live stream of webinar %s finished; no archive on this build", webinar_id)
            return False
        # The worker process wrote the segments without syncing them: they are the recording's
        # source from now on, so they reach the disk before the archive is told it has them.
        await asyncio.to_thread(sync_tree, directory)
        await live_finished(webinar_id, directory, started_at)
        return True

    return finished


class LiveStreams:
    def __init__(self, data_dir: Path, settings: LiveSettings, on_finished: Finished | None = None) -> None:
        self.data_dir = data_dir
        self.settings = settings
        self.on_finished = on_finished
        self.packagers: dict[int, LivePackager] = {}
        # For the HTTP side: blocking requests wait on the playlists; viewers are counted by their requests.
        self.watch = PlaylistWatch()
        self.audience = Audience(settings.segment_s, settings.part_frames / settings.fps)
        self._endings: set[asyncio.Task[None]] = set()

    def tap_for(self, webinar_id: int) -> LivePackager:
        """The webinar's packager, started on first use: register it with MediaSession.add_tap."""
        packager = self.packagers.get(webinar_id)
        if packager is None or packager.closed:
            packager = LivePackager(webinar_id, live_dir(self.data_dir, webinar_id), self.settings)
            self.packagers[webinar_id] = packager
            self._endings.add(task := asyncio.get_running_loop().create_task(self._finish(packager)))
            task.add_done_callback(self._endings.discard)
        return packager

    async def _finish(self, packager: LivePackager) -> None:
        while not packager.closed:
            await asyncio.sleep(CLOSED_POLL_S)
        status = await packager.finished()
        if self.packagers.get(packager.webinar_id) is packager:
            del self.packagers[packager.webinar_id]
        if not packager.started:
            return   # nobody published through this process, or another process writes the stream
        if status != 0:
            # No #EXT-X-ENDLIST: not a finished stream. The next tap for this webinar appends to it.
            log.error("live stream worker of webinar %s exited with %s", packager.webinar_id, status)
            return
        if self.on_finished is not None:
            try:
                if await self.on_finished(packager.webinar_id, packager.live_dir, packager.started_at):
                    mark_handed_over(packager.live_dir)
            except Exception:
                log.exception("handing the live stream of webinar %s to the archive failed", packager.webinar_id)

    async def recover_forever(self, webinar: WebinarLookup) -> None:
        """Hands the streams a dead process left behind to the archive (recovery.py), until cancelled."""
        assert self.on_finished is not None
        await sweep_forever(self.data_dir / "live", webinar, self.on_finished,
                            timedelta(seconds=self.settings.recovery_settle_s), self.settings.recovery_interval_s)

    async def stop(self) -> None:
        """Server shutdown: every stream is ended properly (ENDLIST), so a restart appends to it."""
        for packager in list(self.packagers.values()):
            packager.close()
        if self._endings:
            await asyncio.gather(*self._endings, return_exceptions=True)
