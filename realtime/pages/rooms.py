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


def _seq_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name, "")
    return int(raw) if raw.isdigit() and int(raw) < 2**53 else None


@member_page
async def room_page(request: Request, member: Member) -> Response:
    """The room, newest messages first loaded; or one of its views, each its own URL (so it works without
    JavaScript): `?thread=` a message and its replies, `?mentions=me` what names the reader, `?before=` an
    older stretch (where a search result leads)."""
    services = services_of(request)
    # The room is read before the history, so its last_seq is at most what the history shows:
    # the live view resumes from there and any overlap is dropped by sequence number.
    room, membership = await services.rooms.readable(member, request.path_params["room_id"])
    thread, before = _seq_param(request, "thread"), _seq_param(request, "before")
    mentioning_me = request.query_params.get("mentions") == "me"
    parent = None
    if thread is not None:
        parent, page = await services.chat.thread(member, room.id, thread, None, HISTORY_PAGE)
    else:
        page = await services.chat.history(member, room.id, before, HISTORY_PAGE, mentioning_me=mentioning_me)
    messages = list(reversed(page.events))
    title = room.name
    members = None
    if room.kind is RoomKind.DM:
        members = await services.rooms.members(member, room.id)
        title = ", ".join(m.display_name for m, _ in members if m.id != member.id) or room.name
    pins = await services.conversations.pins(member, room.id)
    shown = messages + ([parent] if parent else [])
    if any(m.reactions for m in shown):
        members = members or await services.rooms.members(member, room.id)
    sidebar = [s for s in await services.rooms.room_list(member) if s.room.kind in (RoomKind.ROOM, RoomKind.DM)]
    mode = "thread" if thread is not None else "mentions" if mentioning_me else "before" if before else ""
    return render(request, "room.html", {
        "section": "/dms" if room.kind is RoomKind.DM else "/rooms",
        **_unread(room.id, membership.read_seq if membership and mode in ("", "before") else None,
                  messages, member, page.has_more),
        "room": room, "title": title, "joined": membership is not None, "sidebar": sidebar,
        "role": membership.role.value if membership else "",
        "is_dm": room.kind is RoomKind.DM, "parent": parent, "thread": thread,
        "mode": mode,
        "before": before, "messages": messages, "has_more": page.has_more, "pins": pins,
        "removed_through": page.marker().get("removed_through", 0),
        # Which shown messages have replies among those shown, for their "replies" link.
        "answered": {m.reply_to for m in messages if m.reply_to is not None},
        "names": {m.id: m.display_name for m, _ in members} if members else {},
        "moderates": member.site_admin or (membership is not None and membership.role.can_moderate),
        "max_body_chars": services.settings.max_body_chars,
    }, member=member)


def _unread(room_id: int, read_seq: int | None, messages: list, member: Member, older: bool) -> dict:
    """Where the "new messages" line goes: before the first message by someone else after the reader's
    read marker. When that message is older than the page shows, the way to it is the stretch of the
    room around it (`?before=`), where the line is drawn too."""
    if read_seq is None:
        return {"unread_at": None, "unread_link": None}
    first = next((m.seq for m in messages if m.seq > read_seq and m.sender_id != member.id), None)
    if first is not None and older and messages[0].seq > read_seq + 1:
        # Messages between the marker and this page are not shown: the line belongs further up.
        return {"unread_at": None, "unread_link": f"/rooms/{room_id}?before={read_seq + 1 + HISTORY_PAGE // 2}#unread"}
    return {"unread_at": first, "unread_link": "#unread" if first is not None else None}


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
    if shown is None or shown.former:
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
