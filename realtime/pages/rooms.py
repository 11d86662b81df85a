"""Chat pages: the room list, a room, conversations (DMs) and the member directory."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.limits.policy import create_room_limited
from realtime.pages.rendering import DIRECTORY_PAGE, HISTORY_PAGE, member_page, read_form, render, see_other
from rooms.errors import BadRequest, ConveneError, NotFound
from rooms.models import Member, RoomKind, Visibility


async def _rooms_page(request: Request, member: Member, error: ConveneError | None = None,
                      values: dict[str, str] | None = None) -> Response:
    services = services_of(request)
    summaries = await services.rooms.room_list(member)
    joined = {summary.room.id for summary in summaries}
    invited = [room for room_id in await services.stores.memberships.invited_rooms(member.id)
               if room_id not in joined and (room := await services.stores.rooms.get(room_id)) is not None]
    public = [room for room in await services.stores.rooms.public_rooms() if room.id not in joined]
    return render(request, "rooms.html", {
        "rooms": [s for s in summaries if s.room.kind is RoomKind.ROOM],
        "dms": [s for s in summaries if s.room.kind is RoomKind.DM],
        "invited": invited, "public": public, "error": error, "values": values or {},
    }, error.http_status if error else 200, member)


@member_page
async def rooms_list(request: Request, member: Member) -> Response:
    return await _rooms_page(request, member)


@member_page
async def new_room(request: Request, member: Member) -> Response:
    form = await read_form(request)
    values = {name: form.get(name, "") for name in ("name", "topic", "visibility")}
    try:
        visibility = Visibility(values["visibility"] or "public")
        services = services_of(request)
        room = await create_room_limited(services.limits, services.rooms, member, values["name"], visibility,
                                         values["topic"])
    except ValueError:
        return await _rooms_page(request, member, BadRequest("choose public or private", field="visibility"),
                                 values)
    except ConveneError as error:
        return await _rooms_page(request, member, error, values)
    return see_other(f"/rooms/{room.id}")


@member_page
async def join_room(request: Request, member: Member) -> Response:
    room = await services_of(request).rooms.join(member, request.path_params["room_id"])
    return see_other(f"/rooms/{room.id}")


@member_page
async def room_page(request: Request, member: Member) -> Response:
    services = services_of(request)
    # The room is read before the history, so its last_seq is at most what the history shows:
    # the live view resumes from there and any overlap is dropped by sequence number.
    room, membership = await services.rooms.readable(member, request.path_params["room_id"])
    page = await services.chat.history(member, room.id, None, HISTORY_PAGE)
    title = room.name
    if room.kind is RoomKind.DM:
        others = [m.display_name for m, _ in await services.rooms.members(member, room.id) if m.id != member.id]
        title = ", ".join(others) or room.name
    return render(request, "room.html", {
        "room": room, "title": title, "joined": membership is not None,
        "is_dm": room.kind is RoomKind.DM,
        "messages": list(reversed(page.events)), "has_more": page.has_more,
        "max_body_chars": services.settings.max_body_chars,
    }, member=member)


@member_page
async def dms_page(request: Request, member: Member) -> Response:
    summaries = await services_of(request).rooms.room_list(member)
    return render(request, "dms.html", {"dms": [s for s in summaries if s.room.kind is RoomKind.DM]}, member=member)


@member_page
async def directory_page(request: Request, member: Member) -> Response:
    query = request.query_params.get("q", "")[:100]
    found = await services_of(request).stores.accounts.directory(query, DIRECTORY_PAGE, 0)
    return render(request, "members.html", {"query": query, "found": found}, member=member)


@member_page
async def profile_page(request: Request, member: Member) -> Response:
    shown = await services_of(request).stores.accounts.get(request.path_params["member_id"])
    if shown is None:
        raise NotFound("no such member")
    return render(request, "profile.html", {"shown": shown}, member=member)


@member_page
async def message_member(request: Request, member: Member) -> Response:
    room = await services_of(request).rooms.open_dm(member, [request.path_params["member_id"]])
    return see_other(f"/rooms/{room.id}")


routes = [
    Route("/rooms", rooms_list, methods=["GET"]),
    Route("/rooms/new", new_room, methods=["POST"]),
    Route("/rooms/{room_id:int}", room_page, methods=["GET"]),
    Route("/rooms/{room_id:int}/join", join_room, methods=["POST"]),
    Route("/dms", dms_page, methods=["GET"]),
    Route("/members", directory_page, methods=["GET"]),
    Route("/members/{member_id:int}", profile_page, methods=["GET"]),
    Route("/members/{member_id:int}/message", message_member, methods=["POST"]),
]
