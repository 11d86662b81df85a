"""The /ws endpoint: handshake checks, the read loop, dispatch through the frame table, and the writer for plain ASGI servers."""

from __future__ import annotations

import asyncio
import logging
import time

from starlette.websockets import WebSocket, WebSocketDisconnect

from realtime import log_context
from realtime import protocol as p
from realtime.auth import authenticate, origin_allowed
from realtime.connection import Connection, ConnectionState, FrameSink
from realtime.frames.table import FrameTable
from realtime.limits.policy import client_ip
from realtime.services import Services
from realtime.session import Session
from realtime.websocket_protocol import SOCKET_EXTENSION
from rooms import metrics
from rooms.errors import ConveneError, RateLimited, StoreUnavailable
from rooms.fanout import dumps
from rooms.models import Member

log = logging.getLogger(__name__)

MAX_STRIKES = 50                        # refusals for flooding before the connection is closed
SLOW_CONSUMER_REASON = "send queue overflow; reconnect and resume"


async def websocket_endpoint(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    # /ws skips the HTTP middleware (realtime/app.py): its request id is given here, and echoed.
    request_id = log_context.request_id_from(websocket.scope.get("headers", []))
    log_context.request_id.set(request_id)
    accept_headers = [(b"x-request-id", request_id.encode())]
    outcomes = metrics.handshake_outcomes
    if not origin_allowed(websocket, services.settings.allowed_origins):
        log.info("refused websocket from origin %.100s", websocket.headers.get("origin"))
        outcomes["forbidden_origin"].inc()
        await websocket.close(code=p.CLOSE_FORBIDDEN_ORIGIN)   # before accept: an HTTP 403
        return
    version = websocket.query_params.get("v", str(p.PROTOCOL_VERSION))
    async with services.hub.admission:
        try:
            member, _ = await authenticate(websocket, services.cookies, services.accounts)
        except StoreUnavailable as error:
            log.warning("handshake refused, store unavailable: %s", type(error.__cause__).__name__)
            outcomes["store_unavailable"].inc()
            await websocket.accept(headers=accept_headers)
            await _refuse(websocket, "store_unavailable", "the service is briefly unavailable; reconnect shortly",
                          p.CLOSE_TRY_AGAIN_LATER)
            return
        await websocket.accept(headers=accept_headers)
        if version != str(p.PROTOCOL_VERSION):
            outcomes["unsupported_version"].inc()
            await _refuse(websocket, "unsupported_version",
                          f"this server speaks protocol version {p.PROTOCOL_VERSION}", p.CLOSE_UNSUPPORTED_VERSION)
            return
        if member is None:
            outcomes["unauthenticated"].inc()
            await _refuse(websocket, "unauthenticated", "log in or send a bearer token", p.CLOSE_UNAUTHENTICATED)
            return
        try:
            await services.limits.connection(member.id, client_ip(websocket))
        except RateLimited as error:
            outcomes["rate_limited"].inc()
            await _refuse(websocket, error.code, error.message, p.CLOSE_RATE_LIMITED, error.retry_after)
            return
        conn, session, writer = _open_session(websocket, services, member)
        outcomes["accepted"].inc()
        opened = time.monotonic()
        try:
            await services.presence.connected(member, conn.id)
        except Exception as error:
            log.warning("presence unavailable for connection %s: %s", conn.id, error)
    try:
        # The read loop runs in this task; a frame in hand (a send being committed) finishes
        # before a close or disconnect is read, so nothing is cut off mid-commit.
        await _read(session, websocket.app.state.frames)
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
        log.info("socket closed after %.1f s", time.monotonic() - opened)


def _open_session(websocket: WebSocket, services: Services, member: Member
                  ) -> tuple[Connection, Session, AsgiWriter | None]:
    """Registers the connection, connects it to its socket and queues the hello frame."""
    settings = services.settings
    sink: FrameSink | None = websocket.scope.get("extensions", {}).get(SOCKET_EXTENSION)
    writer: AsgiWriter | None = None

    def close(code: int, reason: str) -> None:
        if sink is not None:
            sink.close(code, reason)
        elif writer is not None:
            writer.close(code, reason)

    def on_overflow(conn: Connection) -> None:
        metrics.slow_consumer_closes.inc()
        close(p.CLOSE_SLOW_CONSUMER, SLOW_CONSUMER_REASON)

    conn = Connection(member=member, queue_size=settings.send_queue_frames, on_overflow=on_overflow, sink=sink,
                      closer=close)
    if sink is None:
        writer = AsgiWriter(websocket, conn)
    session = Session(websocket, services, conn)
    log_context.connection_id.set(conn.id)   # this task is the socket's read loop: every line it writes
    services.hub.register(conn)
    session.reply({"type": "hello", "protocol": p.PROTOCOL_VERSION, "connection": conn.id,
                   "member": member.brief(),
                   "limits": {"max_frame_bytes": settings.max_frame_bytes,
                              "max_body_chars": settings.max_body_chars,
                              "history_page_max": settings.history_page_max,
                              "message_rate": settings.message_rate,
                              "message_burst": settings.message_burst}}, None)
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
    metrics.count_sent("error")
    await websocket.close(code=close_code)


async def _handle(session: Session, frames: FrameTable, text: str) -> None:
    limit = session.services.settings.max_frame_bytes
    if len(text) > limit:
        raise p.ProtocolError("frame_too_large", f"frames are limited to {limit} bytes")
    session.refuse_flood(session.frames, "too many frames", "socket_frames")
    session.strikes = max(0, session.strikes - 1)
    try:
        frame = frames.parse(text)
    except p.ProtocolError:
        _received["invalid"].inc()
        raise
    _received[frame.type].inc()
    room = getattr(frame, "room", None)
    token = log_context.room.set(room if isinstance(room, int) else None)
    try:
        await frames.handler(frame.type)(session, frame)
    finally:
        log_context.room.reset(token)


class _ReceivedCounters(dict):
    """frames_received's children by type, made on first sight of each type the frame table knows."""

    def __missing__(self, frame_type: str):   # type: ignore[no-untyped-def]
        child = self[frame_type] = metrics.frames_received.labels(frame_type)
        return child


_received = _ReceivedCounters()


async def _read(session: Session, frames: FrameTable) -> None:
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
            await _handle(session, frames, text)
        except p.ProtocolError as error:
            session.reply(p.error_frame(error), error.ref)
        except ConveneError as error:
            ref, room = _ref_and_room(frames, text)
            session.reply(p.error_frame(error, room=room), ref)
        except Exception:
            ref, room = _ref_and_room(frames, text)
            log.exception("connection %s (member %s): a %s frame failed", session.conn.id, session.conn.member.id,
                          _type_of(frames, text))
            session.reply({"type": "error", "code": "internal", "retryable": True,
                           "message": "the server failed on this frame"}, ref)
        if session.conn.state is not ConnectionState.OPEN:
            return
        if session.strikes > MAX_STRIKES:
            await websocket.close(code=p.CLOSE_RATE_LIMITED, reason="rate limit exceeded")
            return


def _type_of(frames: FrameTable, text: str) -> str:
    try:
        return frames.parse(text).type
    except p.ProtocolError:
        return "invalid"


def _ref_and_room(frames: FrameTable, text: str) -> tuple[str | None, int | None]:
    try:
        frame = frames.parse(text)
    except p.ProtocolError:
        return None, None
    return frame.ref, getattr(frame, "room", None)
