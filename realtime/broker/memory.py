"""In-process broker for the embedded single-process setup."""

from __future__ import annotations

from realtime.broker.base import Broker, BrokerState, Published


class MemoryBroker(Broker):
    def __init__(self, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        self._channels: set[str] = set()

    async def connect(self) -> None:
        self.state = BrokerState.CONNECTED

    async def disconnect(self) -> None:
        self.state = BrokerState.DISCONNECTED

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)

    async def publish(self, channel: str, data: str) -> None:
        if channel in self._channels:
            self._receive(Published(channel, data))
