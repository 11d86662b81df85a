"""create_app(settings): routes, middleware and the lifespan that builds and tears down the services."""

from __future__ import annotations

import contextlib
import gc
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from realtime.api import auth, emergency, health, members, rooms, webinars
from realtime.api import live_stream, metrics, moderation, search
from realtime.api import media_files, recordings
from realtime.api import attachments
from realtime.api import notifications, push
from realtime.api import members_data
from realtime.api import breakouts, webinar_hosts
from realtime.api.common import error_response
from realtime.pages import accounts as account_pages
from realtime.pages import admin as admin_pages
from realtime.pages import members_data as members_data_pages
from realtime.pages import emergency as emergency_pages
from realtime.pages import help as help_pages
from realtime.pages import notifications as notification_pages
from realtime.pages import moderation as moderation_pages
from realtime.pages import recordings as recording_pages
from realtime.pages import rooms as room_pages
from realtime.pages import search as search_pages
from realtime.pages import shell
from realtime.pages import webinars as webinar_pages
from realtime.pages import webinar_hosts as webinar_host_pages
from realtime.pages.rendering import static_files
from realtime.frames import all_frames
from realtime.gateway import websocket_endpoint
from realtime.log_context import RequestContext, phase
from realtime.logs import configure_logging
from realtime.security import SecurityHeaders
from realtime.services import Services
from realtime.settings import Settings
from rooms.errors import ConveneError


async def _convene_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConveneError)
    return error_response(error)


WEBSOCKET_PATH = "/ws"


class ConveneApp(Starlette):
    """Starlette, with /ws going straight to its endpoint. A socket lives for hours, and each
    layer it passes through (middleware, router, exception wrappers) keeps a coroutine frame alive
    for it: ten thousand sockets, ten layers. None of them acts on a websocket (security headers
    and gzip are HTTP-only; the endpoint handles its own errors)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == scope.get("root_path", "") + WEBSOCKET_PATH:
            scope["app"] = self
            await websocket_endpoint(WebSocket(scope, receive, send))
            return
        await super().__call__(scope, receive, send)


GC_THRESHOLDS = (20_000, 20, 20)   # Python's defaults: (700, 10, 10)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    configure_logging(settings.log_format)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        phase.set("startup")
        services = Services.build(settings)
        await services.start()
        app.state.services = services
        # What startup loaded (modules, compiled queries, templates) lives as long as the process: frozen
        # out of the collector's reach. And young collections run less often: a connect or a message
        # allocates in a burst and frees nearly all of it, and with ten thousand sockets' objects alive
        # the default thresholds collected often enough to cost ~5 % of a connect.
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        try:
            yield
        finally:
            # uvicorn has already closed every socket with 1012 (service restart) by now.
            phase.set("shutdown")
            await services.stop()

    routes = [
        *health.routes, *metrics.routes, *auth.routes, *members.routes, *rooms.routes, *account_pages.routes, *room_pages.routes,
        *shell.routes, *help_pages.routes, *search.routes, *search_pages.routes,
        *emergency.routes, *emergency_pages.routes, *webinars.routes, *webinar_pages.routes,
        *live_stream.routes, *recordings.routes, *media_files.routes, *recording_pages.routes,
        *attachments.routes,
        *notifications.routes, *push.routes, *notification_pages.routes,
        *moderation.routes, *moderation_pages.routes, *admin_pages.routes,
        *members_data.routes, *members_data_pages.routes,
        *webinar_hosts.routes, *breakouts.routes, *webinar_host_pages.routes,
        WebSocketRoute(WEBSOCKET_PATH, websocket_endpoint),
        Mount("/static", static_files(), name="static"),
    ]
    app = ConveneApp(
        routes=routes,
        middleware=[Middleware(RequestContext), Middleware(SecurityHeaders),
                    Middleware(GZipMiddleware, minimum_size=500, compresslevel=6)],
        exception_handlers={ConveneError: _convene_error},
        lifespan=lifespan,
    )
    app.state.frames = all_frames()   # the socket's frame types, each feature's handed to the gateway
    app.state.upload_writers = attachments.Writers()   # resumable uploads' requests reading on this process
    return app

