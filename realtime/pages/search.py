"""The search page: the member's messages by words, room, sender and dates, with the matches marked."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.api.search import MAX_QUERY_CHARS, search_filters
from realtime.pages.rendering import member_page, render
from rooms.models import Member, RoomKind
from rooms.search import snippet

PAGE = 20


@member_page
async def search_page(request: Request, member: Member) -> Response:
    services = services_of(request)
    query = request.query_params.get("q", "")[:MAX_QUERY_CHARS]
    filters = search_filters(request)
    offset = int(request.query_params.get("offset", "0")) if request.query_params.get("offset", "").isdigit() else 0
    found = await services.search.search(member, query, filters, offset, PAGE) if query.strip() else None
    summaries = await services.rooms.room_list(member)
    rooms = [(s.room.id, ", ".join(s.member_names) if s.room.kind is RoomKind.DM and s.member_names else s.room.name)
             for s in summaries]
    values = {name: request.query_params.get(name, "")[:MAX_QUERY_CHARS] for name in ("q", "room", "sender", "from", "to")}

    def page_url(at: int) -> str:
        return "/search?" + urlencode({**{k: v for k, v in values.items() if v}, "offset": at})

    return render(request, "search.html", {
        "query": query, "values": values, "rooms": rooms, "found": found,
        "results": [(hit, snippet(hit.body, hit.highlights)) for hit in found.hits] if found else [],
        "newer_url": page_url(max(0, found.offset - PAGE)) if found and found.offset else None,
        "older_url": page_url(found.offset + PAGE) if found and found.has_more else None,
    }, member=member)


routes = [Route("/search", search_page, methods=["GET"])]
