"""Socket frames of emergency rooms (alert, alert.ack, alerts), handled for a gateway Session."""

from __future__ import annotations

from typing import TYPE_CHECKING, Awaitable, Callable

from realtime import protocol as p

if TYPE_CHECKING:
    from realtime.gateway import Session

Handler = Callable[..., Awaitable[None]]


def handlers(session: "Session") -> dict[str, Handler]:
    async def on_alert(frame: p.PostAlert) -> None:
        event, created = await session.services.emergency.alerts.post(
            session.conn.member, frame.room, frame.client_id, frame.body)
        session.reply({"type": "ack", "room": event.room_id, "client_id": event.client_id, "seq": event.seq,
                       "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)

    async def on_alert_ack(frame: p.AckAlert) -> None:
        event, created = await session.services.emergency.alerts.ack(session.conn.member, frame.room, frame.alert)
        session.reply({"type": "ack", "room": event.room_id, "alert": frame.alert, "seq": event.seq,
                       "ts": event.created_at.isoformat(), "duplicate": not created}, frame.ref)

    async def on_alerts(frame: p.PendingAlerts) -> None:
        pending = await session.services.emergency.alerts.pending(session.conn.member, frame.room)
        session.reply({"type": "alerts", "room": frame.room, "alerts": [a.public() for a in pending]}, frame.ref)

    return {"alert": on_alert, "alert.ack": on_alert_ack, "alerts": on_alerts}
