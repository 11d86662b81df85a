"""Pages of the recordings archive: the catalogue, a recording's player page and the upload form.

The pages render the same JSON-shaped recordings the API returns (see docs/client.md), so the
catalogue and the player work without JavaScript; static/recordings.js adds the rest.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from urllib.parse import quote, urlencode

from babel import Locale, UnknownLocaleError
from babel.dates import format_date
from babel.numbers import format_decimal
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.api.recordings import detail_json as recording_json
from realtime.api.recordings import catalogue_filters as parse_filters
from realtime.api.recordings import summary
from realtime.i18n import LANGUAGES
from realtime.pages.rendering import Preferences, current_member, read_form, render, see_other, member_page, page, templates
from recordings.archive.store import Filters
from rooms.errors import BadRequest, ConveneError, NotFound, Unauthenticated
from rooms.models import Member

CATALOGUE_PAGE = 20
SORTS = ("newest", "most_watched")
FILTERS = ("q", "language", "tag", "presenter", "since", "until", "sort")


# Display filters -------------------------------------------------------------------------

def clock(seconds: float | int | None) -> str:
    """12:34 or 1:02:03, as players show times."""
    total = max(0, int(seconds or 0))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def filesize(size: int | None, lang: str) -> str:
    """Decimal units, as phones and data plans count them: 14.6 MB, 950 kB."""
    size = int(size or 0)
    for unit, factor in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.0', locale=lang)} {unit}"
    return f"{size} B"


def day(moment: str | datetime | None, lang: str) -> str:
    if not moment:
        return ""
    value = moment if isinstance(moment, datetime) else datetime.fromisoformat(str(moment).replace("Z", "+00:00"))
    return format_date(value, "medium", locale=lang)


def language_name(code: str, lang: str) -> str:
    """"fr" → "French" (in the reader's language); unknown tags are shown as written."""
    try:
        name = Locale.parse(code.replace("-", "_")).get_display_name(lang)
    except (ValueError, TypeError, UnknownLocaleError):
        return code
    return name[:1].upper() + name[1:] if name else code


templates.env.filters.update({"clock": clock, "filesize": filesize, "day": day, "language_name": language_name})


# Requests ---------------------------------------------------------------------------------

def _page_url(chosen: dict[str, str], offset: int) -> str:
    kept = {name: value for name, value in chosen.items() if value and (name, value) != ("sort", "newest")}
    if offset:
        kept["offset"] = str(offset)
    return "/recordings" + ("?" + urlencode(kept) if kept else "")


@page
async def catalogue(request: Request) -> Response:
    member = await current_member(request)
    archive = services_of(request).recordings
    # The form's own values, shown back as typed; the API's parser decides what they mean.
    chosen = {name: request.query_params.get(name, "").strip()[:100] for name in FILTERS}
    chosen["sort"] = chosen["sort"] if chosen["sort"] in SORTS else "newest"
    error: ConveneError | None = None
    try:
        filters = replace(parse_filters(request), limit=CATALOGUE_PAGE)
        found, total = await archive.find(member, filters)
    except BadRequest as refused:
        error, found, total, filters = refused, [], 0, Filters(limit=CATALOGUE_PAGE)
    recordings = [summary(archive, r) for r in found]
    lang = Preferences.of(request).language.code
    # The interface languages, plus any on screen or chosen: recordings may be in any language.
    codes = {*LANGUAGES, *(r["language"] for r in recordings), *([chosen["language"]] if chosen["language"] else [])}
    languages = {code: language_name(code, lang) for code in codes}
    offset = filters.offset
    return render(request, "recordings.html", {
        "recordings": recordings, "total": total, "chosen": chosen, "error": error,
        "language_choices": sorted(languages.items(), key=lambda item: item[1]),
        "previous_url": _page_url(chosen, max(0, offset - CATALOGUE_PAGE)) if offset else None,
        "next_url": _page_url(chosen, offset + CATALOGUE_PAGE) if offset + CATALOGUE_PAGE < total else None,
        "page_number": offset // CATALOGUE_PAGE + 1, "page_count": max(1, -(-total // CATALOGUE_PAGE)),
        "presenter_name": next((p["display_name"] for r in recordings for p in r["presenters"]
                                if str(p["id"]) == chosen["presenter"]), None),
        "without_presenter": _page_url({**chosen, "presenter": ""}, 0),
    }, error.http_status if error else 200, member)


@page
async def player(request: Request) -> Response:
    member = await current_member(request)
    archive = services_of(request).recordings
    try:
        seat = await archive.seat(member, request.path_params["recording_id"])
    except Unauthenticated:   # members-only: log in, then come back here
        return see_other("/login?next=" + quote(request.url.path, safe="/"))
    rec = await recording_json(archive, seat)
    return render(request, "recordings_player.html", {
        "rec": rec, "downloads": {d["kind"]: d for d in rec["downloads"]},
        "invited": await _just_invited(request, seat.can_edit)}, member=member)


async def _just_invited(request: Request, can_edit: bool) -> str:
    """The name of the member the host has just invited (?invited=<id>), only if that is true."""
    raw = request.query_params.get("invited", "")
    if not (can_edit and raw.isdigit() and len(raw) < 19):
        return ""
    services, recording_id = services_of(request), request.path_params["recording_id"]
    if not await services.recordings.stores.catalogue.invited(recording_id, int(raw)):
        return ""
    invitee = await services.stores.accounts.get(int(raw))
    return invitee.display_name if invitee else ""


@member_page
async def invite(request: Request, member: Member) -> Response:
    """A host invites a member by username to an invite-only recording (a plain form: no JavaScript)."""
    services, recording_id = services_of(request), request.path_params["recording_id"]
    await services.recordings.editor(member, recording_id)   # before any lookup: no probing of usernames
    username = (await read_form(request)).get("username", "").strip().lstrip("@")
    found = await services.stores.accounts.credentials(username) if username else None
    if found is None:
        raise NotFound("no member with that username", field="username")
    await services.recordings.invite(member, recording_id, found[0].id)
    return see_other(f"/recordings/{recording_id}?invited={found[0].id}#invite")


@member_page
async def import_form(request: Request, member: Member) -> Response:
    return render(request, "recordings_import.html",
                   {"max_bytes": services_of(request).recordings.settings.max_upload_bytes}, member=member)


routes = [
    Route("/recordings", catalogue, methods=["GET"]),
    Route("/recordings/import", import_form, methods=["GET"]),
    Route("/recordings/{recording_id:int}", player, methods=["GET"]),
    Route("/recordings/{recording_id:int}/invites", invite, methods=["POST"]),
]
