"""The app shell: the service worker, served from the site root, and the static files."""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.pages.rendering import SHELL, STATIC_DIR, static_url


def _service_worker_source() -> str:
    source = (STATIC_DIR / "sw.js").read_text()
    shell = [static_url(name) for name in SHELL]
    version = hashlib.sha256(" ".join(shell).encode()).hexdigest()[:12]
    return source.replace("'__VERSION__'", json.dumps(version)).replace("'__SHELL__'", json.dumps(shell))


async def service_worker(request: Request) -> Response:
    """The service worker, from the site root so that its scope is the whole site. Its text names the
    versioned shell, so a deploy changes it and browsers install the new one."""
    return Response(_service_worker_source(), media_type="text/javascript",
                    headers={"cache-control": "no-cache"})


routes = [Route("/sw.js", service_worker, methods=["GET"])]
