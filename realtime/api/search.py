"""Full-text search over HTTP, with room, sender and date filters and pages."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import int_param, json, member_endpoint, services_of
from rooms.errors import BadRequest
from rooms.models import Member
from rooms.store.search import SearchFilters

MAX_QUERY_CHARS = 200
PAGE = 30


def _day(request: Request, name: str, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD date as an instant in UTC: its start, or (for the end of a range) the next day's."""
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("a date like 2026-12-07", field=name) from None
    return datetime.combine(day + timedelta(days=1 if end else 0), time(), timezone.utc)


def search_filters(request: Request) -> SearchFilters:
    """The filters the API and the search page share: room (id), sender (username), from and to (dates)."""
    room = request.query_params.get("room", "").strip()
    return SearchFilters(room_id=int_param(request, "room", 0, 1, 2**53) if room else None,
                         sender=request.query_params.get("sender", "").strip().lstrip("@")[:32] or None,
                         since=_day(request, "from"), until=_day(request, "to", end=True))


@member_endpoint
async def search(request: Request, member: Member) -> Response:
    query = request.query_params.get("q", "")[:MAX_QUERY_CHARS]
    limit = int_param(request, "limit", PAGE, 1, 100)
    found = await services_of(request).search.search(member, query, search_filters(request),
                                                     int_param(request, "offset", 0, 0, 2**31), limit)
    response = json({"results": [hit.public() for hit in found.hits], "offset": found.offset,
                     "has_more": found.has_more})
    response.headers["cache-control"] = "no-store"
    return response


routes = [Route("/api/search", search, methods=["GET"])]
