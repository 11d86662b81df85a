"""Pages for a webinar's hosts: the creator's co-host forms, and the summary after the webinar (with its CSV link)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.api.webinars import webinar_id as _id
from realtime.pages.rendering import member_page, render, see_other
from realtime.pages.webinars import member_named
from rooms.models import Member

CHART_WIDTH, CHART_HEIGHT = 600, 80


@member_page
async def add_host(request: Request, member: Member) -> Response:
    await services_of(request).webinars.hosts.add(member, _id(request), await member_named(request))
    return see_other(f"/webinars/{_id(request)}")


@member_page
async def remove_host(request: Request, member: Member) -> Response:
    await services_of(request).webinars.hosts.remove(member, _id(request), request.path_params["member_id"])
    return see_other(f"/webinars/{_id(request)}")


@member_page
async def summary_page(request: Request, member: Member) -> Response:
    summary = await services_of(request).webinars.summaries.summary(member, _id(request))
    return render(request, "webinar_summary.html", {
        "webinar": summary.webinar, "summary": summary, "peak": summary.peak,
        "polls": [(p.question, list(zip(p.options, p.counts)), sum(p.counts)) for p in summary.polls],
        "chart": _chart(summary.concurrency), "chart_size": (CHART_WIDTH, CHART_HEIGHT)}, member=member)


def _chart(concurrency: tuple[tuple[datetime, int], ...]) -> str:
    """Viewers over time as the points of an SVG polyline (drawn by the page: no script, a few hundred bytes)."""
    if len(concurrency) < 2:
        return ""
    first, last = concurrency[0][0], concurrency[-1][0]
    span = (last - first).total_seconds() or 1.0
    peak = max(n for _, n in concurrency) or 1
    return " ".join(f"{(at - first).total_seconds() / span * CHART_WIDTH:.0f},"
                    f"{CHART_HEIGHT - n / peak * (CHART_HEIGHT - 4):.0f}" for at, n in concurrency)


_base = "/webinars/{webinar_id:int}"
routes = [
    Route(_base + "/hosts", add_host, methods=["POST"]),
    Route(_base + "/hosts/{member_id:int}/remove", remove_host, methods=["POST"]),
    Route(_base + "/summary", summary_page, methods=["GET"]),
]
