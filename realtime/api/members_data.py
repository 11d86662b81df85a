"""Members' data over HTTP: download everything of one's own, delete one's account, a room's retention."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from realtime.api.common import current_member, json, read_body, services_of
from realtime.limits.policy import client_ip, confirmed_with_backoff
from rooms import metrics


class Deletion(BaseModel):
    model_config = ConfigDict(extra="forbid")
    password: Annotated[StrictStr, Field(min_length=1, max_length=256)]


class RetentionChoice(BaseModel):
    model_config = ConfigDict(extra="forbid")
    days: Annotated[StrictInt, Field(ge=1, lt=2**31)] | None


async def export(request: Request) -> Response:
    """JSON, or a zip of the JSON and the member's files when they have any; streamed as it is read."""
    member = await current_member(request)
    services = services_of(request)
    await services.limits.export(member.id)
    exporter = services.members_data.export
    zipped = await exporter.has_files(member.id)
    metrics.exports_by_format["zip" if zipped else "json"].inc()
    name = f"convene-{member.username}-{date.today().isoformat()}.{'zip' if zipped else 'json'}"
    body = exporter.zipped(member.id) if zipped else exporter.document(member.id)
    return StreamingResponse(body, media_type="application/zip" if zipped else "application/json",
                             headers={"content-disposition": f'attachment; filename="{name}"',
                                      "cache-control": "no-store"})


async def delete_account(request: Request) -> Response:
    """Needs the password: a stolen session alone cannot delete an account. Wrong passwords count like
    failed log-ins (the same back-off)."""
    member = await current_member(request)
    body = await read_body(request, Deletion)
    services = services_of(request)
    report = await confirmed_with_backoff(services.limits, member, client_ip(request),
                                          lambda: services.members_data.deletion.delete(member, body.password))
    response = json({"deleted": True, **report.public()})
    services.cookies.clear(response)
    return response


async def retention(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, RetentionChoice)
    room = await services_of(request).members_data.retention.set_days(member, request.path_params["room_id"],
                                                                      body.days)
    return json(room.public())


routes = [
    Route("/api/me/export", export, methods=["GET"]),
    Route("/api/me", delete_account, methods=["DELETE"]),
    Route("/api/rooms/{room_id:int}/retention", retention, methods=["PUT"]),
]
