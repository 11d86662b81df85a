"""What a log line is about: the request, socket, member and room in hand, kept in context variables.

The HTTP middleware below and the websocket gateway set them (per request, per socket, per frame);
every log record then carries them (realtime/logs.py). asyncio copies context variables into the
tasks and threads (`asyncio.to_thread`) a request starts, so work done on its behalf is tagged
too. Work the process does by itself (start-up, background loops) is tagged by its task's name.
"""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
connection_id: ContextVar[str | None] = ContextVar("connection_id", default=None)
member_id: ContextVar[int | None] = ContextVar("member_id", default=None)
room: ContextVar[int | None] = ContextVar("room", default=None)
# The process's own phase when no named task is running: "startup", "shutdown".
phase: ContextVar[str | None] = ContextVar("phase", default=None)

REQUEST_ID_HEADER = "x-request-id"
# A client's id is kept only when it is a short, plain token: anything else (long, spaced, odd
# characters) could smuggle text into the logs, so it is replaced by one of ours.
_SANE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_ROOM_IN_PATH = re.compile(r"/rooms/(\d{1,18})(?:/|$)")


def new_request_id() -> str:
    return secrets.token_hex(8)


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is sane, else a fresh one."""
    for name, value in headers:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if _SANE_ID.match(given) else new_request_id()
    return new_request_id()


def room_in_path(path: str) -> int | None:
    found = _ROOM_IN_PATH.search(path)
    return int(found.group(1)) if found else None


class RequestContext:
    """Gives every HTTP request a request id (echoed as X-Request-ID) and the room its path names.
    The variables are not reset at the end: each request runs in its own task, and uvicorn's
    access and error lines for it are written from that task, after the app has returned."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        rid = request_id_from(scope.get("headers", []))
        request_id.set(rid)
        room.set(room_in_path(scope.get("path", "")))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = rid
            await send(message)

        await self.app(scope, receive, send_with_id if scope["type"] == "http" else send)
