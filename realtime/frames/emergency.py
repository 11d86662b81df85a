"""Frames of emergency rooms (docs/emergency.md): post an alert, acknowledge one, list those pending."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt

from realtime.frames.table import FrameGroup
from realtime.protocol import Body, ClientId, Frame, RoomId
from realtime.session import Session


class PostAlert(Frame):
    type: Literal["alert"]
    room: RoomId
    client_id: ClientId
    body: Body


class AckAlert(Frame):
    type: Literal["alert.ack"]
    room: RoomId
    alert: Annotated[StrictInt, Field(gt=0, lt=2**53)]


class PendingAlerts(Frame):
    type: Literal["alerts"]
    room: RoomId


async def on_alert(session: Session, frame: PostAlert) -> None:
    event, created = await session.services.emergency.alerts.post(
        session.conn.member, frame.room, frame.client_id, frame.body)
    session.reply({"type": "ack", "room": event.room_id, "client_id": event.client_id, "seq": event.seq,
                   "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)


async def on_alert_ack(session: Session, frame: AckAlert) -> None:
    event, created = await session.services.emergency.alerts.ack(session.conn.member, frame.room, frame.alert)
    session.reply({"type": "ack", "room": event.room_id, "alert": frame.alert, "seq": event.seq,
                   "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)


async def on_alerts(session: Session, frame: PendingAlerts) -> None:
    pending = await session.services.emergency.alerts.pending(session.conn.member, frame.room)
    session.reply({"type": "alerts", "room": frame.room, "alerts": [a.public() for a in pending]}, frame.ref)


FRAMES: FrameGroup = {PostAlert: on_alert, AckAlert: on_alert_ack, PendingAlerts: on_alerts}
