"""What every page shares: templates, versioned static files, the member's preferences, rendering and the page decorators."""

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
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from realtime.api.common import read_bounded, require_same_origin, services_of
from realtime.auth import authenticate
from realtime.i18n import LANGUAGES, Language, choose
from realtime.services import Services
from rooms.errors import BadRequest, ConveneError
from rooms.models import Member
from rooms.text_rules import refuse_nul

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
STATIC_DIR = Path(__file__).resolve().parents[2] / "static"
HISTORY_PAGE = 50
MAX_FORM_FIELDS = 10
DIRECTORY_PAGE = 50
# What the service worker stores at install, so the app opens with no link at all.
SHELL = ("style.css", "chat.js", "attachments.js", "icon.svg", "manifest.webmanifest")
# Versioned URLs never change content, so browsers may keep them for a year without asking again.
IMMUTABLE = "public, max-age=31536000, immutable"
LANGUAGE_COOKIE, LOW_BANDWIDTH_COOKIE, NOTIFICATIONS_COOKIE = "convene_lang", "convene_lite", "convene_notify"
THEME_COOKIE = "convene_theme"
THEMES = ("light", "dark")   # "" (no choice) follows the device's prefers-color-scheme
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


def _initials(name: str) -> str:
    """A member's avatar: the first letters of the first two words of their name (static/chat.js does
    the same for messages that arrive live). No pictures: nothing to download."""
    return "".join(word[0] for word in name.split()[:2]).upper()


templates.env.filters["initials"] = _initials


@jinja2.pass_context
def _filesize(context: jinja2.runtime.Context, size: int) -> str:
    """A file's size for people ("840 KB", "2.4 MB"), with the page language's decimal sign."""
    lang = context.get("lang", "en")
    if size < 1024 * 1024:
        return format_decimal(max(1, round(size / 1024)), locale=lang) + " KB"
    return format_decimal(round(size / 1024 / 1024, 1), locale=lang) + " MB"


templates.env.globals["filesize"] = _filesize
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
    """What a member chose on the settings page. The language, theme and time zone follow the member
    (their profile, read by member pages); the cookies keep the choices on this device, and the
    language and theme before log-in."""

    language: Language
    chosen_language: str    # "" when the browser's Accept-Language decides
    low_bandwidth: bool     # no avatars, no history fetched ahead of the reader, no rooms cached ahead
    notifications: bool     # a system notification when mentioned while the tab is hidden
    theme: str = ""         # "light", "dark", or "" for the device's own (prefers-color-scheme)
    time_zone: str = ""     # the profile's (IANA name); "" lets the browser's own decide

    @classmethod
    def of(cls, request: Request) -> Preferences:
        profile = getattr(request.state, "profile", None)
        chosen = (profile.language if profile else "") or request.cookies.get(LANGUAGE_COOKIE, "")
        chosen = chosen if chosen in LANGUAGES else ""
        theme = profile.theme if profile else request.cookies.get(THEME_COOKIE, "")
        return cls(choose(chosen, request.headers.get("accept-language", "")), chosen,
                   request.cookies.get(LOW_BANDWIDTH_COOKIE) == "1", request.cookies.get(NOTIFICATIONS_COOKIE) == "1",
                   theme if theme in THEMES else "", profile.time_zone if profile else "")

Handler = Callable[[Request], Awaitable[Response]]
MemberHandler = Callable[[Request, Member], Awaitable[Response]]
Act = Callable[[Services, dict[str, str]], Awaitable[Member]]   # what a credentials form does


def see_other(url: str) -> RedirectResponse:
    # 303 so that the browser follows a form POST with a GET and "back" does not resubmit it.
    return RedirectResponse(url, status_code=303)


def local_path(candidate: str | None) -> str:
    """Where to go after logging in; only paths on this site, so the login form is no open redirect."""
    if (candidate and candidate.startswith("/") and not candidate.startswith("//")
            and "\\" not in candidate and candidate.isprintable()):
        return candidate
    return "/rooms"


def render(request: Request, name: str, context: dict, status: int = 200,
            member: Member | None = None) -> Response:
    prefs = Preferences.of(request)
    strings = json.dumps(prefs.language.script_strings(), ensure_ascii=False, separators=(",", ":"))
    response = templates.TemplateResponse(request, name, {
        "member": member, "prefs": prefs, "script_strings": strings, "path": request.url.path,
        # Members of an emergency room get Emergencies in the top navigation, with this count.
        "alerts_awaiting": getattr(request.state, "alerts_awaiting", None),
        **prefs.language.template_context(), "when": functools.partial(prefs.language.when, zone=prefs.time_zone),
        **context}, status_code=status)
    # Pages show private conversations; shared phones and clinic computers must not keep them in the
    # HTTP cache. The service worker keeps a copy for offline use, and chat.js drops it on log-out.
    response.headers["cache-control"] = "no-store"
    response.headers["content-language"] = prefs.language.code
    response.headers["vary"] = "Accept-Language, Cookie"
    return response


def error_page(request: Request, error: ConveneError, member: Member | None) -> Response:
    _ = Preferences.of(request).language.gettext
    titles = {404: _("Not found"), 403: _("Not allowed"), 503: _("Temporarily unavailable")}
    response = render(request, "error.html", {"title": titles.get(error.http_status, _("Something went wrong")),
                                               "message": error.message}, error.http_status, member)
    if error.retry_after:
        response.headers["retry-after"] = str(max(1, round(error.retry_after)))
    return response


async def current_member(request: Request) -> Member | None:
    """The member behind a page request, with what every page of theirs shows: their profile's language,
    theme and time zone, and, for members of an emergency room, the alerts awaiting their acknowledgement
    (the top navigation's Emergencies link)."""
    services = services_of(request)
    member, _ = await authenticate(request, services.cookies, services.accounts)
    if member is not None:
        # One query answers both whether the member belongs to an emergency room and how many alerts wait.
        request.state.alerts_awaiting = await services.emergency.alerts.awaiting(member)
        # The language, theme and time zone in the member's profile win over this device's cookies
        # (docs/notifications.md, docs/client.md).
        request.state.profile = await services.notifications.nstores.preferences.get(member.id)
    return member


async def read_form(request: Request, max_fields: int = MAX_FORM_FIELDS) -> dict[str, str]:
    """A url-encoded form body, bounded like the JSON API's bodies (same setting)."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/x-www-form-urlencoded":
        raise BadRequest("send the form as application/x-www-form-urlencoded")
    data = await read_bounded(request)
    try:
        pairs = parse_qsl(data.decode(), keep_blank_values=True, max_num_fields=max_fields)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("the form could not be read") from None
    for name, value in pairs:
        refuse_nul(value, name)   # %00 decodes to NUL, which Postgres cannot store
    return dict(pairs)


def page(handler: Handler) -> Handler:
    """Refusals on a page (a store outage included) become a small HTML page, not the API's JSON error."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ConveneError as error:
            return error_page(request, error, None)

    return endpoint


def member_page(handler: MemberHandler) -> Handler:
    """Pages for logged-in members: others go to the login form (and come back after);
    every POST must come from our own pages."""

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        member = None
        try:
            member = await current_member(request)
            if member is None:
                back = request.url.path if request.method == "GET" else "/rooms"
                return see_other("/login?next=" + quote(back, safe="/"))
            if request.method == "POST":
                require_same_origin(request)
            return await handler(request, member)
        except ConveneError as error:
            return error_page(request, error, member)

    return endpoint
