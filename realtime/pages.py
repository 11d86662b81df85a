"""Server-rendered pages (jinja2): log in, register, rooms, a room, DMs, members, settings, and their static shell."""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, quote

import jinja2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from realtime.api.common import read_bounded, require_same_origin, services_of
from realtime.auth import authenticate
from realtime.i18n import LANGUAGES, Language, choose
from realtime.limits.policy import (
    client_ip,
    create_room_limited,
    login_with_backoff,
    register_limited,
)
from realtime.services import Services
from rooms.accounts import TokenKind
from rooms.errors import BadRequest, ConveneError, NotFound
from rooms.models import Member, RoomKind, Visibility

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
HISTORY_PAGE = 50
MAX_FORM_FIELDS = 10
DIRECTORY_PAGE = 50
# What the service worker stores at install, so the app opens with no link at all.
SHELL = ("style.css", "chat.js", "icon.svg", "manifest.webmanifest")
# Versioned URLs never change content, so browsers may keep them for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"
LANGUAGE_COOKIE, LOW_BANDWIDTH_COOKIE, NOTIFICATIONS_COOKIE = "convene_lang", "convene_lite", "convene_notify"
PREFERENCE_MAX_AGE_S = 365 * 24 * 3600

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
templates.env.add_extension("jinja2.ext.i18n")   # _() and ngettext(); each request passes its own language


@functools.cache
def _digest(path: Path, mtime_ns: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_version(name: str) -> str:
    """A short hash of a static file's content (recomputed when the file changes on disk)."""
    path = STATIC_DIR / name
    return _digest(path, path.stat().st_mtime_ns)


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_version(name)}"


templates.env.globals["static_url"] = static_url


