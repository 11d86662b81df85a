"""The keyboard shortcuts screen: a page of its own (linked from every page's header), which chat.js also
shows in a dialog when `?` is pressed."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.pages.rendering import current_member, page, render


@page
async def keyboard_page(request: Request) -> Response:
    return render(request, "keyboard.html", {}, member=await current_member(request))


routes = [Route("/keyboard", keyboard_page, methods=["GET"])]
