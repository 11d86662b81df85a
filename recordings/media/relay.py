"""Media signalling between server processes over the broker: requests with correlation ids and timeouts, answers, pushes.

Each process listens on its own channel (`convene:media:<process id>`). A process whose socket
sends media.watch/publish/view/stop for a webinar whose media another process owns sends a
*request* to the owner's channel and waits for the *answer* carrying the same id; the owner's
pushes for that socket (media.publishers, media.stopped, media.moved) come back as *push*
messages naming the socket. Only the broker interface is used (publish, subscribe), so this
works on the in-process broker, one Redis and a Redis Cluster alike.

Every message is signed (HMAC-SHA256 with a key derived from SECRET_KEY, which every process of
a deployment shares) and carries its time: a message that is not signed by a process of this
deployment, older than MAX_AGE_S, or a replay of a request already seen is dropped and counted.
The owner still authorizes every request it runs for the member it names (recordings/media/hub.py):
the signature proves a process of ours sent it, not that the member may do it.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import time
from collections import OrderedDict
from typing import Any, Awaitable, Callable, Protocol

import orjson

from rooms import metrics
from rooms.errors import ConveneError

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "convene:media:"
MAX_AGE_S = 30.0               # older messages are refused (clocks of one deployment agree within this)
OUTGOING = 10_000              # messages waiting for the broker; beyond it a message is dropped
SEEN_REQUESTS = 10_000         # request ids remembered against replays (for MAX_AGE_S)

Handler = Callable[[str, dict], Awaitable[dict]]      # (sending process, request body) -> answer body
PushSink = Callable[[str, dict], None]                # (socket id, frame) -> delivered to the socket here


class Transport(Protocol):
    """What the relay needs of the broker (realtime/broker/base.py)."""

    async def subscribe(self, channel: str) -> None: ...

    async def unsubscribe(self, channel: str) -> None: ...

    async def publish(self, channel: str, data: str) -> None: ...


class RelayError(ConveneError):
    """The owner refused the request: its typed error, carried over the relay as it was."""

    def __init__(self, payload: dict) -> None:
        super().__init__(str(payload.get("message", "")), field=payload.get("field"),
                         retry_after=payload.get("retry_after"))
        self.code = str(payload.get("code", "error"))
        self.retryable = bool(payload.get("retryable", False))


class MediaUnavailable(ConveneError):
    """The process that owns the webinar's media did not answer (it may have died: its lease lapses soon)."""

    code = "media_unavailable"
    http_status = 503
    retryable = True


class OwnerGone(Exception):
    """The process asked stopped owning the webinar's media while we waited: ask whoever owns it now."""


def channel_of(process: str) -> str:
    return CHANNEL_PREFIX + process


