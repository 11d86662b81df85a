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

    async def apply(self, changes: list[tuple[int, str, PresenceStatus | None]]) -> dict[int, Change]:
        """Records many connections' changes in order (a status, or None: the connection is gone) in as
        few round trips as the backend allows; answers each member's status before the first and after
        the last of their changes."""
        found: dict[int, Change] = {}
        for member_id, conn_id, status in changes:
            before, after = await (self.remove(member_id, conn_id) if status is None
                                   else self.set(member_id, conn_id, status))
            found[member_id] = (found[member_id][0] if member_id in found else before, after)
        return found

    @abstractmethod
    async def statuses(self, member_ids: list[int]) -> dict[int, PresenceStatus]: ...

    @abstractmethod
    async def heartbeat(self) -> dict[int, Change]:
        """Refreshes this process's liveness and reaps dead processes; answers reaped members' changes."""
