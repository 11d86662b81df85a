"""Moderation pages: reporting a message, and a room's moderation queue (reports, mutes, bans, slow mode).

They work without JavaScript: every action is a small form posted back to the page. The rules are
rooms/moderation's, the same as the JSON API's (realtime/api/moderation.py).
"""

from __future__ import annotations

from typing import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.pages.rendering import member_page, read_form, render, see_other
from rooms.errors import BadRequest, ConveneError, NotFound
from rooms.models import EventKind, Member
from rooms.moderation.models import ReportStatus, Resolution, Restriction

HANDLED_SHOWN = 50


def _room(request: Request) -> int:
    return request.path_params["room_id"]


def _minutes(form: dict[str, str], required: bool) -> int | None:
    raw = form.get("minutes", "").strip()
    if not raw:
        if required:
            raise BadRequest("say for how many minutes", field="minutes")
        return None
    if not raw.isdigit():
        raise BadRequest("a whole number of minutes", field="minutes")
    return int(raw)


async def _queue_page(request: Request, member: Member, error: ConveneError | None = None) -> Response:
    moderation = services_of(request).moderation
    room_id = _room(request)
    seat = await moderation.authority.seat(member, room_id)
    reports = moderation.reports
    return render(request, "moderation.html", {
        "room": seat.room, "error": error,
        "open": await reports.queue(member, room_id, ReportStatus.OPEN),
        "handled": [r for r in await reports.queue(member, room_id, None)
                    if r.status is not ReportStatus.OPEN][:HANDLED_SHOWN],
        "mutes": await moderation.restrictions.active(member, room_id, Restriction.MUTE),
        "bans": await moderation.restrictions.active(member, room_id, Restriction.BAN),
    }, error.http_status if error else 200, member)


@member_page
async def queue(request: Request, member: Member) -> Response:
    return await _queue_page(request, member)


async def _act(request: Request, member: Member, action: Callable[[dict[str, str]], Awaitable[None]]) -> Response:
    """Runs one form's action, then back to the queue; a refusal shows the queue with the reason.
    Only the room's moderators get as far as having their form read."""
    await services_of(request).moderation.authority.seat(member, _room(request))
    form = await read_form(request)
    try:
        await action(form)
    except ConveneError as error:
        if error.http_status in (403, 404) and error.field is None:
            raise
        return await _queue_page(request, member, error)
    return see_other(f"/rooms/{_room(request)}/moderation")


@member_page
async def resolve(request: Request, member: Member) -> Response:
    reports = services_of(request).moderation.reports

    async def action(form: dict[str, str]) -> None:
        try:
            resolution = Resolution(form.get("action", ""))
        except ValueError:
            raise BadRequest("dismiss, delete, mute or ban", field="action") from None
        await reports.resolve(member, _room(request), request.path_params["report_id"], resolution,
                              _minutes(form, False), form.get("reason", ""))

    return await _act(request, member, action)


@member_page
async def restrict(request: Request, member: Member) -> Response:
    services = services_of(request)

    async def action(form: dict[str, str]) -> None:
        found = await services.stores.accounts.credentials(form.get("username", "").strip().lower()[:64])
        if found is None:
            raise NotFound("no such member", field="username")
        target, reason = found[0].id, form.get("reason", "")
        if form.get("kind") == Restriction.BAN.value:
            await services.moderation.restrictions.ban(member, _room(request), target, _minutes(form, False), reason)
        else:
            await services.moderation.restrictions.mute(member, _room(request), target, _minutes(form, True) or 0,
                                                        reason)

    return await _act(request, member, action)


@member_page
async def lift(request: Request, member: Member) -> Response:
    restrictions = services_of(request).moderation.restrictions

    async def action(form: dict[str, str]) -> None:
        kind = Restriction.BAN if form.get("kind") == Restriction.BAN.value else Restriction.MUTE
        await restrictions.lift(member, _room(request), request.path_params["member_id"], kind)

    return await _act(request, member, action)


@member_page
async def slow_mode(request: Request, member: Member) -> Response:
    actions = services_of(request).moderation.actions

    async def action(form: dict[str, str]) -> None:
        raw = form.get("seconds", "").strip() or "0"
        if not raw.isdigit():
            raise BadRequest("a whole number of seconds", field="seconds")
        await actions.set_slow_mode(member, _room(request), int(raw))

    return await _act(request, member, action)


@member_page
async def report_message(request: Request, member: Member) -> Response:
    """Any member who can read a message reports it, with a reason; moderators see it in their queue."""
    services = services_of(request)
    room_id, seq = _room(request), request.path_params["seq"]
    room, _ = await services.rooms.readable(member, room_id)
    message = await services.stores.messages.get(room_id, seq)
    if message is None or message.kind is not EventKind.MESSAGE or message.deleted:
        raise NotFound("no such message")
    context = {"room": room, "message": message, "sent": False, "error": None, "reason": ""}
    if request.method == "POST":
        form = await read_form(request)
        context["reason"] = form.get("reason", "")
        try:
            await services.moderation.reports.file(member, room_id, seq, context["reason"])
            context["sent"] = True
        except BadRequest as error:
            context["error"] = error
            return render(request, "report.html", context, error.http_status, member)
    return render(request, "report.html", context, member=member)


_base = "/rooms/{room_id:int}/moderation"
routes = [
    Route(_base, queue, methods=["GET"]),
    Route(_base + "/reports/{report_id:int}", resolve, methods=["POST"]),
    Route(_base + "/restrictions", restrict, methods=["POST"]),
    Route(_base + "/restrictions/{member_id:int}/lift", lift, methods=["POST"]),
    Route(_base + "/slow-mode", slow_mode, methods=["POST"]),
    Route("/rooms/{room_id:int}/messages/{seq:int}/report", report_message, methods=["GET", "POST"]),
]
