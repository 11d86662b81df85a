"""Liveness and readiness for load balancers and orchestrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import json, services_of


async def healthz(request: Request) -> Response:
    """The process is alive and serving requests."""
    return json({"status": "ok"})


async def readyz(request: Request) -> Response:
    """Store and broker reachable. 503 while either is down, with which one, so a balancer
    can steer new connections elsewhere; existing sockets keep working where they can."""
    state = await services_of(request).readiness()
    return json(state, status=200 if state["ready"] else 503)


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]
