"""Mutes and bans: moderators impose and lift them; each is an event of the room's sequence.

A mute lasts a given time: the member reads but sends, edits and reacts nothing until it ends
(the chat core refuses them inside its own write, rooms/store/messages.py). A ban lasts a given
time or for good: the member is no longer a member and may neither rejoin, nor read, nor
subscribe; every process ends their live subscriptions when it sees the event (realtime/hub.py).
"""

from __future__ import annotations

from datetime import timedelta

from rooms import metrics
from rooms.errors import BadRequest, NotFound
from rooms.management import RoomService
from rooms.models import Event, Member
from rooms.moderation.authority import Authority
from rooms.moderation.models import Action, ActiveRestriction, Restriction
from rooms.moderation.store import ModerationStores
from rooms.service import ChatService
from rooms.store.schema import utcnow

MAX_MUTE_MINUTES = 30 * 24 * 60
MAX_BAN_MINUTES = 366 * 24 * 60
MAX_REASON = 500


class RestrictionService:
    def __init__(self, authority: Authority, stores: ModerationStores, chat: ChatService, rooms: RoomService) -> None:
        self.authority = authority
        self.store = stores.restrictions
        self.chat = chat
        self.rooms = rooms

    async def mute(self, actor: Member, room_id: int, member_id: int, minutes: int, reason: str = "") -> Event:
        if not 1 <= minutes <= MAX_MUTE_MINUTES:
            raise BadRequest(f"1 to {MAX_MUTE_MINUTES} minutes", field="minutes")
        return await self._impose(actor, room_id, member_id, Restriction.MUTE, minutes, reason)

    async def ban(self, actor: Member, room_id: int, member_id: int, minutes: int | None = None,
                  reason: str = "") -> Event:
        """Bans for `minutes`, or for good when None."""
        if minutes is not None and not 1 <= minutes <= MAX_BAN_MINUTES:
            raise BadRequest(f"1 to {MAX_BAN_MINUTES} minutes, or none for a ban without end", field="minutes")
        return await self._impose(actor, room_id, member_id, Restriction.BAN, minutes, reason)

    async def lift(self, actor: Member, room_id: int, member_id: int, kind: Restriction) -> Event:
        seat = await self.authority.seat(actor, room_id)
        target = await self.authority.target(seat, member_id)
        action = Action.UNMUTE if kind is Restriction.MUTE else Action.UNBAN
        event = await self.store.lift(room_id, member_id, kind, actor.id,
                                      {"action": action.value, "member": target.member.brief()})
        if event is None:
            raise NotFound("not muted" if kind is Restriction.MUTE else "not banned", field="member_id")
        metrics.moderation_action[action.value].inc()
        await self.chat.publish(event)
        return event

    async def active(self, actor: Member, room_id: int, kind: Restriction) -> list[ActiveRestriction]:
        await self.authority.seat(actor, room_id)
        return await self.store.active(room_id, kind)

    async def _impose(self, actor: Member, room_id: int, member_id: int, kind: Restriction, minutes: int | None,
                      reason: str) -> Event:
        reason = reason.strip()
        if len(reason) > MAX_REASON:
            raise BadRequest(f"at most {MAX_REASON} characters", field="reason")
        seat = await self.authority.seat(actor, room_id)
        target = await self.authority.target(seat, member_id)
        until = utcnow() + timedelta(minutes=minutes) if minutes is not None else None
        fields = {"action": kind.value, "member": target.member.brief(),
                  "until": until.isoformat() if until else None, "reason": reason}
        event, was_member = await self.store.impose(room_id, member_id, kind, until, reason, actor.id, fields)
        metrics.moderation_action[kind.value].inc()
        await self.chat.publish(event)   # every process ends a banned member's subscriptions on seeing it
        if was_member:
            await self.rooms.on_membership(seat.room, target.member, False)
        return event
