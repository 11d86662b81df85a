"""Webinar pages: the list, the scheduling form, a webinar's page (details, registration, lobby, host
controls) and the live page (chat, Q&A, hands, stage, polls). Actions on the live page go through the
JSON API (static/webinar.js); the pages' own forms cover what must work without JavaScript."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.i18n import LANGUAGES
from realtime.pages.rendering import HISTORY_PAGE, current_member, read_form, render, see_other, member_page, page
from rooms.errors import BadRequest, ConveneError, NotFound
from rooms.models import Member
from rooms.webinars.models import WebinarState, WebinarVisibility

DURATIONS_MIN = (30, 45, 60, 90, 120, 180, 240)
FORM_FIELDS = ("title", "description", "language", "starts_at", "tz", "duration", "visibility",
               "anonymous_questions", "record")


def _id(request: Request) -> int:
    return request.path_params["webinar_id"]


@page
async def webinars_page(request: Request) -> Response:
    member = await current_member(request)
    webinars = await services_of(request).webinars.sessions.listing(member)
    groups: dict[WebinarState, list] = {state: [] for state in WebinarState}
    for webinar in webinars:
        groups[webinar.state].append(webinar)
    groups[WebinarState.ENDED].reverse()   # the most recent first
    return render(request, "webinars.html", {"live": groups[WebinarState.LIVE],
                                              "upcoming": groups[WebinarState.SCHEDULED],
                                              "past": groups[WebinarState.ENDED]}, member=member)


def _new_form(request: Request, member: Member, values: dict[str, str], error: ConveneError | None) -> Response:
    return render(request, "webinar_new.html", {"values": values, "error": error, "durations": DURATIONS_MIN,
                                                 "languages": LANGUAGES},
                   error.http_status if error else 200, member)


def _starts_at(values: dict[str, str]) -> datetime:
    """The form's local date and time in the browser's time zone (webinar.js fills `tz`; UTC without it)."""
    try:
        zone = ZoneInfo(values["tz"]) if values["tz"] else timezone.utc
    except (ZoneInfoNotFoundError, ValueError):
        zone = timezone.utc
    try:
        return datetime.fromisoformat(values["starts_at"]).replace(tzinfo=zone)
    except ValueError:
        raise BadRequest("give a date and a time", field="starts_at") from None


@member_page
async def new_webinar(request: Request, member: Member) -> Response:
    if request.method == "GET":
        return _new_form(request, member, {"language": "en", "duration": "60", "visibility": "members",
                                           "record": "1"}, None)
    form = await read_form(request)
    values = {name: form.get(name, "") for name in FORM_FIELDS}
    try:
        if values["visibility"] not in ("public", "members"):
            raise BadRequest("choose public or members", field="visibility")
        if not values["duration"].isdigit() or int(values["duration"]) not in DURATIONS_MIN:
            raise BadRequest("choose a duration", field="duration")
        if values["language"] not in LANGUAGES:
            raise BadRequest("choose a language", field="language")
        starts_at = _starts_at(values)
        webinar = await services_of(request).webinars.sessions.create(
            member, title=values["title"], description=values["description"], language=values["language"],
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=int(values["duration"])),
            visibility=WebinarVisibility(values["visibility"]),
            anonymous_questions=values["anonymous_questions"] == "1", record=values["record"] == "1")
    except ConveneError as error:
        return _new_form(request, member, values, error)
    return see_other(f"/webinars/{webinar.id}")


@page
async def webinar_page(request: Request) -> Response:
    member = await current_member(request)
    sessions = services_of(request).webinars.sessions
    webinar = await sessions.visible(member, _id(request))
    seat = await sessions.seat(member, webinar.id) if member else None
    people = await sessions.people(member, webinar.id) if member else []
    manages_hosts = await services_of(request).webinars.hosts.may_manage(member, webinar.id) if member else False
    return render(request, "webinar.html", {"webinar": webinar, "seat": seat, "people": people,
                                             "manages_hosts": manages_hosts,
                                             "notice": request.query_params.get("notice", "")}, member=member)


@member_page
async def register(request: Request, member: Member) -> Response:
    await services_of(request).webinars.sessions.register(member, _id(request))
    return see_other(f"/webinars/{_id(request)}")


@member_page
async def change_state(request: Request, member: Member) -> Response:
    sessions = services_of(request).webinars.sessions
    move = sessions.start if request.url.path.endswith("/start") else sessions.end
    await move(member, _id(request))
    back = (await read_form(request)).get("back", "")
    return see_other(f"/webinars/{_id(request)}" + ("/live" if back == "live" else ""))


@member_page
async def add_panelist(request: Request, member: Member) -> Response:
    await services_of(request).webinars.sessions.add_panelist(member, _id(request), await member_named(request))
    return see_other(f"/webinars/{_id(request)}")


async def member_named(request: Request) -> int:
    """The member a form names by username ("amina" or "@amina")."""
    username = (await read_form(request)).get("username", "").strip().lstrip("@")
    found = await services_of(request).stores.accounts.credentials(username) if username else None
    if found is None:
        raise NotFound("no member with that username", field="username")
    return found[0].id


@member_page
async def live_page(request: Request, member: Member) -> Response:
    services = services_of(request)
    webinars = services.webinars
    seat = await webinars.sessions.seat(member, _id(request))
    if not seat.registered:
        return see_other(f"/webinars/{seat.webinar.id}?notice=register")
    # The room's head is read before the state below, so every event after it is applied on top
    # (the page applies events idempotently; see static/webinar.js).
    room = await services.stores.rooms.get(seat.webinar.room_id)
    if room is None:
        raise NotFound("no such webinar")
    history = await services.chat.history(member, room.id, None, HISTORY_PAGE)
    return render(request, "webinar_live.html", {
        "webinar": seat.webinar, "seat": seat, "room": room, "can_publish": seat.may_publish,
        "people": await webinars.sessions.people(member, seat.webinar.id),
        "hands": await webinars.stage.raised(member, seat.webinar.id),
        "questions": await webinars.questions.listing(member, seat.webinar.id),
        "polls": await webinars.polls.listing(member, seat.webinar.id),
        "messages": list(reversed(history.events)), "has_more": history.has_more,
        "max_body_chars": services.settings.max_body_chars,
        "breakout": await webinars.breakouts.current(member, seat.webinar.id),
    }, member=member)


_base = "/webinars/{webinar_id:int}"
routes = [
    Route("/webinars", webinars_page, methods=["GET"]),
    Route("/webinars/new", new_webinar, methods=["GET", "POST"]),
    Route(_base, webinar_page, methods=["GET"]),
    Route(_base + "/register", register, methods=["POST"]),
    Route(_base + "/start", change_state, methods=["POST"]),
    Route(_base + "/end", change_state, methods=["POST"]),
    Route(_base + "/panelists", add_panelist, methods=["POST"]),
    Route(_base + "/live", live_page, methods=["GET"]),
]
