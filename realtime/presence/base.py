"""The presence interface: which members are online, away or offline, across all processes.

A member's status is the best status of all their connections, on any process.
Each process refreshes its liveness on a heartbeat; a process that stops doing
so (crashed, killed) has its members reaped by the others within
presence_ttl_s + presence_heartbeat_s.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Iterable

from rooms.models import PresenceStatus

_RANK = {PresenceStatus.OFFLINE: 0, PresenceStatus.AWAY: 1, PresenceStatus.ONLINE: 2}


def aggregate(statuses: Iterable[PresenceStatus]) -> PresenceStatus:
    return max(statuses, key=_RANK.__getitem__, default=PresenceStatus.OFFLINE)


Change = tuple[PresenceStatus, PresenceStatus]   # (before, after) for one member


class PresenceBackend(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def set(self, member_id: int, conn_id: str, status: PresenceStatus) -> Change:
        """Records one connection's status; answers the member's status before and after."""

    @abstractmethod
    async def remove(self, member_id: int, conn_id: str) -> Change: ...

    @abstractmethod
    async def statuses(self, member_ids: list[int]) -> dict[int, PresenceStatus]: ...

    @abstractmethod
    async def heartbeat(self) -> dict[int, Change]:
        """Refreshes this process's liveness and reaps dead processes; answers reaped members' changes."""
