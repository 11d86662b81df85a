"""Emergency rooms over HTTP: the emergency, its members, alerts, sitreps, 4Ws, the digest and the audit trail."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import (
    audit_export, int_param, json, member_endpoint, read_body, read_bounded, services_of,
)
from rooms.emergency.markdown import render
from rooms.emergency.models import Area, EmergencyStatus, Layer, Sitrep
from rooms.emergency.store.fourw import FourWFilter
from rooms.errors import BadRequest
from rooms.models import Member, Role

ClientId = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:\-]+$")]
Text = Annotated[StrictStr, Field(max_length=100_000)]   # real limits are the services'
Short = Annotated[StrictStr, Field(max_length=500)]


class AreaBody(BaseModel):
    country: Annotated[StrictStr, Field(pattern=r"^[A-Z]{2}$")]
    admin_area: Annotated[StrictStr, Field(min_length=1, max_length=120)]


class NewEmergency(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: Annotated[StrictStr, Field(min_length=1, max_length=80)]
    region: Annotated[StrictStr, Field(min_length=1, max_length=200)]
    started_on: date
    topic: Short = ""
    areas: Annotated[list[AreaBody], Field(max_length=200)] = []


class EmergencyChanges(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    status: Literal["active", "closed"] | None = None
    areas: Annotated[list[AreaBody], Field(max_length=200)] | None = None


class NewMember(BaseModel):
    member_id: Annotated[StrictInt, Field(gt=0)]
    coordinator: StrictBool = False


class NewAlert(BaseModel):
    client_id: ClientId
    body: Text


class NewSitrep(BaseModel):
    title: Short
    body: Text
    base_version: Annotated[StrictInt, Field(ge=0)]


class FourWBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organisation: Short | None = None
    activity: Short | None = None
    layer: Short | None = None
    country: Short | None = None
    admin_area: Short | None = None
    start_date: Short | None = None
    end_date: Short | None = None


def _room(request: Request) -> int:
    return request.path_params["room_id"]


def _areas(areas: list[AreaBody]) -> list[Area]:
    return [Area(a.country, " ".join(a.admin_area.split())) for a in areas]


# The emergency and its members.

@member_endpoint
async def list_emergencies(request: Request, member: Member) -> Response:
    mine = await services_of(request).emergency.rooms.mine(member)
    return json({"emergencies": [{**e.public(), "role": role.value, "coordinator": role.can_moderate}
                                 for e, role in mine]})


@member_endpoint
async def awaiting_alerts(request: Request, member: Member) -> Response:
    """The top navigation's badge: alerts waiting for this member's acknowledgement, in all their rooms."""
    response = json({"awaiting": await services_of(request).emergency.alerts.awaiting(member)})
    response.headers["cache-control"] = "no-store"
    return response


@member_endpoint
async def create_emergency(request: Request, member: Member) -> Response:
    body = await read_body(request, NewEmergency)
    emergency = await services_of(request).emergency.rooms.create(
        member, body.name, body.topic, body.region, body.started_on, _areas(body.areas))
    return json(emergency.public(), status=201)


@member_endpoint
async def emergency_detail(request: Request, member: Member) -> Response:
    rooms = services_of(request).emergency.rooms
    if request.method == "PATCH":
        body = await read_body(request, EmergencyChanges)
        await rooms.change(member, _room(request), region=body.region,
                           status=EmergencyStatus(body.status) if body.status else None,
                           areas=_areas(body.areas) if body.areas is not None else None)
    seat = await rooms.seat(member, _room(request))
    return json({**seat.emergency.public(), "role": seat.membership.role.value, "coordinator": seat.coordinator})


@member_endpoint
async def emergency_members(request: Request, member: Member) -> Response:
    rooms = services_of(request).emergency.rooms
    if request.method == "POST":
        body = await read_body(request, NewMember)
        await rooms.add_member(member, _room(request), body.member_id,
                               Role.MODERATOR if body.coordinator else Role.MEMBER)
        return Response(status_code=204)
    members = await rooms.members(member, _room(request))
    return json({"members": [{**m.brief(), "organisation": m.organisation, "role": role.value,
                              "coordinator": role.can_moderate} for m, role in members]})


# Alerts.

@member_endpoint
async def alerts(request: Request, member: Member) -> Response:
    service = services_of(request).emergency.alerts
    if request.method == "POST":
        body = await read_body(request, NewAlert)
        event, created = await service.post(member, _room(request), body.client_id, body.body)
        return json({**event.frame(), "duplicate": not created}, status=201 if created else 200)
    recent = await service.recent(member, _room(request), int_param(request, "limit", 50, 1, 200))
    return json({"alerts": [{**alert.public(), "acks": acks} for alert, acks in recent]})


@member_endpoint
async def pending_alerts(request: Request, member: Member) -> Response:
    pending = await services_of(request).emergency.alerts.pending(member, _room(request))
    return json({"alerts": [alert.public() for alert in pending]})


@member_endpoint
async def alert_status(request: Request, member: Member) -> Response:
    alert, acks, waiting = await services_of(request).emergency.alerts.status(
        member, _room(request), request.path_params["seq"])
    return json({"alert": alert.public(), "acknowledged": [ack.public() for ack in acks],
                 "pending": [{**m.brief(), "organisation": m.organisation} for m in waiting]})


@member_endpoint
async def acknowledge(request: Request, member: Member) -> Response:
    event, created = await services_of(request).emergency.alerts.ack(member, _room(request),
                                                                    request.path_params["seq"])
    return json({**event.frame(), "duplicate": not created}, status=201 if created else 200)


# Situation reports.

@member_endpoint
async def sitrep(request: Request, member: Member) -> Response:
    service = services_of(request).emergency.sitreps
    if request.method == "POST":
        body = await read_body(request, NewSitrep)
        published = await service.publish(member, _room(request), body.title, body.body, body.base_version)
        return json(published.public(_html(published)), status=201)
    current = await service.current(member, _room(request))
    return json({"sitrep": current.public(_html(current)) if current else None})


@member_endpoint
async def sitrep_history(request: Request, member: Member) -> Response:
    history = await services_of(request).emergency.sitreps.history(member, _room(request))
    return json({"versions": [{**s.public(), "changes": diff} for s, diff in history]})


@member_endpoint
async def sitrep_version(request: Request, member: Member) -> Response:
    found = await services_of(request).emergency.sitreps.version(member, _room(request),
                                                                 request.path_params["version"])
    return json(found.public(_html(found)))


def _html(sitrep: Sitrep) -> str:
    return render(sitrep.body)


# 4Ws.

def _filter(request: Request) -> FourWFilter:
    params = request.query_params
    try:
        layer = Layer.parse(params["layer"]) if params.get("layer") else None
    except ValueError:
        raise BadRequest("not an MHPSS layer", field="layer") from None
    return FourWFilter(organisation=params.get("organisation") or None, activity=params.get("activity") or None,
                       layer=layer, country=params.get("country") or None,
                       admin_area=params.get("admin_area") or None, active_on=_date_param(request, "active_on"))


def _date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest("a date written YYYY-MM-DD", field=name) from None


@member_endpoint
async def fourw(request: Request, member: Member) -> Response:
    service = services_of(request).emergency.fourw
    if request.method == "POST":
        body = await read_body(request, FourWBody)
        entry = await service.add(member, _room(request), body.model_dump(exclude_none=True))
        return json(entry.public(), status=201)
    entries = await service.table(member, _room(request), _filter(request))
    return json({"entries": [entry.public() for entry in entries]})


@member_endpoint
async def fourw_entry(request: Request, member: Member) -> Response:
    service = services_of(request).emergency.fourw
    entry_id = request.path_params["entry_id"]
    if request.method == "DELETE":
        await service.remove(member, _room(request), entry_id)
        return Response(status_code=204)
    body = await read_body(request, FourWBody)
    entry = await service.change(member, _room(request), entry_id, body.model_dump(exclude_none=True))
    return json(entry.public())


@member_endpoint
async def fourw_csv(request: Request, member: Member) -> Response:
    text = await services_of(request).emergency.fourw.export_csv(member, _room(request), _filter(request))
    return Response(text, media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="4w-{_room(request)}.csv"'})


@member_endpoint
async def fourw_import(request: Request, member: Member) -> Response:
    services = services_of(request)
    data = await read_bounded(request, services.emergency.settings.fourw_import_max_bytes, field="csv")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the file is not UTF-8 text", field="csv") from None
    count = await services.emergency.fourw.import_csv(member, _room(request), text)
    return json({"imported": count}, status=201)


@member_endpoint
async def fourw_gaps(request: Request, member: Member) -> Response:
    gaps = await services_of(request).emergency.fourw.gaps(member, _room(request), _date_param(request, "on"))
    return json({"layers": [layer.value for layer in Layer], "areas": [gap.public() for gap in gaps]})


# Digest, audit, notification address.

@member_endpoint
async def digest(request: Request, member: Member) -> Response:
    service = services_of(request).emergency.digest
    if request.method == "POST":
        return json((await service.email(member, _room(request))).public(), status=202)
    return json((await service.look(member, _room(request))).public())


@member_endpoint
async def audit(request: Request, member: Member) -> Response:
    service, room_id = services_of(request).emergency.audit, _room(request)
    return await audit_export(request.path_params["format"], f"audit-{room_id}",
                              lambda: service.as_json(member, room_id), lambda: service.as_csv(member, room_id))


_base = "/api/emergencies/{room_id:int}"
routes = [
    Route("/api/emergencies", list_emergencies, methods=["GET"]),
    Route("/api/emergencies", create_emergency, methods=["POST"]),
    Route("/api/emergencies/awaiting", awaiting_alerts, methods=["GET"]),
    Route(_base, emergency_detail, methods=["GET", "PATCH"]),
    Route(_base + "/members", emergency_members, methods=["GET", "POST"]),
    Route(_base + "/alerts", alerts, methods=["GET", "POST"]),
    Route(_base + "/alerts/pending", pending_alerts, methods=["GET"]),
    Route(_base + "/alerts/{seq:int}", alert_status, methods=["GET"]),
    Route(_base + "/alerts/{seq:int}/ack", acknowledge, methods=["POST"]),
    Route(_base + "/sitrep", sitrep, methods=["GET", "POST"]),
    Route(_base + "/sitreps", sitrep_history, methods=["GET"]),
    Route(_base + "/sitreps/{version:int}", sitrep_version, methods=["GET"]),
    Route(_base + "/fourw", fourw, methods=["GET", "POST"]),
    Route(_base + "/fourw.csv", fourw_csv, methods=["GET"]),
    Route(_base + "/fourw/import", fourw_import, methods=["POST"]),
    Route(_base + "/fourw/gaps", fourw_gaps, methods=["GET"]),
    Route(_base + "/fourw/{entry_id:int}", fourw_entry, methods=["PATCH", "DELETE"]),
    Route(_base + "/digest", digest, methods=["GET", "POST"]),
    Route(_base + "/audit.{format}", audit, methods=["GET"]),
]
