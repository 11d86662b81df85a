"""GET /metrics: this process's Prometheus metrics, for the operator's scraper only.

Without METRICS_TOKEN it answers only on loopback (a scraper on the same host, or a sidecar).
With METRICS_TOKEN set it answers only `Authorization: Bearer $METRICS_TOKEN`, from anywhere: set it
whenever a reverse proxy on the same host would make every visitor look like loopback. Anyone else
gets a plain 404, so the endpoint does not advertise itself.
"""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from realtime.api.common import services_of


def _from_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _allowed(request: Request) -> bool:
    token = services_of(request).settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())
    return _from_loopback(request)


async def metrics(request: Request) -> Response:
    if not _allowed(request):
        return PlainTextResponse("Not Found", status_code=404)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST,
                    headers={"cache-control": "no-store"})


routes = [Route("/metrics", metrics, methods=["GET"])]
