"""A room's audit trail for its moderators and site admins: what was done in it rather than what was said.

Every moderation action (mutes, bans, kicks, role changes, slow mode), every deletion and every
other structured event of the room's sequence, from rooms/audit.py; messages and edits are left
out (an emergency room's coordinators export everything: rooms/emergency/audit.py).
"""

from __future__ import annotations

from rooms.audit import AuditTrail
from rooms.models import EventKind, Member
from rooms.moderation.authority import Authority
from rooms.store import Stores

ACTIONS = tuple(kind for kind in EventKind if kind not in (EventKind.MESSAGE, EventKind.EDIT))


class RoomAudit:
    def __init__(self, authority: Authority, stores: Stores) -> None:
        self.authority = authority
        self.trail = AuditTrail(stores)

    async def as_json(self, actor: Member, room_id: int) -> bytes:
        seat = await self.authority.seat(actor, room_id)
        return await self.trail.as_json({"room": seat.room.public()}, room_id, ACTIONS)

    async def as_csv(self, actor: Member, room_id: int) -> str:
        await self.authority.seat(actor, room_id)
        return await self.trail.as_csv(room_id, ACTIONS)
