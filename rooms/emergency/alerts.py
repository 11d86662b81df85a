"""Urgent alerts: coordinators post, every member acknowledges, and those who have not are reminded.

Alerts and acknowledgements are events in the room's sequence, so they reach every
process and every resuming client exactly once. Reminders are claimed through the
database (store/alerts.py), so with any number of processes each is sent once, and a
process that dies leaves its due reminders to the others.
"""

from __future__ import annotations

import functools
import logging

from rooms.emergency.models import Alert, AlertAck, Emergency
from rooms.emergency.rooms import EmergencyRooms
from rooms.emergency.settings import EmergencySettings
from rooms.emergency.store import EmergencyStores
from rooms.errors import BadRequest, NotFound
from rooms.models import Event, EventKind, Member
from rooms.service import ChatService
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)


class AlertService:
    def __init__(self, rooms: EmergencyRooms, stores: EmergencyStores, chat: ChatService,
                 settings: EmergencySettings) -> None:
        self.rooms = rooms
        self.store = stores.alerts
        self.chat = chat
        self.settings = settings

    async def post(self, member: Member, room_id: int, client_id: str, body: str) -> tuple[Event, bool]:
        """Stores the alert once per client id and publishes it. Answers (event, created)."""
        body = body.strip()
        if not body:
            raise BadRequest("an alert needs some text", field="body")
        if len(body) > self.settings.alert_max_chars:
            raise BadRequest(f"at most {self.settings.alert_max_chars} characters", field="body")
        await self.rooms.coordinator_seat(member, room_id)
        event, created = await self.store.post(room_id, member.id, client_id, body,
                                               self.settings.alert_renotify_s, self.settings.alert_renotify_max)
        if event.kind is not EventKind.ALERT:
            raise BadRequest("this client_id was used for a message", field="client_id")
        if created:
            await self.chat.publish(event)
        return event, created

    async def ack(self, member: Member, room_id: int, alert_seq: int) -> tuple[Event, bool]:
        await self.rooms.active_seat(member, room_id)
        alert = await self.store.get(room_id, alert_seq)
        if alert is None:
            raise NotFound("no such alert", field="alert")
        event, created = await self.store.ack(room_id, alert_seq, member.id)
        if created:
            await self.store.settle_if_done(room_id, alert_seq, alert.author_id)
            await self.chat.publish(event)
        return event, created

    async def pending(self, member: Member, room_id: int) -> list[Alert]:
        """What this member has yet to acknowledge: a client shows these before anything else."""
        await self.rooms.seat(member, room_id)
        return await self.store.pending_for(room_id, member.id)

    async def awaiting(self, member: Member) -> int | None:
        """Alerts waiting for this member's acknowledgement in all their emergency rooms; None when
        they belong to none (the top navigation then has no Emergencies link)."""
        return await self.store.awaiting(member.id)

    async def recent(self, member: Member, room_id: int, limit: int = 50) -> list[tuple[Alert, int]]:
        await self.rooms.seat(member, room_id)
        return await self.store.recent(room_id, limit)

    async def status(self, member: Member, room_id: int, alert_seq: int) -> tuple[Alert, list[AlertAck], list[Member]]:
        """The coordinator's view: who acknowledged (and when), who has not."""
        await self.rooms.coordinator_seat(member, room_id, active=False)
        alert = await self.store.get(room_id, alert_seq)
        if alert is None:
            raise NotFound("no such alert", field="alert")
        return alert, await self.store.acks(room_id, alert_seq), await self.store.unacknowledged(room_id, alert)

    # The reminder job: one pass.

    async def remind_due(self) -> int:
        """Sends the reminders that are due and this process claims. Answers how many alerts it reminded of."""
        reminded = 0
        for alert in await self.store.due(utcnow()):
            emergency = await self.rooms.store.get(alert.room_id)
            if emergency is None:
                continue
            subject = f"[Convene] Unacknowledged alert: {emergency.room.name}"
            pending = await self.store.claim_reminder(alert, subject,
                                                      functools.partial(_reminder, emergency, alert))
            if not pending:
                continue
            reminded += 1
            log.info("room %s alert %s: reminded %d members", alert.room_id, alert.seq, len(pending))
            await self.chat.publish_ephemeral(alert.room_id, {
                "type": "alert.reminder", "room": alert.room_id, "alert": alert.seq,
                **{k: v for k, v in alert.public().items() if k in ("body", "priority", "sender", "ts")},
                "reminder": alert.reminders_sent + 1, "to": [m.id for m in pending]})
        return reminded


def _reminder(emergency: Emergency, alert: Alert, member: Member) -> str:
    """The e-mail text of a reminder to one member."""
    return (f"Hello {member.display_name},\n\n"
            f"An urgent alert in {emergency.room.name} ({emergency.region}) is waiting for your "
            f"acknowledgement:\n\n  {alert.body}\n\n"
            f"Posted by {alert.author_name} at {alert.created_at:%Y-%m-%d %H:%M} UTC.\n"
            f"Acknowledge it in Convene: /emergencies/{alert.room_id}\n")
