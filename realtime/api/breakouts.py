"""Breakout groups over HTTP (the live page's buttons): open, the current round, broadcast, call everyone back.
The same actions are socket frames too (realtime/frames/breakouts.py); both call rooms/webinars/breakouts.py."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import json, member_endpoint, read_body, services_of
from realtime.api.webinars import webinar_id
from rooms.models import Member
from rooms.webinars.breakouts import MAX_GROUP, MAX_GROUPS

MemberId = Annotated[StrictInt, Field(gt=0, lt=2**53)]


class NewBreakout(BaseModel):
    """By hand (`groups`) or at random (`size`); the domain checks the rest (who, how many, how long)."""

    model_config = ConfigDict(extra="forbid")
    groups: Annotated[list[Annotated[list[MemberId], Field(max_length=MAX_GROUP)]],
                      Field(max_length=MAX_GROUPS)] | None = None
    size: StrictInt | None = None
    duration_s: StrictInt
    warning_s: StrictInt | None = None


class Broadcast(BaseModel):
    model_config = ConfigDict(extra="forbid")
    body: Annotated[StrictStr, Field(max_length=4000)]


@member_endpoint
async def breakouts(request: Request, member: Member) -> Response:
    service = services_of(request).webinars.breakouts
    if request.method == "POST":
        body = await read_body(request, NewBreakout)
        opened = await service.open(member, webinar_id(request), groups=body.groups, size=body.size,
                                    duration_s=body.duration_s, warning_s=body.warning_s)
        return json(opened.public(), status=201)
    current = await service.current(member, webinar_id(request))
    return json({"breakout": current.public() if current else None})


@member_endpoint
async def broadcast(request: Request, member: Member) -> Response:
    body = await read_body(request, Broadcast)
    groups = await services_of(request).webinars.breakouts.broadcast(member, webinar_id(request), body.body)
    return json({"groups": groups})


@member_endpoint
async def call_back(request: Request, member: Member) -> Response:
    return json((await services_of(request).webinars.breakouts.close(member, webinar_id(request))).public())


_base = "/api/webinars/{webinar_id:int}/breakouts"
routes = [
    Route(_base, breakouts, methods=["GET", "POST"]),
    Route(_base + "/broadcast", broadcast, methods=["POST"]),
    Route(_base + "/close", call_back, methods=["POST"]),
]
