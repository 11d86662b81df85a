"""One member's socket as the hub sees it: an explicit state and a bounded queue of outgoing frames."""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from dataclasses import dataclass, field
from typing import Callable

from rooms.models import Member

log = logging.getLogger(__name__)


class ConnectionState(str, enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


@dataclass(eq=False)
class Subscription:
    """A connection's place in one room's sequence. It turns live once it has caught up."""

    conn: "Connection"
    room_id: int
    delivered: int
    live: bool = False


@dataclass(eq=False)
class Connection:
    member: Member
    queue_size: int
    on_overflow: Callable[["Connection"], None]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: ConnectionState = ConnectionState.OPEN
    subscriptions: dict[int, Subscription] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=self.queue_size)

    def push(self, text: str) -> bool:
        """Queues a frame without waiting. A full queue means the client stopped reading:
        the connection is closed rather than buffering without bound; it resumes later."""
        if self.state is not ConnectionState.OPEN:
            return False
        try:
            self.outbox.put_nowait(text)
            return True
        except asyncio.QueueFull:
            log.warning("connection %s (member %s) overflowed its send queue", self.id, self.member.id)
            self.state = ConnectionState.CLOSING
            self.on_overflow(self)
            return False

    def push_ephemeral(self, text: str) -> None:
        """Typing and presence may be dropped under pressure; they are not worth a disconnect."""
        if self.state is ConnectionState.OPEN and self.outbox.qsize() < self.queue_size // 2:
            self.outbox.put_nowait(text)

    async def push_waiting(self, text: str, timeout: float) -> bool:
        """Queues a replayed frame, waiting for room: replay is paced by the client's reading."""
        if self.state is not ConnectionState.OPEN:
            return False
        try:
            await asyncio.wait_for(self.outbox.put(text), timeout)
            return True
        except asyncio.TimeoutError:
            self.state = ConnectionState.CLOSING
            self.on_overflow(self)
            return False
