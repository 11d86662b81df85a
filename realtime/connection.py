"""One member's socket as the hub sees it: an explicit state, the socket to write to, and a bounded queue of outgoing frames."""

from __future__ import annotations

import asyncio
import enum
import logging
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Generic, Protocol, TypeVar

from rooms.models import Member

log = logging.getLogger(__name__)


class ConnectionState(str, enum.Enum):
    OPEN = "open"
    CLOSING = "closing"
    CLOSED = "closed"


class FrameSink(Protocol):
    """Where a connection's frames go when the socket can take them at once (the server's
    `convene.socket` extension, realtime/websocket_protocol.py)."""

    on_ready: Callable[[], None] | None    # called when the socket can take frames again

    def ready(self) -> bool: ...

    def write(self, text: str) -> None: ...

    def write_many(self, texts: list[str]) -> None:
        """The frames in order, in one write to the socket (a replay)."""

    def close(self, code: int, reason: str) -> None: ...


@dataclass(eq=False, slots=True)   # slots: one of each per socket, thousands per process
class Subscription:
    """A connection's place in one room's sequence. It turns live once it has caught up."""

    conn: "Connection"
    room_id: int
    delivered: int
    live: bool = False


Item = TypeVar("Item")


class Outbox(Generic[Item]):
    """A socket's bounded queue of outgoing frames: the asyncio.Queue methods its users need, in a
    fraction of the memory (a deque only while frames wait; a future only while someone waits).
    A writer that finds frames queued takes them without suspending, so a burst costs one
    wake-up, not one per frame. (It is also uvicorn's receive queue: realtime/websocket_protocol.py.)"""

    __slots__ = ("maxsize", "_items", "_getter", "_putters")

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._items: deque[Item] | None = None
        self._getter: asyncio.Future[None] | None = None
        self._putters: list[asyncio.Future[None]] | None = None

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return self.qsize() >= self.maxsize

    def put_nowait(self, item: Item) -> None:
        items = self._items
        if items is None:
            items = self._items = deque()
        if len(items) >= self.maxsize:
            raise asyncio.QueueFull
        items.append(item)
        getter = self._getter
        if getter is not None:
            self._getter = None
            if not getter.done():
                getter.set_result(None)

    async def put(self, item: Item) -> None:
        while self.full():
            waiter = asyncio.get_running_loop().create_future()
            if self._putters is None:
                self._putters = []
            self._putters.append(waiter)
            try:
                await waiter
            finally:
                if waiter in self._putters:
                    self._putters.remove(waiter)
        self.put_nowait(item)

    def get_nowait(self) -> Item:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None
        self._wake_putters()
        return item

    async def get(self) -> Item:
        await self._wait_for_items()
        return self.get_nowait()

    async def _wait_for_items(self) -> None:
        while not self._items:
            if self._getter is None or self._getter.done():
                self._getter = asyncio.get_running_loop().create_future()
            await self._getter

    def _wake_putters(self) -> None:
        if self._putters:
            for waiter in self._putters[:self.maxsize - self.qsize()]:
                if not waiter.done():
                    waiter.set_result(None)


@dataclass(eq=False, slots=True)
class Connection:
    """Frames are written straight to the sink while the socket keeps up, and queued in order
    when it does not (or when there is no sink: then a reader drains `outbox`)."""

    member: Member
    queue_size: int
    on_overflow: Callable[["Connection"], None]
    sink: FrameSink | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    state: ConnectionState = ConnectionState.OPEN
    subscriptions: dict[int, Subscription] = field(default_factory=dict)
    # Closes the socket (code, reason); set by the gateway. None for a listener without a socket.
    closer: Callable[[int, str], None] | None = None
    outbox: Outbox[str] = field(init=False)

    def __post_init__(self) -> None:
        self.outbox = Outbox(self.queue_size)
        if self.sink is not None:
            self.sink.on_ready = self.flush

    def _write_now(self, text: str) -> bool:
        sink = self.sink
        if sink is not None and self.outbox.empty() and sink.ready():
            sink.write(text)
            return True
        return False

    def push_many_now(self, texts: list[str]) -> bool:
        """Writes the frames in one go if the socket takes frames right now (a replay after a
        reconnect: dozens of frames in one system call instead of one each); False changes nothing."""
        sink = self.sink
        if self.state is ConnectionState.OPEN and sink is not None and self.outbox.empty() and sink.ready():
            sink.write_many(texts)
            return True
        return False

    def close(self, code: int, reason: str) -> None:
        """Closes the socket from the server's side (a suspended member): nothing more is sent."""
        if self.state is ConnectionState.OPEN:
            self.state = ConnectionState.CLOSING
        if self.closer is not None:
            self.closer(code, reason)

    def flush(self) -> None:
        """Writes what was queued while the socket was busy, until it is busy again."""
        sink = self.sink
        while sink is not None and not self.outbox.empty() and sink.ready():
            sink.write(self.outbox.get_nowait())

    def push(self, text: str) -> bool:
        """Sends a frame without waiting. A full queue means the client stopped reading:
        the connection is closed rather than buffering without bound; it resumes later."""
        if self.state is not ConnectionState.OPEN:
            return False
        if self._write_now(text):
            return True
        try:
            self.outbox.put_nowait(text)
            return True
        except asyncio.QueueFull:
            log.warning("connection %s (member %s) overflowed its send queue", self.id, self.member.id)
            self.state = ConnectionState.CLOSING
            self.on_overflow(self)
            return False

    def push_ephemeral(self, text: str) -> bool:
        """Typing and presence may be dropped under pressure; they are not worth a disconnect.
        Answers whether the frame was written or queued."""
        if self.state is not ConnectionState.OPEN:
            return False
        if self._write_now(text):
            return True
        if self.outbox.qsize() < self.queue_size // 2:
            self.outbox.put_nowait(text)
            return True
        return False

    async def push_waiting(self, text: str, timeout: float) -> bool:
        """Sends a replayed frame, waiting for room: replay is paced by the client's reading."""
        if self.state is not ConnectionState.OPEN:
            return False
        if self._write_now(text):
            return True
        try:
            await asyncio.wait_for(self.outbox.put(text), timeout)
            return True
        except asyncio.TimeoutError:
            self.state = ConnectionState.CLOSING
            self.on_overflow(self)
            return False
