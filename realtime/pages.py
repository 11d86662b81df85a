"""Server-rendered pages (jinja2): log in, register, the room list and a room."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Awaitable, Callable
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from realtime.api.common import require_same_origin, services_of
from realtime.auth import authenticate
from realtime.limits.policy import client_ip, create_room_limited, login_with_backoff, register_limited
from realtime.services import Services
from rooms.accounts import TokenKind
from rooms.errors import BadRequest, ConveneError
from rooms.models import Member, RoomKind, Visibility

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
HISTORY_PAGE = 50
MAX_FORM_FIELDS = 10

# Autoescape is forced on for every template, whatever its file name: message bodies,
# names and topics come from members and must never be read as HTML.
templates = Jinja2Templates(env=jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES_DIR), autoescape=True,
    trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined))


def _sentence(text: str) -> str:
    """Service refusals are lower-case fragments ("no such room"); pages show them as sentences."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text[-1] in ".!?" else ".")


templates.env.filters["sentence"] = _sentence

Handler = Callable[[Request], Awaitable[Response]]
MemberHandler = Callable[[Request, Member], Awaitable[Response]]
Act = Callable[[Services, dict[str, str]], Awaitable[Member]]   # what a credentials form does


def _see_other(url: str) -> RedirectResponse:
    # 303 so that the browser follows a form POST with a GET and "back" does not resubmit it.
    return RedirectResponse(url, status_code=303)


def _local_path(candidate: str | None) -> str:
    """Where to go after logging in; only paths on this site, so the login form is no open redirect."""
    if (candidate and candidate.startswith("/") and not candidate.startswith("//")
            and "\\" not in candidate and candidate.isprintable()):
        return candidate
    return "/rooms"


def _render(request: Request, name: str, context: dict, status: int = 200,
            member: Member | None = None) -> Response:
    response = templates.TemplateResponse(request, name, {"member": member, **context}, status_code=status)
    # Pages show private conversations; shared phones and clinic computers must not keep them.
    response.headers["cache-control"] = "no-store"
    return response


def _error_page(request: Request, error: ConveneError, member: Member | None) -> Response:
    titles = {404: "Not found", 403: "Not allowed", 503: "Temporarily unavailable"}
    response = _render(request, "error.html", {"title": titles.get(error.http_status, "Something went wrong"),
                                               "message": error.message}, error.http_status, member)
    if error.retry_after:
        response.headers["retry-after"] = str(max(1, round(error.retry_after)))
    return response


async def _current(request: Request) -> Member | None:
    services = services_of(request)
    member, _ = await authenticate(request, services.cookies, services.accounts)
    return member


async def _read_form(request: Request) -> dict[str, str]:
    """A url-encoded form body, bounded like the JSON API's bodies (same setting)."""
    limit = services_of(request).settings.max_request_bytes
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded")
    data = b""
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise BadRequest(f"forms are limited to {limit} bytes")
    try:
        pairs = parse_qsl(data.decode(), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None
    return dict(pairs)


def page(handler: Handler) -> Handler:
    """Refusals on a page (a store outage included) become a small HTML page, not the API's JSON error."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ConveneError as error:
            return _error_page(request, error, None)

    return endpoint


def member_page(handler: MemberHandler) -> Handler:
    """Pages for logged-in members: others go to the login form (and come back after);
    every POST must come from our own pages."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        member = None
        try:
            member = await _current(request)
            if member is None:
                back = request.url.path if request.method == "GET" else "/rooms"
                return _see_other("/login?next=" + quote(back, safe="/"))
            if request.method == "POST":
                require_same_origin(request)
            return await handler(request, member)
        except ConveneError as error:
            return _error_page(request, error, member)

    return endpoint


@page
async def home(request: Request) -> Response:
    return _see_other("/rooms" if await _current(request) else "/login")


async def _credentials_page(request: Request, template: str, fields: tuple[str, ...], act: Act) -> Response:
    """Login and register share one flow: show the form, check the origin, act, set the session."""
    services = services_of(request)
    next_path = _local_path(request.query_params.get("next"))
    if request.method == "GET":
        if await _current(request):
            return _see_other(next_path)
        return _render(request, template, {"error": None, "values": {}, "next": next_path})
    values: dict[str, str] = {}
    try:
        require_same_origin(request)
        form = await _read_form(request)
        values = {name: form.get(name, "") for name in fields}
        next_path = _local_path(form.get("next"))
        member = await act(services, values)
    except ConveneError as error:
        if error.http_status == 403:
            raise
        values.pop("password", None)   # never echo a password back into the page
        # A wrong password is a 400 here: 401 would promise an HTTP authentication challenge.
        status = 400 if error.http_status == 401 else error.http_status
        return _render(request, template, {"error": error, "values": values, "next": next_path}, status)
    previous = services.cookies.token(request)
    if previous:
        await services.accounts.revoke(previous)   # switching accounts leaves no live session behind
    response = _see_other(next_path)
    services.cookies.set(response, await services.accounts.issue_token(member, TokenKind.SESSION))
    return response


@page
async def login(request: Request) -> Response:
    return await _credentials_page(
        request, "login.html", ("username", "password"),
        lambda services, form: login_with_backoff(services.limits, services.accounts, form["username"],
                                                  form["password"], client_ip(request)))


@page
async def register(request: Request) -> Response:
    return await _credentials_page(
        request, "register.html", ("username", "display_name", "password"),
        lambda services, form: register_limited(services.limits, services.accounts, form["username"],
                                                form["password"], form["display_name"], client_ip(request)))


@page
async def logout(request: Request) -> Response:
    services = services_of(request)
    require_same_origin(request)
    token = services.cookies.token(request)
    if token:
        await services.accounts.revoke(token)
    response = _see_other("/login")
    services.cookies.clear(response)
    return response


async def _rooms_page(request: Request, member: Member, error: ConveneError | None = None,
                      values: dict[str, str] | None = None) -> Response:
    services = services_of(request)
    summaries = await services.rooms.room_list(member)
    joined = {summary.room.id for summary in summaries}
    invited = [room for room_id in await services.stores.memberships.invited_rooms(member.id)
               if room_id not in joined and (room := await services.stores.rooms.get(room_id)) is not None]
    public = [room for room in await services.stores.rooms.public_rooms() if room.id not in joined]
    return _render(request, "rooms.html", {
        "rooms": [s for s in summaries if s.room.kind is RoomKind.ROOM],
        "dms": [s for s in summaries if s.room.kind is RoomKind.DM],
        "invited": invited, "public": public, "error": error, "values": values or {},
    }, error.http_status if error else 200, member)


@member_page
async def rooms_list(request: Request, member: Member) -> Response:
    return await _rooms_page(request, member)


@member_page
async def new_room(request: Request, member: Member) -> Response:
    form = await _read_form(request)
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
    return _see_other(f"/rooms/{room.id}")


@member_page
async def join_room(request: Request, member: Member) -> Response:
    room = await services_of(request).rooms.join(member, request.path_params["room_id"])
    return _see_other(f"/rooms/{room.id}")


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
    return _render(request, "room.html", {
        "room": room, "title": title, "joined": membership is not None,
        "messages": list(reversed(page.events)), "has_more": page.has_more,
        "max_body_chars": services.settings.max_body_chars,
    }, member=member)


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/register", register, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/rooms", rooms_list, methods=["GET"]),
    Route("/rooms/new", new_room, methods=["POST"]),
    Route("/rooms/{room_id:int}", room_page, methods=["GET"]),
    Route("/rooms/{room_id:int}/join", join_room, methods=["POST"]),
]
