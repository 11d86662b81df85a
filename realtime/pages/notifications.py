"""Notification pages: the inbox, notification settings, one-click unsubscribe and address verification."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.api.notifications import PreferenceChanges, apply_changes
from realtime.pages.rendering import current_member, member_page, page, read_form, render, see_other
from rooms.errors import BadRequest, ConveneError
from rooms.models import Member, RoomKind
from rooms.notifications.models import PREFERENCE_KINDS, RoomLevel

INBOX_PAGE = 50
SETTINGS_FORM_FIELDS = 30   # a checkbox per kind and channel, timing, quiet hours, zone, language


@member_page
async def inbox_page(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    if request.method == "POST":
        await read_form(request)
        await service.mark_read(member, None)
        return see_other("/notifications")
    found, has_more = await service.inbox(member, None, INBOX_PAGE)
    return render(request, "notifications.html", {"notifications": found, "has_more": has_more,
                                                  **await service.counts(member)}, member=member)


def _form_changes(form: dict[str, str]) -> PreferenceChanges:
    """The settings form as a PreferenceChanges: one checkbox per kind and channel."""
    data: dict = {"channels": {kind: [c for c in ("push", "email") if form.get(f"{kind}.{c}") == "1"]
                               for kind in PREFERENCE_KINDS},
                  "email_timing": form.get("email_timing") or None,
                  "push_previews": form.get("push_previews") == "1",
                  "language": form.get("language", ""), "time_zone": form.get("time_zone", "").strip()}
    if form.get("quiet_start") and form.get("quiet_end"):
        data["quiet_hours"] = {"start": form["quiet_start"], "end": form["quiet_end"]}
    else:
        data["no_quiet_hours"] = True
    try:
        return PreferenceChanges.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        raise BadRequest(first["msg"], field=str(first["loc"][0])) from None


@member_page
async def settings_page(request: Request, member: Member) -> Response:
    services = services_of(request)
    service = services.notifications
    prefs = await service.preferences(member)
    error: ConveneError | None = None
    saved = request.query_params.get("saved", "")
    if request.method == "POST":
        form = await read_form(request, max_fields=SETTINGS_FORM_FIELDS)
        try:
            what = form.get("form")
            if what == "address":
                await service.set_address(member, form.get("email", ""))
                return see_other("/settings/notifications?saved=address")
            if what == "room":
                level = form.get("level", "")
                await service.set_room_level(member, int(form.get("room", "0") or 0),
                                             RoomLevel(level) if level else None)
                return see_other("/settings/notifications?saved=rooms")
            await service.save_preferences(member, apply_changes(prefs, _form_changes(form)))
            return see_other("/settings/notifications?saved=preferences")
        except ValueError:
            error = BadRequest("choose one of the levels", field="level")
        except ConveneError as refused:
            error = refused
    summaries = await services.rooms.room_list(member)
    return render(request, "notification_settings.html", {
        "p": prefs.public(), "kinds": PREFERENCE_KINDS, "address": await service.address(member),
        "levels": {room: level.value for room, level in (await service.room_levels(member)).items()},
        "rooms": [s for s in summaries if s.room.kind in (RoomKind.ROOM, RoomKind.DM, RoomKind.EMERGENCY)],
        "error": error, "saved": saved, "push_key": service.keys.public_key,
    }, error.http_status if error else 200, member)


@page
async def unsubscribe(request: Request) -> Response:
    """RFC 8058: a POST to this URL (the mail client's one-click button) unsubscribes, no session needed.
    A GET (a person following the link) shows a button, so link scanners unsubscribe nobody."""
    token = request.path_params["token"]
    service = services_of(request).notifications
    if service.tokens.read_unsubscribe(token) is None:
        return render(request, "unsubscribe.html", {"token": token, "done": False, "valid": False}, 404,
                      await current_member(request))
    done = False
    if request.method == "POST":
        await service.unsubscribe(token)
        done = True
    return render(request, "unsubscribe.html", {"token": token, "done": done, "valid": True},
                  member=await current_member(request))


@page
async def verify_address(request: Request) -> Response:
    verified = await services_of(request).notifications.verify(request.path_params["token"])
    return render(request, "address_verified.html", {"verified": verified}, 200 if verified else 400,
                  await current_member(request))


routes = [
    Route("/notifications", inbox_page, methods=["GET", "POST"]),
    Route("/settings/notifications", settings_page, methods=["GET", "POST"]),
    Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
    Route("/settings/email/verify/{token}", verify_address, methods=["GET"]),
]