class MediaRelay:
    def __init__(self, transport: Transport, me: str, secret: str, timeout_s: float) -> None:
        self.transport = transport
        self.me = me
        self.channel = channel_of(me)
        self.timeout_s = timeout_s
        self._key = hmac.new(secret.encode(), b"convene media relay v1", hashlib.sha256).digest()
        self.handlers: dict[str, Handler] = {}
        self.on_push: PushSink = lambda conn_id, frame: None
        self._pending: dict[str, asyncio.Future[dict]] = {}
        self._ids = itertools.count(1)
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._outgoing: asyncio.Queue[tuple[str, str]] = asyncio.Queue(maxsize=OUTGOING)
        self._sender: asyncio.Task | None = None
        self._tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        await self.transport.subscribe(self.channel)
        self._sender = asyncio.create_task(self._send_forever(), name="media-relay-sender")

    async def stop(self) -> None:
        """Sends what is queued (the last pushes of a closing owner), then stops listening."""
        try:
            await asyncio.wait_for(self._outgoing.join(), timeout=2.0)
        except asyncio.TimeoutError:
            log.warning("media relay: %d message(s) not sent at shutdown", self._outgoing.qsize())
        for task in [self._sender, *self._tasks]:
            if task is not None:
                task.cancel()
        await asyncio.gather(*(t for t in [self._sender, *self._tasks] if t is not None), return_exceptions=True)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(MediaUnavailable("this server is shutting down"))
        try:
            await self.transport.unsubscribe(self.channel)
        except Exception:   # the broker is already away
            pass

    # Sending.

    async def request(self, to: str, op: str, body: dict, *, timeout_s: float | None = None,
                      still_owner: Callable[[], Awaitable[bool]] | None = None, check_every_s: float = 1.0) -> dict:
        """Asks process `to` to run `op`; answers its result or raises its typed error.

        MediaUnavailable after the timeout; OwnerGone as soon as `still_owner` says `to` no longer
        owns the media (it died and its lease lapsed), so the caller need not wait the timeout out."""
        request_id = f"{self.me}/{next(self._ids)}"
        future: asyncio.Future[dict] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        metrics.media_relayed[op].inc()
        deadline = time.monotonic() + (timeout_s or self.timeout_s)
        try:
            self._send(to, {"k": "req", "id": request_id, "op": op, "body": body})
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    metrics.media_relay_failed["timeout"].inc()
                    raise MediaUnavailable("the server that holds this webinar's media did not answer; retry",
                                           retry_after=1.0)
                try:
                    answer = await asyncio.wait_for(asyncio.shield(future), min(left, check_every_s))
                    break
                except asyncio.TimeoutError:
                    if still_owner is not None and not await still_owner():
                        metrics.media_relay_failed["owner_gone"].inc()
                        raise OwnerGone(to) from None
        finally:
            self._pending.pop(request_id, None)
            if not future.done():
                future.cancel()
        if "error" in answer:
            raise RelayError(answer["error"])
        return answer.get("result", {})

    def push(self, to: str, conn_id: str, frame: dict) -> None:
        """Hands a frame to a socket on process `to` (fire and forget, in order)."""
        self._send(to, {"k": "push", "conn": conn_id, "frame": frame})

    def _send(self, to: str, message: dict) -> None:
        message.update(v=1, src=self.me, ts=time.time())
        body = orjson.dumps(message)
        signature = hmac.new(self._key, body, hashlib.sha256).hexdigest()
        try:
            self._outgoing.put_nowait((channel_of(to), f"{signature}.{body.decode()}"))
        except asyncio.QueueFull:
            metrics.media_relay_failed["overflow"].inc()
            log.error("media relay: outgoing queue full; a %s message to %s was dropped", message["k"], to)

    async def _send_forever(self) -> None:
        # One sender: messages leave in the order they were made (media.publishers pushes must not cross).
        while True:
            channel, data = await self._outgoing.get()
            try:
                await self.transport.publish(channel, data)
            except Exception as error:
                metrics.media_relay_failed["broker"].inc()
                log.warning("media relay: publishing to %s failed: %s", channel, error)
            finally:
                self._outgoing.task_done()

    # Receiving (the hub hands every message on our channel here).

    def receive(self, data: str) -> None:
        message = self._verified(data)
        if message is None:
            return
        kind = message.get("k")
        if kind == "res":
            future = self._pending.get(str(message.get("id")))
            if future is not None and not future.done():
                future.set_result(message)
        elif kind == "push":
            frame, conn_id = message.get("frame"), message.get("conn")
            if isinstance(frame, dict) and isinstance(conn_id, str):
                self.on_push(conn_id, frame)
        elif kind == "req":
            task = asyncio.ensure_future(self._answer(message))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _verified(self, data: str) -> dict | None:
        signature, _, body = data.partition(".")
        expected = hmac.new(self._key, body.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            metrics.media_relay_failed["forged"].inc()
            log.warning("media relay: dropped a message with a bad signature")
            return None
        try:
            message = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        now = time.time()
        sent = message.get("ts") if isinstance(message, dict) else None
        if not isinstance(sent, (int, float)) or abs(now - sent) > MAX_AGE_S:
            metrics.media_relay_failed["stale"].inc()
            log.warning("media relay: dropped a stale message")
            return None
        if message.get("k") == "req":
            request_id = str(message.get("id"))
            if request_id in self._seen:
                metrics.media_relay_failed["replayed"].inc()
                log.warning("media relay: dropped a replayed request")
                return None
            self._seen[request_id] = now
            while self._seen and (len(self._seen) > SEEN_REQUESTS or next(iter(self._seen.values())) < now - MAX_AGE_S):
                self._seen.popitem(last=False)
        return message

    async def _answer(self, message: dict) -> None:
        sender, op, body = str(message.get("src")), str(message.get("op")), message.get("body")
        handler = self.handlers.get(op)
        answer: dict[str, Any]
        if handler is None or not isinstance(body, dict):
            answer = {"error": {"code": "bad_request", "message": f"unknown media relay request {op!r}"}}
        else:
            try:
                answer = {"result": await handler(sender, body)}
            except ConveneError as error:
                answer = {"error": error.payload()}
            except Exception:
                log.exception("media relay: %s from %s failed", op, sender)
                answer = {"error": {"code": "internal", "message": "the server failed on this media request",
                                    "retryable": True}}
        self._send(sender, {"k": "res", "id": message.get("id"), **answer})
