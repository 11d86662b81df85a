"""Pages of emergency rooms: the list, the coordination dashboard (works without JavaScript) and the plain-text digest."""

from __future__ import annotations

import uuid
from datetime import date

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.pages.rendering import member_page, read_form, render, see_other
from rooms.emergency.markdown import render as render_markdown
from rooms.emergency.models import LAYER_LABELS, Layer
from rooms.emergency.store.fourw import FourWFilter
from rooms.errors import BadRequest
from rooms.models import Member

FILTERS = ("organisation", "activity", "layer", "country", "admin_area")


@member_page
async def emergencies_page(request: Request, member: Member) -> Response:
    mine = await services_of(request).emergency.rooms.mine(member)
    return render(request, "emergencies.html", {"emergencies": mine, "today": date.today().isoformat()},
                   member=member)


@member_page
async def new_emergency(request: Request, member: Member) -> Response:
    form = await read_form(request)
    try:
        started_on = date.fromisoformat(form.get("started_on", ""))
    except ValueError:
        raise BadRequest("a date written YYYY-MM-DD", field="started_on") from None
    emergency = await services_of(request).emergency.rooms.create(
        member, form.get("name", ""), form.get("topic", ""), form.get("region", ""), started_on, [])
    return see_other(f"/emergencies/{emergency.room.id}")


@member_page
async def dashboard(request: Request, member: Member) -> Response:
    services = services_of(request).emergency
    room_id = request.path_params["room_id"]
    seat = await services.rooms.seat(member, room_id)
    chosen = {name: request.query_params.get(name, "") for name in FILTERS}
    try:
        layer = Layer.parse(chosen["layer"]) if chosen["layer"] else None
    except ValueError:
        layer = None
    where = FourWFilter(organisation=chosen["organisation"] or None, activity=chosen["activity"] or None,
                        layer=layer, country=chosen["country"] or None, admin_area=chosen["admin_area"] or None)
    sitrep = await services.sitreps.current(member, room_id)
    recent = await services.alerts.recent(member, room_id, 20)
    status = {}
    if seat.coordinator:
        for alert, _ in recent[:5]:
            _, acks, waiting = await services.alerts.status(member, room_id, alert.seq)
            status[alert.seq] = (acks, waiting)
    return render(request, "emergency.html", {
        "seat": seat, "emergency": seat.emergency, "pending": await services.alerts.pending(member, room_id),
        "recent": recent, "status": status, "sitrep": sitrep, "sitrep_html": render_markdown(sitrep.body) if sitrep else "",
        "entries": await services.fourw.table(member, room_id, where), "gaps": await services.fourw.gaps(member, room_id),
        "layers": LAYER_LABELS, "chosen": chosen, "client_id": uuid.uuid4().hex,
    }, member=member)


@member_page
async def post_alert(request: Request, member: Member) -> Response:
    form = await read_form(request)
    room_id = request.path_params["room_id"]
    await services_of(request).emergency.alerts.post(member, room_id, form.get("client_id") or uuid.uuid4().hex,
                                                     form.get("body", ""))
    return see_other(f"/emergencies/{room_id}")


@member_page
async def ack_alert(request: Request, member: Member) -> Response:
    room_id = request.path_params["room_id"]
    await services_of(request).emergency.alerts.ack(member, room_id, request.path_params["seq"])
    return see_other(f"/emergencies/{room_id}")


@member_page
async def add_fourw(request: Request, member: Member) -> Response:
    form = await read_form(request)
    room_id = request.path_params["room_id"]
    await services_of(request).emergency.fourw.add(member, room_id, form)
    return see_other(f"/emergencies/{room_id}#fourw")


@member_page
async def digest_page(request: Request, member: Member) -> Response:
    """The smallest thing that tells a responder on a poor link what changed: plain text."""
    digest = await services_of(request).emergency.digest.look(member, request.path_params["room_id"])
    return PlainTextResponse(digest.text, headers={"cache-control": "no-store"})


routes = [
    Route("/emergencies", emergencies_page, methods=["GET"]),
    Route("/emergencies/new", new_emergency, methods=["POST"]),
    Route("/emergencies/{room_id:int}", dashboard, methods=["GET"]),
    Route("/emergencies/{room_id:int}/alerts", post_alert, methods=["POST"]),
    Route("/emergencies/{room_id:int}/alerts/{seq:int}/ack", ack_alert, methods=["POST"]),
    Route("/emergencies/{room_id:int}/fourw", add_fourw, methods=["POST"]),
    Route("/emergencies/{room_id:int}/digest", digest_page, methods=["GET"]),
]
