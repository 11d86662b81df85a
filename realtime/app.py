"""create_app(settings): routes, middleware and the lifespan that builds and tears down the services."""

from __future__ import annotations

import contextlib
import logging
from typing import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, WebSocketRoute

from realtime import emergency_pages, pages, recording_pages, webinar_pages
from realtime.api import auth, emergency, health, members, rooms, webinars
from realtime.api import live_stream
from realtime.api import media_files, recordings
from realtime.api.common import error_response
from realtime.gateway import websocket_endpoint
from realtime.security import SecurityHeaders
from realtime.services import Services
from realtime.settings import Settings
from rooms.errors import ConveneError

log = logging.getLogger(__name__)


async def _convene_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConveneError)
    return error_response(error)


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings.from_env()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = Services.build(settings)
        await services.start()
        app.state.services = services
        try:
            yield
        finally:
            # uvicorn has already closed every socket with 1012 (service restart) by now.
            await services.stop()

    routes = [
        *health.routes, *auth.routes, *members.routes, *rooms.routes, *pages.routes,
        *emergency.routes, *emergency_pages.routes, *webinars.routes, *webinar_pages.routes,
        *live_stream.routes, *recordings.routes, *media_files.routes, *recording_pages.routes,
        WebSocketRoute("/ws", websocket_endpoint),
        Mount("/static", pages.static_files(), name="static"),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(SecurityHeaders), Middleware(GZipMiddleware, minimum_size=500)],
        exception_handlers={ConveneError: _convene_error},
        lifespan=lifespan,
    )

