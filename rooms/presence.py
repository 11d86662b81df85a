"""Who is present: connection status in, presence frames out to the rooms a member shares."""

from __future__ import annotations

import logging

from realtime.presence.base import Change, PresenceBackend
from rooms.models import Member, PresenceStatus
from rooms.service import ChatService
from rooms.store import Stores

log = logging.getLogger(__name__)


class PresenceService:
    def __init__(self, backend: PresenceBackend, stores: Stores, chat: ChatService) -> None:
        self.backend = backend
        self.stores = stores
        self.chat = chat

    async def connected(self, member: Member, conn_id: str) -> None:
        await self._announce_if_changed(member.id, await self.backend.set(member.id, conn_id, PresenceStatus.ONLINE))

    async def set_status(self, member: Member, conn_id: str, status: PresenceStatus) -> None:
        await self._announce_if_changed(member.id, await self.backend.set(member.id, conn_id, status))

    async def disconnected(self, member: Member, conn_id: str) -> None:
        await self._announce_if_changed(member.id, await self.backend.remove(member.id, conn_id))

    async def heartbeat(self) -> None:
        for member_id, change in (await self.backend.heartbeat()).items():
            await self._announce_if_changed(member_id, change)

    async def in_room(self, member_ids: list[int]) -> dict[int, PresenceStatus]:
        return await self.backend.statuses(member_ids)

    async def _announce_if_changed(self, member_id: int, change: Change) -> None:
        before, after = change
        if before is after:
            return
        member = await self.stores.accounts.get(member_id)
        if member is None:
            return
        for room_id in await self.stores.memberships.room_ids_of(member_id):
            await self.chat.publish_presence(room_id, {"type": "presence", "room": room_id,
                                                       "member": member.brief(), "status": after.value},
                                             member_id)
