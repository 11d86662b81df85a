"""Rooms, membership, direct messages, history and pinned messages over HTTP."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.limits.policy import create_room_limited
from realtime.api.common import current_member, int_param, json, read_body, services_of
from rooms import metrics
from rooms.errors import BadRequest
from rooms.models import Role, Visibility

MemberId = Annotated[StrictInt, Field(gt=0)]


class NewRoom(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    visibility: Literal["public", "private"] = "public"
    topic: Annotated[StrictStr, Field(max_length=500)] = ""


class Invitation(BaseModel):
    member_id: MemberId


class RoleChange(BaseModel):
    role: Literal["owner", "moderator", "member"]


class NewConversation(BaseModel):
    members: Annotated[list[MemberId], Field(min_length=1, max_length=8)]


async def list_rooms(request: Request) -> Response:
    member = await current_member(request)
    services = services_of(request)
    if request.query_params.get("scope") == "public":
        return json({"rooms": [room.public() for room in await services.stores.rooms.public_rooms()]})
    summaries = await services.rooms.room_list(member)
    invited = await services.stores.memberships.invited_rooms(member.id)
    return json({"rooms": [s.public() for s in summaries], "invited": invited})


async def create_room(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, NewRoom)
    services = services_of(request)
    room = await create_room_limited(services.limits, services.rooms, member, body.name,
                                     Visibility(body.visibility), body.topic)
    return json(room.public(), status=201)


async def get_room(request: Request) -> Response:
    member = await current_member(request)
    room, membership = await services_of(request).rooms.readable(member, request.path_params["room_id"])
    data = room.public()
    data["role"] = membership.role.value if membership else None
    return json(data)


async def join(request: Request) -> Response:
    member = await current_member(request)
    room = await services_of(request).rooms.join(member, request.path_params["room_id"])
    return json(room.public())


async def leave(request: Request) -> Response:
    member = await current_member(request)
    await services_of(request).rooms.leave(member, request.path_params["room_id"])
    return Response(status_code=204)


async def invite(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, Invitation)
    await services_of(request).rooms.invite(member, request.path_params["room_id"], body.member_id)
    return Response(status_code=204)


async def room_members(request: Request) -> Response:
    member = await current_member(request)
    services = services_of(request)
    members = await services.rooms.members(member, request.path_params["room_id"])
    statuses = await services.presence.in_room([m.id for m, _ in members])
    return json({"members": [{**m.brief(), "role": role.value, "status": statuses[m.id].value}
                             for m, role in members]})


async def set_role(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, RoleChange)
    await services_of(request).moderation.actions.set_role(member, request.path_params["room_id"],
                                                           request.path_params["member_id"], Role(body.role))
    return Response(status_code=204)


async def remove_member(request: Request) -> Response:
    member = await current_member(request)
    # A kick: the member's live subscriptions end on every process, in public rooms too.
    await services_of(request).moderation.actions.kick(member, request.path_params["room_id"],
                                                       request.path_params["member_id"])
    return Response(status_code=204)


async def open_conversation(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, NewConversation)
    room = await services_of(request).rooms.open_dm(member, body.members)
    return json(room.public(), status=201)


async def messages(request: Request) -> Response:
    """A page of history; `thread` (a message's seq) keeps its replies, `mentions=me` the messages naming the caller."""
    with metrics.history_via["http"].time():
        member = await current_member(request)
        services = services_of(request)
        room_id = request.path_params["room_id"]
        before = request.query_params.get("before")
        limit = int_param(request, "limit", 50, 1, services.settings.history_page_max)
        before_seq = int_param(request, "before", 0, 0, 2**53) if before is not None else None
        mentions = request.query_params.get("mentions")
        if mentions not in (None, "me"):
            raise BadRequest('only "me" is supported', field="mentions")
        data: dict = {}
        if request.query_params.get("thread") is not None:
            thread = int_param(request, "thread", 0, 0, 2**53)
            parent, page = await services.chat.thread(member, room_id, thread, before_seq, limit)
            data.update(thread=thread, parent=parent.frame())
        else:
            page = await services.chat.history(member, room_id, before_seq, limit, mentioning_me=mentions == "me")
        data.update(messages=[event.frame() for event in reversed(page.events)], has_more=page.has_more,
                    **page.marker())
        response = json(data)
    # A member's conversations, like the pages that show them: no HTTP cache keeps a copy.
    response.headers["cache-control"] = "no-store"
    return response


async def pins(request: Request) -> Response:
    member = await current_member(request)
    found = await services_of(request).conversations.pins(member, request.path_params["room_id"])
    response = json({"pins": [pin.public() for pin in found]})
    response.headers["cache-control"] = "no-store"
    return response


routes = [
    Route("/api/rooms", list_rooms, methods=["GET"]),
    Route("/api/rooms", create_room, methods=["POST"]),
    Route("/api/rooms/{room_id:int}", get_room, methods=["GET"]),
    Route("/api/rooms/{room_id:int}/join", join, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/leave", leave, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/invite", invite, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/members", room_members, methods=["GET"]),
    Route("/api/rooms/{room_id:int}/members/{member_id:int}/role", set_role, methods=["POST"]),
    Route("/api/rooms/{room_id:int}/members/{member_id:int}", remove_member, methods=["DELETE"]),
    Route("/api/rooms/{room_id:int}/messages", messages, methods=["GET"]),
    Route("/api/rooms/{room_id:int}/pins", pins, methods=["GET"]),
    Route("/api/dms", open_conversation, methods=["POST"]),
]
