"""The notification inbox, counts, preferences, per-room levels and the member's e-mail address over HTTP."""

from __future__ import annotations

from dataclasses import replace
from datetime import time
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import int_param, json, member_endpoint, read_body, services_of
from realtime.i18n import LANGUAGES
from rooms.errors import BadRequest
from rooms.models import Member
from rooms.notifications.models import (
    PREFERENCE_KINDS, Channel, EmailTiming, Preferences, QuietHours, RoomLevel,
)

ChannelName = Literal["push", "email"]
Clock = Annotated[StrictStr, Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


class ReadThese(BaseModel):
    ids: Annotated[list[Annotated[StrictInt, Field(gt=0)]], Field(max_length=500)]


class QuietHoursBody(BaseModel):
    start: Clock
    end: Clock


class PreferenceChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    channels: dict[Literal["mention", "message", "reply", "alert", "webinar", "recording"],
                   Annotated[list[ChannelName], Field(max_length=2)]] | None = None
    email_timing: Literal["now", "15min", "hourly", "daily"] | None = None
    quiet_hours: QuietHoursBody | None = None
    no_quiet_hours: StrictBool = False
    push_previews: StrictBool | None = None
    language: Annotated[StrictStr, Field(max_length=8)] | None = None
    time_zone: Annotated[StrictStr, Field(max_length=64)] | None = None
    theme: Literal["", "light", "dark"] | None = None


class LevelChange(BaseModel):
    level: Literal["all", "mentions", "nothing"] | None


class AddressChange(BaseModel):
    email: Annotated[StrictStr, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


def apply_changes(prefs: Preferences, body: PreferenceChanges) -> Preferences:
    """The member's preferences with the changes of a PUT (or the settings form) applied and checked."""
    changes: dict = {}
    if body.channels is not None:
        channels = dict(prefs.channels)
        for key, values in body.channels.items():
            channels[key] = frozenset(Channel(v) for v in values)
        changes["channels"] = channels
    if body.email_timing is not None:
        changes["email_timing"] = EmailTiming(body.email_timing)
    if body.no_quiet_hours:
        changes["quiet_hours"] = None
    elif body.quiet_hours is not None:
        if body.quiet_hours.start == body.quiet_hours.end:
            raise BadRequest("quiet hours need a different start and end", field="quiet_hours")
        changes["quiet_hours"] = QuietHours(time.fromisoformat(body.quiet_hours.start),
                                            time.fromisoformat(body.quiet_hours.end))
    if body.push_previews is not None:
        changes["push_previews"] = body.push_previews
    if body.language is not None:
        if body.language and body.language not in LANGUAGES:
            raise BadRequest(f"one of {', '.join(LANGUAGES)}", field="language")
        changes["language"] = body.language
    if body.time_zone is not None:
        if body.time_zone and body.time_zone not in _zones():
            raise BadRequest("a time zone such as Africa/Nairobi", field="time_zone")
        changes["time_zone"] = body.time_zone
    if body.theme is not None:
        changes["theme"] = body.theme
    return replace(prefs, **changes)


_ZONES: frozenset[str] = frozenset()


def _zones() -> frozenset[str]:
    global _ZONES
    if not _ZONES:
        _ZONES = frozenset(available_timezones())
    return _ZONES


@member_endpoint
async def inbox(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    before = request.query_params.get("before")
    limit = int_param(request, "limit", 30, 1, 100)
    found, has_more = await service.inbox(member, int_param(request, "before", 0, 0, 2**53) if before else None,
                                          limit, request.query_params.get("unread") == "1")
    response = json({"notifications": [n.public() for n in found], "has_more": has_more,
                      **await service.counts(member)})
    response.headers["cache-control"] = "no-store"
    return response


@member_endpoint
async def counts(request: Request, member: Member) -> Response:
    response = json(await services_of(request).notifications.counts(member))
    response.headers["cache-control"] = "no-store"
    return response


@member_endpoint
async def mark_read(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    ids = None if request.url.path.endswith("/read-all") else (await read_body(request, ReadThese)).ids
    marked = await service.mark_read(member, ids)
    return json({"marked": marked, **await service.counts(member)})


@member_endpoint
async def preferences(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    prefs = await service.preferences(member)
    if request.method == "PUT":
        prefs = await service.save_preferences(member, apply_changes(prefs, await read_body(request, PreferenceChanges)))
    levels = await service.room_levels(member)
    return json({**prefs.public(), "rooms": {str(room): level.value for room, level in levels.items()},
                 "kinds": list(PREFERENCE_KINDS)})


@member_endpoint
async def room_level(request: Request, member: Member) -> Response:
    body = await read_body(request, LevelChange)
    room_id = request.path_params["room_id"]
    await services_of(request).notifications.set_room_level(member, room_id, RoomLevel(body.level) if body.level else None)
    return json({"room": room_id, "level": body.level})


@member_endpoint
async def email_address(request: Request, member: Member) -> Response:
    service = services_of(request).notifications
    if request.method == "PUT":
        address = await service.set_address(member, (await read_body(request, AddressChange)).email)
    else:
        address = await service.address(member)
    return json({"email": address.email if address else None, "verified": bool(address and address.verified)})


routes = [
    Route("/api/notifications", inbox, methods=["GET"]),
    Route("/api/notifications/counts", counts, methods=["GET"]),
    Route("/api/notifications/read", mark_read, methods=["POST"]),
    Route("/api/notifications/read-all", mark_read, methods=["POST"]),
    Route("/api/me/preferences", preferences, methods=["GET", "PUT"]),
    Route("/api/rooms/{room_id:int}/notifications", room_level, methods=["PUT"]),
    Route("/api/me/notifications", email_address, methods=["GET", "PUT"]),
]
