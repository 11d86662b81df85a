"""For a webinar's hosts over HTTP: co-hosts (the creator adds and removes them) and the summary after the webinar."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import json, member_endpoint, read_body, services_of
from realtime.api.webinars import Target, webinar_id
from rooms.models import Member


@member_endpoint
async def hosts(request: Request, member: Member) -> Response:
    service = services_of(request).webinars.hosts
    if request.method == "POST":
        body = await read_body(request, Target)
        changed = await service.add(member, webinar_id(request), body.member_id)
        return json({"member_id": body.member_id, "host": True, "changed": changed})
    return json({"hosts": [m.brief() for m in await service.hosts(member, webinar_id(request))],
                 "can_manage": await service.may_manage(member, webinar_id(request))})


@member_endpoint
async def remove_host(request: Request, member: Member) -> Response:
    member_id = request.path_params["member_id"]
    changed = await services_of(request).webinars.hosts.remove(member, webinar_id(request), member_id)
    return json({"member_id": member_id, "host": False, "changed": changed})


@member_endpoint
async def summary(request: Request, member: Member) -> Response:
    return json((await services_of(request).webinars.summaries.summary(member, webinar_id(request))).public())


@member_endpoint
async def summary_csv(request: Request, member: Member) -> Response:
    text = await services_of(request).webinars.summaries.export(member, webinar_id(request))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="webinar-{webinar_id(request)}-summary.csv"'})


_base = "/api/webinars/{webinar_id:int}"
routes = [
    Route(_base + "/hosts", hosts, methods=["GET", "POST"]),
    Route(_base + "/hosts/{member_id:int}", remove_host, methods=["DELETE"]),
    Route(_base + "/summary", summary, methods=["GET"]),
    Route(_base + "/summary.csv", summary_csv, methods=["GET"]),
]
