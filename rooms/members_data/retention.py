"""Room retention: owners choose how many days a room keeps its messages; a job on every process removes the rest.

Only chat rooms take it (emergency rooms and webinars keep their record; a conversation has no owner to
decide). Each pass removes expired events room by room (rooms/members_data/store/retention.py), publishes
each removal's `history.removed` event, deletes the removed messages' files, and lets the database drop its
copies of the text. Processes may run passes at once: the room's lock makes each removal happen once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from recordings.storage import MediaStorage
from rooms import metrics
from rooms.errors import BadRequest, Forbidden
from rooms.management import RoomService
from rooms.members_data.settings import MembersDataSettings
from rooms.members_data.store.retention import Removal, RetentionStore
from rooms.models import Event, Member, Role, Room, RoomKind
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

Publish = Callable[[Event], Awaitable[None]]


class RetentionService:
    def __init__(self, store: RetentionStore, rooms: RoomService, storage: MediaStorage, publish: Publish,
                 settings: MembersDataSettings) -> None:
        self.store = store
        self.rooms = rooms
        self.storage = storage
        self.publish = publish
        self.settings = settings

    async def set_days(self, owner: Member, room_id: int, days: int | None) -> Room:
        room, membership = await self.rooms.writable(owner, room_id)
        if membership.role is not Role.OWNER:
            raise Forbidden("only the room's owners set how long it keeps messages")
        if room.kind is not RoomKind.ROOM:
            raise BadRequest("only chat rooms remove old messages; emergency rooms, webinars and "
                             "conversations keep theirs", field="room")
        if days is not None and not 1 <= days <= self.settings.retention_max_days:
            raise BadRequest(f"from 1 to {self.settings.retention_max_days} days, or null to keep everything",
                             field="days")
        await self.store.set_days(room_id, days)
        return await self.rooms.get(room_id)

    async def run_once(self) -> list[Removal]:
        """One pass over every room with retention; answers what it removed."""
        removals: list[Removal] = []
        for room_id, days in await self.store.rooms_with_retention():
            cutoff = utcnow() - timedelta(days=days)
            while (removal := await self.store.remove_expired(room_id, cutoff, days,
                                                              self.settings.retention_batch)) is not None:
                removals.append(removal)
                metrics.retention_rows_removed.inc(removal.events)
                log.info("retention removed %d events of room %s through seq %d", removal.events, room_id,
                         removal.removed_through)
                await self.publish(removal.event)
                await asyncio.to_thread(self._delete_files, removal.files)
        if removals:
            await self.store.db.purge_removed_text()
        return removals

    def _delete_files(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.storage.delete(key)
            except OSError:
                log.exception("an expired attachment's file could not be removed")


class MembersDataJob:
    """Every RETENTION_INTERVAL_S: expired history goes, and deletions a process left half way finish."""

    def __init__(self, retention: RetentionService, finish_deletions: Callable[[], Awaitable[int]],
                 interval_s: float) -> None:
        self.retention = retention
        self.finish_deletions = finish_deletions
        self.interval_s = interval_s
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._forever(), name="members-data-job")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.retention.run_once()
                await self.finish_deletions()
            except Exception:   # the store may be away; the next pass catches up
                log.exception("members' data job failed")
