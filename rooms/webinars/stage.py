"""Who is on stage: attendees raise and lower hands; moderators promote an attendee to speaker and demote them.

Hands only while the webinar is live. Promotion and demotion also before the start, so speakers can
meet the hosts in the green room and check their camera and microphone. A speaker may publish media
(see Seat.may_publish); promoting lowers the member's hand.
"""

from __future__ import annotations

from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import EventKind, Member
from rooms.service import ChatService
from rooms.webinars.models import WebinarRole
from rooms.webinars.sessions import WebinarSessions
from rooms.webinars.store import WebinarStores


class StageService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.hands = stores.hands
        self.roles = stores.sessions
        self.chat = chat

    async def hand(self, member: Member, webinar_id: int, raised: bool) -> bool:
        """Raises or lowers the caller's own hand; False when it already was so."""
        seat = await self.sessions.participant(member, webinar_id, live=True)
        return await self._set_hand(seat.webinar.id, seat.webinar.room_id, member, raised, member.id)

    async def lower(self, moderator: Member, webinar_id: int, member_id: int) -> bool:
        seat = await self.sessions.moderator(moderator, webinar_id, live=True)
        target = await self._member(member_id)
        return await self._set_hand(seat.webinar.id, seat.webinar.room_id, target, False, moderator.id)

    async def raised(self, member: Member, webinar_id: int) -> list[Member]:
        await self.sessions.seat(member, webinar_id)
        return await self.hands.raised(webinar_id)

    async def promote(self, moderator: Member, webinar_id: int, member_id: int) -> None:
        seat = await self.sessions.moderator(moderator, webinar_id)
        target = await self._member(member_id)
        standing = await self.roles.standing(webinar_id, member_id)
        if not standing.registered:
            raise NotFound("not registered for this webinar", field="member_id")
        if standing.role is not None:
            if standing.role is WebinarRole.SPEAKER:
                return
            raise BadRequest("hosts and panelists are already on stage", field="member_id")
        await self._set_hand(webinar_id, seat.webinar.room_id, target, False, moderator.id)
        event = await self.roles.set_role(seat.webinar, member_id, WebinarRole.SPEAKER, moderator.id,
                                          EventKind.SPEAKER, {"member": target.brief(), "speaker": True})
        assert event is not None
        await self.chat.publish(event)

    async def demote(self, moderator: Member, webinar_id: int, member_id: int) -> None:
        seat = await self.sessions.moderator(moderator, webinar_id)
        target = await self._member(member_id)
        role = (await self.roles.standing(webinar_id, member_id)).role
        if role is None:
            return
        if role is not WebinarRole.SPEAKER:
            raise Forbidden("hosts and panelists are not demoted here", field="member_id")
        event = await self.roles.set_role(seat.webinar, member_id, None, moderator.id,
                                          EventKind.SPEAKER, {"member": target.brief(), "speaker": False})
        assert event is not None
        await self.chat.publish(event)

    async def _set_hand(self, webinar_id: int, room_id: int, member: Member, raised: bool, actor_id: int) -> bool:
        event = await self.hands.set(webinar_id, room_id, member.id, raised, actor_id,
                                     {"member": member.brief(), "raised": raised})
        if event is not None:
            await self.chat.publish(event)
        return event is not None

    async def _member(self, member_id: int) -> Member:
        member = await self.sessions.stores.accounts.get(member_id)
        if member is None:
            raise NotFound("no such member", field="member_id")
        return member
