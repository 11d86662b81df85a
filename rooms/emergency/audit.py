"""An emergency room's audit trail: every event of its sequence (rooms/audit.py), for coordinators.

Every message, alert, acknowledgement, sitrep version, 4W change, change to the emergency,
membership change and moderation action (mutes, bans, role changes) is an event of the room's
sequence, so the trail is the sequence itself.
"""

from __future__ import annotations

from rooms.audit import AuditTrail
from rooms.emergency.models import Emergency
from rooms.emergency.rooms import EmergencyRooms
from rooms.models import Member
from rooms.store import Stores


class AuditService:
    def __init__(self, rooms: EmergencyRooms, stores: Stores) -> None:
        self.rooms = rooms
        self.trail = AuditTrail(stores)

    async def open(self, member: Member, room_id: int) -> Emergency:
        """Coordinators only; a closed emergency's trail stays readable."""
        return (await self.rooms.coordinator_seat(member, room_id, active=False)).emergency

    async def as_json(self, member: Member, room_id: int) -> bytes:
        emergency = await self.open(member, room_id)
        return await self.trail.as_json({"emergency": emergency.public()}, room_id)

    async def as_csv(self, member: Member, room_id: int) -> str:
        await self.open(member, room_id)
        return await self.trail.as_csv(room_id)
