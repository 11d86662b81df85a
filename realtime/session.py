"""One accepted socket's state beside its hub connection: the services it acts through, its flood limits and its replies.

Frame handlers (realtime/frames/) receive the session; the gateway owns its life.
"""

from __future__ import annotations

from typing import Any, Callable, TypeVar

from starlette.websockets import WebSocket

from realtime.connection import Connection
from realtime.limits.policy import client_ip
from realtime.ratelimit import TokenBucket
from realtime.services import Services
from rooms import metrics
from rooms.errors import RateLimited
from rooms.fanout import dumps

T = TypeVar("T")


class Session:
    """Kept for every socket (thousands per process), so it holds only what every socket uses;
    a feature's own per-socket state goes in `extension`, made the first time it is asked for."""

    __slots__ = ("ws", "services", "conn", "frames", "messages", "typing_at", "strikes", "_extensions")

    def __init__(self, websocket: WebSocket, services: Services, conn: Connection) -> None:
        self.ws = websocket
        self.services = services
        self.conn = conn
        settings = services.settings
        self.frames = TokenBucket(settings.frame_rate, settings.frame_burst)
        self.messages = TokenBucket(settings.message_rate, settings.message_burst)
        self.typing_at: dict[int, float] = {}
        self.strikes = 0
        self._extensions: dict[str, Any] | None = None

    def extension(self, name: str, make: Callable[[], T]) -> T:
        if self._extensions is None:
            self._extensions = {}
        value = self._extensions.get(name)
        if value is None:
            value = self._extensions[name] = make()
        return value

    def reply(self, frame: dict, ref: str | None) -> None:
        """Sends one frame to this socket (a reply, an error, a notice) and counts it by type."""
        if ref is not None:
            frame["ref"] = ref
        if self.conn.push(dumps(frame)):
            metrics.count_sent(frame["type"])

    def refuse_flood(self, bucket: TokenBucket, message: str, limit: str) -> None:
        """Takes a token from one of this socket's buckets; an empty bucket is a strike and a typed refusal.
        `limit` names the bucket on /metrics (rooms/metrics.py RATE_LIMITS)."""
        wait = bucket.take()
        if wait is not None:
            self.strikes += 1
            metrics.rate_limit_by_name[limit].inc()
            raise RateLimited(message, retry_after=wait)

    async def take_message_token(self) -> None:
        """Every write (a message, an edit, a reaction…) costs a message token, here and across the
        member's other connections and everyone at the same address."""
        self.refuse_flood(self.messages, "you are sending too fast", "socket_messages")
        await self.services.limits.message(self.conn.member.id, client_ip(self.ws))