class VersionedStatic(StaticFiles):
    """/static: a URL carrying the file's current hash (?v=) is cached for a year; any other URL is
    revalidated each time (ETag), so nobody keeps an old chat.js after a deploy."""

    def file_response(self, full_path: os.PathLike[str] | str, stat_result: os.stat_result, scope: Scope,
                      status_code: int = 200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        current = query.get("v") == _digest(Path(full_path), stat_result.st_mtime_ns)
        response.headers["cache-control"] = IMMUTABLE if current else "no-cache"
        if Path(full_path).suffix == ".webmanifest":
            response.headers["content-type"] = "application/manifest+json"
        return response


def static_files() -> VersionedStatic:
    return VersionedStatic(directory=STATIC_DIR)


@dataclass(frozen=True)
class Preferences:
    """What a member chose on the settings page, kept in cookies so it applies before log-in too."""

    language: Language
    chosen_language: str    # "" when the browser's Accept-Language decides
    low_bandwidth: bool     # no avatars, no history fetched ahead of the reader, no rooms cached ahead
    notifications: bool     # a system notification when mentioned while the tab is hidden

    @classmethod
    def of(cls, request: Request) -> Preferences:
        chosen = request.cookies.get(LANGUAGE_COOKIE, "")
        chosen = chosen if chosen in LANGUAGES else ""
        return cls(choose(chosen, request.headers.get("accept-language", "")), chosen,
                   request.cookies.get(LOW_BANDWIDTH_COOKIE) == "1", request.cookies.get(NOTIFICATIONS_COOKIE) == "1")

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
    prefs = Preferences.of(request)
    strings = json.dumps(prefs.language.script_strings(), ensure_ascii=False, separators=(",", ":"))
    response = templates.TemplateResponse(request, name, {
        "member": member, "prefs": prefs, "script_strings": strings, "path": request.url.path,
        **prefs.language.template_context(), **context}, status_code=status)
    # Pages show private conversations; shared phones and clinic computers must not keep them in the
    # HTTP cache. The service worker keeps a copy for offline use, and chat.js drops it on log-out.
    response.headers["cache-control"] = "no-store"
    response.headers["content-language"] = prefs.language.code
    response.headers["vary"] = "Accept-Language, Cookie"
    return response


def _error_page(request: Request, error: ConveneError, member: Member | None) -> Response:
    _ = Preferences.of(request).language.gettext
    titles = {404: _("Not found"), 403: _("Not allowed"), 503: _("Temporarily unavailable")}
    response = _render(request, "error.html", {"title": titles.get(error.http_status, _("Something went wrong")),
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
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded")
    data = await read_bounded(request)
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
        "is_dm": room.kind is RoomKind.DM,
        "messages": list(reversed(page.events)), "has_more": page.has_more,
        "max_body_chars": services.settings.max_body_chars,
    }, member=member)


@member_page
async def dms_page(request: Request, member: Member) -> Response:
    summaries = await services_of(request).rooms.room_list(member)
    return _render(request, "dms.html", {"dms": [s for s in summaries if s.room.kind is RoomKind.DM]}, member=member)


@member_page
async def directory_page(request: Request, member: Member) -> Response:
    query = request.query_params.get("q", "")[:100]
    found = await services_of(request).stores.accounts.directory(query, DIRECTORY_PAGE, 0)
    return _render(request, "members.html", {"query": query, "found": found}, member=member)


@member_page
async def profile_page(request: Request, member: Member) -> Response:
    shown = await services_of(request).stores.accounts.get(request.path_params["member_id"])
    if shown is None:
        raise NotFound("no such member")
    return _render(request, "profile.html", {"shown": shown}, member=member)


@member_page
async def message_member(request: Request, member: Member) -> Response:
    room = await services_of(request).rooms.open_dm(member, [request.path_params["member_id"]])
    return _see_other(f"/rooms/{room.id}")


PROFILE_FORM = ("display_name", "organisation", "country", "bio")


@member_page
async def settings_page(request: Request, member: Member) -> Response:
    if request.method == "GET":
        return _render(request, "settings.html", {"error": None, "values": {},
                                                  "saved": request.query_params.get("saved") == "1"}, member=member)
    form = await _read_form(request)
    values = {name: form.get(name, "").strip() for name in PROFILE_FORM}
    values["country"] = values["country"].upper()
    try:
        if not values["display_name"]:
            raise BadRequest("a display name is needed", field="display_name")
        if len(values["display_name"]) > 80 or len(values["organisation"]) > 120 or len(values["bio"]) > 2000:
            raise BadRequest("that is too long", field="bio")
        if values["country"] and not (len(values["country"]) == 2 and values["country"].isalpha()
                                      and values["country"].isascii()):
            raise BadRequest("use a two-letter country code, for example KE", field="country")
        await services_of(request).stores.accounts.update_profile(member.id, values)
    except ConveneError as error:
        return _render(request, "settings.html", {"error": error, "values": values, "saved": False},
                       error.http_status, member)
    response = _see_other("/settings?saved=1")
    secure = services_of(request).settings.secure_cookies
    language = form.get("language", "")
    choices = {LANGUAGE_COOKIE: language if language in LANGUAGES else "",
               LOW_BANDWIDTH_COOKIE: "1" if form.get("low_bandwidth") == "1" else "",
               NOTIFICATIONS_COOKIE: "1" if form.get("notifications") == "1" else ""}
    for name, value in choices.items():
        if value:
            response.set_cookie(name, value, max_age=PREFERENCE_MAX_AGE_S, httponly=True, secure=secure,
                                samesite="lax")
        else:
            response.delete_cookie(name, httponly=True, secure=secure, samesite="lax")
    return response


def _service_worker_source() -> str:
    source = (STATIC_DIR / "sw.js").read_text()
    shell = [static_url(name) for name in SHELL]
    version = hashlib.sha256(" ".join(shell).encode()).hexdigest()[:12]
    return source.replace("'__VERSION__'", json.dumps(version)).replace("'__SHELL__'", json.dumps(shell))


async def service_worker(request: Request) -> Response:
    """The service worker, from the site root so that its scope is the whole site. Its text names the
    versioned shell, so a deploy changes it and browsers install the new one."""
    return Response(_service_worker_source(), media_type="text/javascript",
                    headers={"cache-control": "no-cache"})


routes = [
    Route("/", home, methods=["GET"]),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/register", register, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/rooms", rooms_list, methods=["GET"]),
    Route("/rooms/new", new_room, methods=["POST"]),
    Route("/rooms/{room_id:int}", room_page, methods=["GET"]),
    Route("/rooms/{room_id:int}/join", join_room, methods=["POST"]),
    Route("/dms", dms_page, methods=["GET"]),
    Route("/members", directory_page, methods=["GET"]),
    Route("/members/{member_id:int}", profile_page, methods=["GET"]),
    Route("/members/{member_id:int}/message", message_member, methods=["POST"]),
    Route("/settings", settings_page, methods=["GET", "POST"]),
    Route("/sw.js", service_worker, methods=["GET"]),
]
