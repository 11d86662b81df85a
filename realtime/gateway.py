"""The /ws endpoint: handshake checks, the read loop, frame dispatch and the paced writer."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Awaitable, Callable

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime import emergency_frames, media_frames
from realtime import protocol as p
from realtime.auth import authenticate, origin_allowed
from realtime.connection import Connection, ConnectionState, FrameSink
from realtime.limits.policy import client_ip
from realtime.ratelimit import TokenBucket
from realtime.services import Services
from realtime.websocket_protocol import SOCKET_EXTENSION
from rooms.errors import BadRequest, ConveneError, RateLimited, StoreUnavailable
from rooms.fanout import dumps
from rooms.models import Member, PresenceStatus

log = logging.getLogger(__name__)

MAX_STRIKES = 50                        # refusals for flooding before the connection is closed
SLOW_CONSUMER_REASON = "send queue overflow; reconnect and resume"


class Session:
    """One accepted socket: its connection in the hub, its limits and its handlers."""

    # Chat frames are dispatched by method name; emergency and media frames' handlers are built
    # for the few sessions that use them (a session is kept for every socket, thousands per process).
    CHAT_HANDLERS = {"subscribe": "on_subscribe", "unsubscribe": "on_unsubscribe", "send": "on_send",
                     "edit": "on_edit", "delete": "on_delete", "history": "on_history", "typing": "on_typing",
                     "read": "on_read", "presence": "on_presence", "who": "on_who", "ping": "on_ping"}

    def __init__(self, websocket: WebSocket, services: Services, conn: Connection) -> None:
        self.ws = websocket
        self.services = services
        self.conn = conn
        settings = services.settings
        self.frames = TokenBucket(settings.frame_rate, settings.frame_burst)
        self.messages = TokenBucket(settings.message_rate, settings.message_burst)
        self.typing_at: dict[int, float] = {}
        self.strikes = 0
        self.other_handlers: dict[str, Callable[..., Awaitable[None]]] | None = None

    def handler(self, frame_type: str) -> Callable[..., Awaitable[None]]:
        name = self.CHAT_HANDLERS.get(frame_type)
        if name is not None:
            return getattr(self, name)
        if self.other_handlers is None:
            self.other_handlers = {**emergency_frames.handlers(self), **media_frames.handlers(self)}
        return self.other_handlers[frame_type]

    def reply(self, frame: dict, ref: str | None) -> None:
        if ref is not None:
            frame["ref"] = ref
        self.conn.push(dumps(frame))

    async def handle(self, text: str) -> None:
        if len(text) > self.services.settings.max_frame_bytes:
            raise p.ProtocolError("frame_too_large",
                                  f"frames are limited to {self.services.settings.max_frame_bytes} bytes")
        wait = self.frames.take()
        if wait is not None:
            self.strikes += 1
            raise RateLimited("too many frames", retry_after=wait)
        self.strikes = max(0, self.strikes - 1)
        frame = p.parse(text)
        await self.handler(frame.type)(frame)

    async def on_subscribe(self, frame: p.Subscribe) -> None:
        if frame.room not in self.conn.subscriptions and \
                len(self.conn.subscriptions) >= self.services.settings.max_subscriptions:
            raise BadRequest("too many subscriptions on one connection", field="room")
        room, _ = await self.services.rooms.readable(self.conn.member, frame.room)
        live_from = await self.services.hub.subscribe(self.conn, room, frame.since)
        self.reply({"type": "subscribed", "room": room.id, "last_seq": live_from}, frame.ref)

    async def on_unsubscribe(self, frame: p.Unsubscribe) -> None:
        await self.services.hub.unsubscribe(self.conn, frame.room)
        self.reply({"type": "unsubscribed", "room": frame.room, "reason": "requested"}, frame.ref)

    async def _take_message_token(self) -> None:
        wait = self.messages.take()
        if wait is not None:
            self.strikes += 1
            raise RateLimited("you are sending too fast", retry_after=wait)
        # Shared with the member's other connections and everyone at the same address.
        await self.services.limits.message(self.conn.member.id, client_ip(self.ws))

    async def on_send(self, frame: p.Send) -> None:
        await self._take_message_token()
        event, created = await self.services.chat.send(self.conn.member, frame.room, frame.client_id, frame.body)
        self.reply({"type": "ack", "room": event.room_id, "client_id": event.client_id, "seq": event.seq,
                    "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)

    async def on_edit(self, frame: p.Edit) -> None:
        await self._take_message_token()
        event = await self.services.chat.edit(self.conn.member, frame.room, frame.target, frame.body)
        self.reply({"type": "ack", "room": event.room_id, "seq": event.seq,
                    "ts": event.created_at.isoformat()}, frame.ref)

    async def on_delete(self, frame: p.Delete) -> None:
        await self._take_message_token()
        event = await self.services.chat.delete(self.conn.member, frame.room, frame.target)
        self.reply({"type": "ack", "room": event.room_id, "seq": event.seq,
                    "ts": event.created_at.isoformat()}, frame.ref)

    async def on_history(self, frame: p.History) -> None:
        limit = min(frame.limit, self.services.settings.history_page_max)
        page = await self.services.chat.history(self.conn.member, frame.room, frame.before, limit,
                                                subscribed=frame.room in self.conn.subscriptions)
        self.reply({"type": "history", "room": frame.room,
                    "messages": [event.frame() for event in reversed(page.events)],
                    "has_more": page.has_more}, frame.ref)

    async def on_typing(self, frame: p.Typing) -> None:
        now = time.monotonic()
        interval = self.services.settings.typing_interval_s
        if frame.active and now - self.typing_at.get(frame.room, -interval) < interval:
            return   # throttled silently: typing is a hint, not a request
        self.typing_at[frame.room] = now if frame.active else -interval
        await self.services.chat.typing(self.conn.member, frame.room, frame.active)

    async def on_read(self, frame: p.Read) -> None:
        stored = await self.services.chat.mark_read(self.conn.member, frame.room, frame.seq)
        self.reply({"type": "read", "room": frame.room, "seq": stored}, frame.ref)

    async def on_presence(self, frame: p.SetPresence) -> None:
        await self.services.presence.set_status(self.conn.member, self.conn.id, PresenceStatus(frame.status))
        self.reply({"type": "presence.set", "status": frame.status}, frame.ref)

    async def on_who(self, frame: p.Who) -> None:
        members = await self.services.rooms.members(self.conn.member, frame.room)
        statuses = await self.services.presence.in_room([m.id for m, _ in members])
        present = [{**m.brief(), "status": statuses[m.id].value} for m, _ in members
                   if statuses.get(m.id, PresenceStatus.OFFLINE) is not PresenceStatus.OFFLINE]
        self.reply({"type": "who", "room": frame.room, "members": present}, frame.ref)

    async def on_ping(self, frame: p.Ping) -> None:
        self.reply({"type": "pong"}, frame.ref)


async def websocket_endpoint(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    if not origin_allowed(websocket, services.settings.allowed_origins):
        log.info("refused websocket from origin %s", websocket.headers.get("origin"))
        await websocket.close(code=p.CLOSE_FORBIDDEN_ORIGIN)   # before accept: an HTTP 403
        return
    version = websocket.query_params.get("v", str(p.PROTOCOL_VERSION))
    async with services.hub.admission:
        try:
            member, _ = await authenticate(websocket, services.cookies, services.accounts)
        except StoreUnavailable as error:
            log.warning("handshake refused, store unavailable: %r", error.__cause__)
            await websocket.accept()
            await _refuse(websocket, "store_unavailable", "the service is briefly unavailable; reconnect shortly",
                          p.CLOSE_TRY_AGAIN_LATER)
            return
        await websocket.accept()
        if version != str(p.PROTOCOL_VERSION):
            await _refuse(websocket, "unsupported_version",
                          f"this server speaks protocol version {p.PROTOCOL_VERSION}", p.CLOSE_UNSUPPORTED_VERSION)
            return
        if member is None:
            await _refuse(websocket, "unauthenticated", "log in or send a bearer token", p.CLOSE_UNAUTHENTICATED)
            return
        try:
            await services.limits.connection(member.id, client_ip(websocket))
        except RateLimited as error:
            await _refuse(websocket, error.code, error.message, p.CLOSE_RATE_LIMITED, error.retry_after)
            return
        conn, session, writer = _open_session(websocket, services, member)
        try:
            await services.presence.connected(member, conn.id)
        except Exception as error:
            log.warning("presence unavailable for connection %s: %s", conn.id, error)
    try:
        # The read loop runs in this task; a frame in hand (a send being committed) finishes
        # before a close or disconnect is read, so nothing is cut off mid-commit.
        await _read(session)
    finally:
        conn.state = ConnectionState.CLOSED
        if conn.sink is not None:
            conn.sink.on_ready = None
        if writer is not None:
            await writer.stop()
        await services.hub.unregister(conn)
        try:
            await services.presence.disconnected(member, conn.id)
        except Exception as error:
            log.warning("presence unavailable at disconnect of %s: %s", conn.id, error)


def _open_session(websocket: WebSocket, services: Services, member: Member
                  ) -> tuple[Connection, Session, AsgiWriter | None]:
    """Registers the connection, connects it to its socket and queues the hello frame."""
    settings = services.settings
    sink: FrameSink | None = websocket.scope.get("extensions", {}).get(SOCKET_EXTENSION)
    writer: AsgiWriter | None = None

    def on_overflow(conn: Connection) -> None:
        if sink is not None:
            sink.close(p.CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)
        elif writer is not None:
            writer.close(p.CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    conn = Connection(member=member, queue_size=settings.send_queue_frames, on_overflow=on_overflow, sink=sink)
    if sink is None:
        writer = AsgiWriter(websocket, conn)
    session = Session(websocket, services, conn)
    services.hub.register(conn)
    conn.push(dumps({"type": "hello", "protocol": p.PROTOCOL_VERSION, "connection": conn.id,
                     "member": member.brief(),
                     "limits": {"max_frame_bytes": settings.max_frame_bytes,
                                "max_body_chars": settings.max_body_chars,
                                "history_page_max": settings.history_page_max,
                                "message_rate": settings.message_rate,
                                "message_burst": settings.message_burst}}))
    return conn, session, writer


class AsgiWriter:
    """For servers without the `convene.socket` extension: a task writes the outbox through ASGI."""

    def __init__(self, websocket: WebSocket, conn: Connection) -> None:
        self.websocket = websocket
        self.conn = conn
        self.task = asyncio.create_task(self._run(), name=f"ws-writer-{conn.id}")
        self.closing: asyncio.Task | None = None

    async def _run(self) -> None:
        while True:
            text = await self.conn.outbox.get()
            await self.websocket.send_text(text)

    def close(self, code: int, reason: str) -> None:
        """Stops writing and closes the socket, which ends the read loop."""
        self.task.cancel()
        self.closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.websocket.close(code=code, reason=reason)
        except Exception:
            pass

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, *([self.closing] if self.closing else []), return_exceptions=True)


async def _refuse(websocket: WebSocket, code: str, message: str, close_code: int,
                  retry_after: float | None = None) -> None:
    frame = {"type": "error", "code": code, "message": message}
    if retry_after is not None:
        frame["retry_after"] = round(retry_after, 3)
    await websocket.send_text(dumps(frame))
    await websocket.close(code=close_code)


async def _read(session: Session) -> None:
    websocket = session.ws
    while True:
        try:
            message = await websocket.receive()
        except (WebSocketDisconnect, RuntimeError):
            return
        if message["type"] == "websocket.disconnect":
            return
        text = message.get("text")
        if text is None:
            data = message.get("bytes") or b""
            try:
                text = data.decode()
            except UnicodeDecodeError:
                text = "\x00"   # fails JSON parsing below with a typed error
        try:
            await session.handle(text)
        except p.ProtocolError as error:
            session.conn.push(dumps(p.error_frame(error, ref=error.ref)))
        except ConveneError as error:
            ref, room = _ref_and_room(text)
            session.conn.push(dumps(p.error_frame(error, ref=ref, room=room)))
        except Exception:
            log.exception("connection %s (member %s): frame failed", session.conn.id, session.conn.member.id)
            ref, room = _ref_and_room(text)
            session.conn.push(dumps({"type": "error", "code": "internal", "retryable": True,
                                     "message": "the server failed on this frame", **({"ref": ref} if ref else {})}))
        if session.conn.state is not ConnectionState.OPEN:
            return
        if session.strikes > MAX_STRIKES:
            await websocket.close(code=p.CLOSE_RATE_LIMITED, reason="rate limit exceeded")
            return


def _ref_and_room(text: str) -> tuple[str | None, int | None]:
    try:
        frame = p.parse(text)
    except p.ProtocolError:
        return None, None
    return frame.ref, getattr(frame, "room", None)
