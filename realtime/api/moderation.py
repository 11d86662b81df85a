"""Moderation over HTTP: mutes, bans, slow mode, reports and their queue, a room's audit trail, and site admins' tools.

Kicks and role changes keep their chat-core routes (realtime/api/rooms.py) and go through
rooms/moderation too. docs/moderation.md describes every route; docs/protocol.md the events.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import audit_export, json, member_endpoint, read_body, services_of
from rooms.errors import BadRequest
from rooms.models import Event, Member
from rooms.moderation.models import ReportStatus, Resolution, Restriction
from rooms.moderation.restrictions import MAX_BAN_MINUTES, MAX_MUTE_MINUTES, MAX_REASON

MemberId = Annotated[StrictInt, Field(gt=0, lt=2**53)]
Reason = Annotated[StrictStr, Field(max_length=MAX_REASON)]


class NewBan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: MemberId
    reason: Reason = ""
    minutes: Annotated[StrictInt, Field(ge=1, le=MAX_BAN_MINUTES)] | None = None


class NewMute(BaseModel):
    model_config = ConfigDict(extra="forbid")
    member_id: MemberId
    minutes: Annotated[StrictInt, Field(ge=1, le=MAX_MUTE_MINUTES)]
    reason: Reason = ""


class SlowModeBody(BaseModel):
    seconds: Annotated[StrictInt, Field(ge=0, le=3600)]


class NewReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seq: Annotated[StrictInt, Field(gt=0, lt=2**53)]
    reason: Annotated[StrictStr, Field(min_length=1, max_length=MAX_REASON)]


class ReportResolution(BaseModel):
    model_config = ConfigDict(extra="forbid")
    action: Literal["dismiss", "delete", "mute", "ban"]
    minutes: Annotated[StrictInt, Field(ge=1, le=MAX_BAN_MINUTES)] | None = None
    reason: Reason = ""


class SuspensionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: Reason = ""


def _room(request: Request) -> int:
    return request.path_params["room_id"]


def restriction_reply(event: Event) -> dict:
    """A mute or ban as imposed: its target, end and reason, and its event's place in the room."""
    frame = event.frame()
    return {"room": event.room_id, "seq": event.seq, "member": frame["member"], "until": frame["until"],
            "reason": frame["reason"]}


def report_status(request: Request) -> ReportStatus | None:
    raw = request.query_params.get("status", "open")
    if raw == "all":
        return None
    try:
        return ReportStatus(raw)
    except ValueError:
        raise BadRequest("open, dismissed, actioned or all", field="status") from None


# Mutes and bans.

async def _restrictions(request: Request, member: Member, kind: Restriction, key: str) -> Response:
    restrictions = services_of(request).moderation.restrictions
    if request.method == "GET":
        found = await restrictions.active(member, _room(request), kind)
        return json({key: [r.public() for r in found]})
    if kind is Restriction.BAN:
        ban = await read_body(request, NewBan)
        event = await restrictions.ban(member, _room(request), ban.member_id, ban.minutes, ban.reason)
    else:
        mute = await read_body(request, NewMute)
        event = await restrictions.mute(member, _room(request), mute.member_id, mute.minutes, mute.reason)
    return json(restriction_reply(event), status=201)


@member_endpoint
async def bans(request: Request, member: Member) -> Response:
    return await _restrictions(request, member, Restriction.BAN, "bans")


@member_endpoint
async def mutes(request: Request, member: Member) -> Response:
    return await _restrictions(request, member, Restriction.MUTE, "mutes")


@member_endpoint
async def lift_ban(request: Request, member: Member) -> Response:
    await services_of(request).moderation.restrictions.lift(member, _room(request), request.path_params["member_id"],
                                                            Restriction.BAN)
    return Response(status_code=204)


@member_endpoint
async def lift_mute(request: Request, member: Member) -> Response:
    await services_of(request).moderation.restrictions.lift(member, _room(request), request.path_params["member_id"],
                                                            Restriction.MUTE)
    return Response(status_code=204)


@member_endpoint
async def slow_mode(request: Request, member: Member) -> Response:
    body = await read_body(request, SlowModeBody)
    room = await services_of(request).moderation.actions.set_slow_mode(member, _room(request), body.seconds)
    return json({"room": room.id, "seconds": room.slow_mode_s})


# Reports.

@member_endpoint
async def reports(request: Request, member: Member) -> Response:
    service = services_of(request).moderation.reports
    if request.method == "GET":
        found = await service.queue(member, _room(request), report_status(request))
        return json({"reports": [r.public() for r in found]})
    body = await read_body(request, NewReport)
    report, created = await service.file(member, _room(request), body.seq, body.reason)
    # Members see that their report is in, never the queue itself.
    return json({"id": report.id, "room": report.room_id, "seq": report.seq, "status": "received"},
                status=201 if created else 200)


@member_endpoint
async def resolve_report(request: Request, member: Member) -> Response:
    body = await read_body(request, ReportResolution)
    report = await services_of(request).moderation.reports.resolve(
        member, _room(request), request.path_params["report_id"], Resolution(body.action), body.minutes, body.reason)
    return json({"report": report.public()})


@member_endpoint
async def audit(request: Request, member: Member) -> Response:
    service, room_id = services_of(request).moderation.audit, _room(request)
    return await audit_export(request.query_params.get("format", "json"), f"room-{room_id}-audit",
                              lambda: service.as_json(member, room_id), lambda: service.as_csv(member, room_id))


# Site admins.

@member_endpoint
async def admin_reports(request: Request, member: Member) -> Response:
    found = await services_of(request).moderation.reports.everywhere(member, report_status(request))
    return json({"reports": [r.public() for r in found]})


@member_endpoint
async def admin_members(request: Request, member: Member) -> Response:
    found = await services_of(request).moderation.accounts.search(member, request.query_params.get("q", ""))
    return json({"members": [{**m.brief(), "site_admin": m.site_admin, "suspended": m.suspended} for m in found]})


@member_endpoint
async def suspension(request: Request, member: Member) -> Response:
    accounts = services_of(request).moderation.accounts
    member_id = request.path_params["member_id"]
    if request.method == "DELETE":
        await accounts.unsuspend(member, member_id)
        return Response(status_code=204)
    body = await read_body(request, SuspensionBody)
    changed = await accounts.suspend(member, member_id, body.reason)
    return json({"member_id": member_id, "suspended": True}, status=201 if changed else 200)


_room_base = "/api/rooms/{room_id:int}"
routes = [
    Route(_room_base + "/bans", bans, methods=["GET", "POST"]),
    Route(_room_base + "/bans/{member_id:int}", lift_ban, methods=["DELETE"]),
    Route(_room_base + "/mutes", mutes, methods=["GET", "POST"]),
    Route(_room_base + "/mutes/{member_id:int}", lift_mute, methods=["DELETE"]),
    Route(_room_base + "/slow-mode", slow_mode, methods=["PUT"]),
    Route(_room_base + "/reports", reports, methods=["GET", "POST"]),
    Route(_room_base + "/reports/{report_id:int}/resolve", resolve_report, methods=["POST"]),
    Route(_room_base + "/audit", audit, methods=["GET"]),
    Route("/api/admin/reports", admin_reports, methods=["GET"]),
    Route("/api/admin/members", admin_members, methods=["GET"]),
    Route("/api/admin/members/{member_id:int}/suspension", suspension, methods=["POST", "DELETE"]),
]
