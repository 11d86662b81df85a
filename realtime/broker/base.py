"""The broker interface: fan-out of room traffic between server processes.

Pub/sub is only the fast path. It may lose messages (a Redis restart, a full
queue); the hub repairs any gap from the store, so a broker needs to be fast,
not reliable. next_published() answers RESYNC whenever messages may have been
lost, and the hub then checks every room it serves against the store.
"""

from __future__ import annotations

import asyncio
import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass

from rooms import metrics


class BrokerState(str, enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTED = "connected"
    DEGRADED = "degraded"   # lost its connection and is reconnecting


@dataclass(frozen=True)
class Published:
    channel: str
    data: str


class _Resync:
    def __repr__(self) -> str:
        return "RESYNC"


RESYNC = _Resync()


class BrokerUnavailable(Exception):
    """Publishing failed; the event is durable in the store and gap repair will deliver it."""


class Broker(ABC):
    state: BrokerState = BrokerState.DISCONNECTED

    def __init__(self, queue_size: int = 10_000) -> None:
        self._inbox: asyncio.Queue[Published | _Resync] = asyncio.Queue(maxsize=queue_size)
        self._overflowed = False

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def disconnect(self) -> None: ...

    @abstractmethod
    async def subscribe(self, channel: str) -> None: ...

    @abstractmethod
    async def unsubscribe(self, channel: str) -> None: ...

    @abstractmethod
    async def publish(self, channel: str, data: str) -> None: ...

    async def cluster_state(self) -> dict | None:
        """A Redis Cluster's own view of its health, for /readyz; None for other backends."""
        return None

    async def next_published(self) -> Published | _Resync:
        if self._overflowed:
            self._overflowed = False
            metrics.broker_resyncs.inc()
            return RESYNC
        item = await self._inbox.get()
        if item is RESYNC:
            metrics.broker_resyncs.inc()
        return item

    def _receive(self, item: Published | _Resync) -> None:
        """Adapters hand incoming messages here. A full inbox drops them and asks for a resync,
        so a stalled hub cannot grow memory without bound."""
        try:
            self._inbox.put_nowait(item)
        except asyncio.QueueFull:
            self._overflowed = True
