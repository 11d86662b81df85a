"""Presence kept in this process: the embedded single-process setup."""

from __future__ import annotations

from rooms.models import PresenceStatus
from realtime.presence.base import Change, PresenceBackend, aggregate


class MemoryPresence(PresenceBackend):
    def __init__(self) -> None:
        self._connections: dict[int, dict[str, PresenceStatus]] = {}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._connections.clear()

    def _status(self, member_id: int) -> PresenceStatus:
        return aggregate(self._connections.get(member_id, {}).values())

    async def set(self, member_id: int, conn_id: str, status: PresenceStatus) -> Change:
        before = self._status(member_id)
        self._connections.setdefault(member_id, {})[conn_id] = status
        return before, self._status(member_id)

    async def remove(self, member_id: int, conn_id: str) -> Change:
        before = self._status(member_id)
        conns = self._connections.get(member_id, {})
        conns.pop(conn_id, None)
        if not conns:
            self._connections.pop(member_id, None)
        return before, self._status(member_id)

    async def statuses(self, member_ids: list[int]) -> dict[int, PresenceStatus]:
        return {member_id: self._status(member_id) for member_id in member_ids}

    async def heartbeat(self) -> dict[int, Change]:
        return {}
