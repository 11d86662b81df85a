"""Kicks, role changes and slow mode: each an event of the room's sequence, so the audit trail has them.

A kick removes a member from the room and ends their live subscriptions on every process, in
public rooms too (realtime/hub.py); unlike a ban, they may join again.
"""

from __future__ import annotations

from rooms import metrics
from rooms.errors import BadRequest, NotFound
from rooms.management import RoomService
from rooms.models import Event, Member, Role, Room, RoomKind
from rooms.moderation.authority import Authority
from rooms.moderation.models import Action
from rooms.moderation.store import ModerationStores
from rooms.service import ChatService

MAX_SLOW_MODE_S = 3600


class RoomActions:
    def __init__(self, authority: Authority, stores: ModerationStores, chat: ChatService, rooms: RoomService) -> None:
        self.authority = authority
        self.store = stores.actions
        self.chat = chat
        self.rooms = rooms

    async def kick(self, actor: Member, room_id: int, member_id: int, reason: str = "") -> Event:
        seat = await self.authority.seat(actor, room_id)
        target = await self.authority.target(seat, member_id)
        if target.membership is None:
            raise NotFound("not a member", field="member_id")
        event = await self.store.kick(room_id, member_id, actor.id,
                                      {"action": Action.KICK.value, "member": target.member.brief(),
                                       "reason": reason.strip()[:500]})
        if event is None:
            raise NotFound("not a member", field="member_id")
        metrics.moderation_action[Action.KICK.value].inc()
        await self.chat.publish(event)
        await self.rooms.on_membership(seat.room, target.member, False)
        return event

    async def set_role(self, actor: Member, room_id: int, member_id: int, role: Role) -> Event | None:
        """Owners (and site admins) change roles; a room keeps at least one owner. None when unchanged."""
        seat = await self.authority.owner_seat(actor, room_id)
        if seat.room.kind is RoomKind.DM:
            raise BadRequest("conversations have no roles", field="room")
        target = await self._member(member_id)
        if (member_id == actor.id and role is not Role.OWNER
                and await self.rooms.stores.memberships.count_with_role(room_id, Role.OWNER) == 1):
            raise BadRequest("a room keeps at least one owner", field="role")
        event, before = await self.store.set_role(room_id, member_id, role, actor.id,
                                                  {"action": Action.ROLE.value, "member": target.brief(),
                                                   "role": role.value})
        if before is None:
            raise NotFound("not a member", field="member_id")
        if event is not None:
            metrics.moderation_action[Action.ROLE.value].inc()
            await self.chat.publish(event)
        return event

    async def set_slow_mode(self, actor: Member, room_id: int, seconds: int) -> Room:
        """One message per member every `seconds` (0 turns it off); moderators are exempt."""
        if not 0 <= seconds <= MAX_SLOW_MODE_S:
            raise BadRequest(f"0 to {MAX_SLOW_MODE_S} seconds", field="seconds")
        seat = await self.authority.seat(actor, room_id)
        event = await self.store.set_slow_mode(room_id, seconds, actor.id,
                                               {"action": Action.SLOW_MODE.value, "seconds": seconds})
        if event is not None:
            metrics.moderation_action[Action.SLOW_MODE.value].inc()
            await self.chat.publish(event)
        return await self.rooms.get(seat.room.id)

    async def _member(self, member_id: int) -> Member:
        member = await self.rooms.stores.accounts.get(member_id)
        if member is None:
            raise NotFound("not a member", field="member_id")
        return member
