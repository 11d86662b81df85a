"""Who is present: connection status in, presence frames out to the rooms a member shares.

Changes are batched: an arrival, a departure or a status change is queued, and once per tick
(PRESENCE_BATCH_S) every queued change is written to the backend together (one Redis pipeline, one
memory update) and announced together: one query for the changed members' rooms, one frame per
member and room whose status really changed (a member who left and came back within the tick is not
announced at all). A reconnect storm of thousands of sockets costs a few writes per tick, not a
round trip per socket, and no handshake waits for presence. Reads (`in_room`) write what is queued
first, so this process always reads its own changes.

A closed connection leaves presence PRESENCE_GRACE_S after it closed, not at once: on the mobile
networks many members use, a connection drops and the client is back within seconds, and a deploy
or a carrier's blip reconnects everyone. Their rooms would be told "offline" and "online" again for
each of them; with the grace, the new connection is there before the old one leaves, the member's
status never changes and nobody is told anything.
"""

from __future__ import annotations

import asyncio
import logging

from realtime.presence.base import Change, PresenceBackend
from rooms import metrics
from rooms.models import Member, PresenceStatus
from rooms.service import ChatService
from rooms.store import Stores

log = logging.getLogger(__name__)


class PresenceService:
    def __init__(self, backend: PresenceBackend, stores: Stores, chat: ChatService, batch_s: float = 0.02,
                 grace_s: float = 0.0) -> None:
        self.backend = backend
        self.stores = stores
        self.chat = chat
        self.batch_s = batch_s
        self.grace_s = grace_s
        # Closed connections in their grace, by id: (the timer, the member).
        self._leaving: dict[str, tuple[asyncio.TimerHandle, Member]] = {}
        self._pending: list[tuple[Member, str, PresenceStatus | None]] = []
        self._queued = asyncio.Event()
        self._writing = asyncio.Lock()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._write_periodically(), name="presence-batches")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for conn_id, (timer, member) in list(self._leaving.items()):   # stopping: they leave now
            timer.cancel()
            self._leave(member, conn_id)
        try:
            await self.flush()
        except Exception as error:
            log.warning("presence: the last batch was not written: %s", error)

    async def connected(self, member: Member, conn_id: str) -> None:
        self._queue(member, conn_id, PresenceStatus.ONLINE)

    async def set_status(self, member: Member, conn_id: str, status: PresenceStatus) -> None:
        self._queue(member, conn_id, status)

    async def disconnected(self, member: Member, conn_id: str) -> None:
        if self.grace_s <= 0:
            self._queue(member, conn_id, None)
            return
        timer = asyncio.get_running_loop().call_later(self.grace_s, self._leave, member, conn_id)
        self._leaving[conn_id] = (timer, member)

    def _leave(self, member: Member, conn_id: str) -> None:
        self._leaving.pop(conn_id, None)
        self._queue(member, conn_id, None)

    def _queue(self, member: Member, conn_id: str, status: PresenceStatus | None) -> None:
        self._pending.append((member, conn_id, status))
        self._queued.set()

    async def heartbeat(self) -> None:
        changes = await self.backend.heartbeat()
        if changes:
            members = {m.id: m for m in await self.stores.accounts.get_many(list(changes))}
            await self._announce({member_id: (members[member_id], change) for member_id, change in changes.items()
                                  if member_id in members})

    async def in_room(self, member_ids: list[int]) -> dict[int, PresenceStatus]:
        await self.flush()
        return await self.backend.statuses(member_ids)

    async def flush(self) -> None:
        """Writes and announces every queued change, in the order they came."""
        async with self._writing:
            batch, self._pending = self._pending, []
            if not batch:
                return
            metrics.presence_batch_size.observe(len(batch))
            members = {member.id: member for member, _, _ in batch}
            changes = await self.backend.apply([(member.id, conn_id, status) for member, conn_id, status in batch])
            for member, _, status in batch:
                if status is None:
                    before, after = changes.get(member.id, (None, None))
                    offline = before is not after and after is PresenceStatus.OFFLINE
                    metrics.presence_departures_by_outcome["announced" if offline else "absorbed"].inc()
            await self._announce({member_id: (members[member_id], change) for member_id, change in changes.items()})

    async def _write_periodically(self) -> None:
        while True:
            await self._queued.wait()
            await asyncio.sleep(self.batch_s)   # the tick: what arrives meanwhile joins this batch
            self._queued.clear()
            try:
                await self.flush()
            except Exception as error:   # Redis away: presence is ephemeral; the heartbeat restores it
                log.warning("presence batch not written: %s", error)

    async def _announce(self, changed: dict[int, tuple[Member, Change]]) -> None:
        moved = {member_id: (member, after) for member_id, (member, (before, after)) in changed.items()
                 if before is not after}
        if not moved:
            return
        rooms_of = await self.stores.memberships.room_ids_of_many(list(moved))
        for member_id, (member, after) in moved.items():
            for room_id in rooms_of.get(member_id, ()):
                await self.chat.publish_presence(room_id, {"type": "presence", "room": room_id,
                                                           "member": member.brief(), "status": after.value},
                                                 member_id)
