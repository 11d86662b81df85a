"""The member directory and profiles."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import current_member, int_param, json, read_body, services_of
from rooms.accounts import check_display_name
from rooms.errors import NotFound

Tag = Annotated[StrictStr, Field(min_length=1, max_length=40)]


class ProfileChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    display_name: Annotated[StrictStr, Field(min_length=1, max_length=80)] | None = None
    bio: Annotated[StrictStr, Field(max_length=2000)] | None = None
    organisation: Annotated[StrictStr, Field(max_length=120)] | None = None
    country: Annotated[StrictStr, Field(pattern=r"^([A-Z]{2})?$")] | None = None
    languages: Annotated[list[Tag], Field(max_length=20)] | None = None
    practice_areas: Annotated[list[Tag], Field(max_length=20)] | None = None


async def directory(request: Request) -> Response:
    await current_member(request)
    query = request.query_params.get("q", "")[:100]
    limit = int_param(request, "limit", 50, 1, 200)
    offset = int_param(request, "offset", 0, 0, 1_000_000)
    found = await services_of(request).stores.accounts.directory(query, limit, offset)
    return json({"members": [m.public() for m in found]})


async def profile(request: Request) -> Response:
    await current_member(request)
    member_id = request.path_params["member_id"]
    member = await services_of(request).stores.accounts.get(member_id)
    if member is None or member.former:
        raise NotFound("no such member")
    return json({"member": member.public()})


async def me(request: Request) -> Response:
    member = await current_member(request)
    if request.method == "PATCH":
        changes = (await read_body(request, ProfileChanges)).model_dump(exclude_none=True)
        if "display_name" in changes:
            changes["display_name"] = check_display_name(changes["display_name"])
        services = services_of(request)
        member = await services.stores.accounts.update_profile(member.id, changes)
        await services.accounts.revoke_member(member.id)   # cached copies of the old name go, everywhere
    return json({"member": member.public()})


routes = [
    Route("/api/members", directory, methods=["GET"]),
    Route("/api/members/{member_id:int}", profile, methods=["GET"]),
    Route("/api/me", me, methods=["GET", "PATCH"]),
]
