"""Server-rendered pages (jinja2): log in, register, the room list and a room."""

from __future__ import annotations

from starlette.routing import Route

routes: list[Route] = []
