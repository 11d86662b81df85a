"""Moderation: hosts and panelists mute anyone on stage and remove members from a webinar.

Muting is a flag on the registration (the media layer forwards no audio from a muted member) and
only moderators lift it. Removal takes away registration, role, hand and the chat rooms (the webinar's,
and those of the breakout groups the member was in), and is
remembered so the member cannot register again; their sockets stop receiving the room at once
(the chat core's departure frame, as when a member is removed from a private room).
Hosts outrank panelists: a panelist neither mutes nor removes a host, nor removes another panelist.
"""

from __future__ import annotations

from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService
from rooms.webinars.models import WebinarRole
from rooms.webinars.sessions import Seat, WebinarSessions
from rooms.webinars.store import WebinarStores
from rooms.webinars.store.sessions import Standing


class ModerationService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.store = stores.moderation
        self.breakouts = stores.breakouts
        self.standings = stores.sessions
        self.chat = chat

    async def mute(self, moderator: Member, webinar_id: int, member_id: int, muted: bool) -> bool:
        """Mutes or unmutes a member on stage; answers whether anything changed."""
        seat = await self.sessions.moderator(moderator, webinar_id)
        target, standing = await self._target(seat, member_id)
        if standing.role is None:
            raise BadRequest("only hosts, panelists and speakers are muted", field="member_id")
        if standing.role is WebinarRole.HOST and not seat.hosts:
            raise Forbidden("only hosts mute a host", field="member_id")
        event = await self.store.set_muted(seat.webinar, member_id, muted, moderator.id,
                                           {"member": target.brief(), "muted": muted})
        if event is not None:
            await self.chat.publish(event)
        return event is not None

    async def remove(self, moderator: Member, webinar_id: int, member_id: int) -> bool:
        """Removes a member from the webinar for good; answers False when they already were."""
        seat = await self.sessions.seat(moderator, webinar_id)
        if not seat.moderates:
            raise Forbidden("only hosts and panelists do this")
        if member_id == moderator.id:
            raise BadRequest("you cannot remove yourself", field="member_id")
        target, standing = await self._target(seat, member_id, removed_ok=True)
        if standing.removed:
            return False
        if standing.role is WebinarRole.HOST:
            raise Forbidden("hosts cannot be removed", field="member_id")
        if standing.role is WebinarRole.PANELIST and not seat.hosts:
            raise Forbidden("only hosts remove a panelist", field="member_id")
        group_rooms = tuple(await self.breakouts.rooms_of(webinar_id, member_id))
        event = await self.store.remove(seat.webinar, member_id, moderator.id, {"member": target.brief()},
                                        group_rooms)
        if event is None:
            return False
        await self.chat.publish(event)
        # The departure frames after the event: every process drops the member's subscriptions (the
        # webinar's chat, and their breakout groups' chats).
        for room_id in (seat.webinar.room_id, *group_rooms):
            await self.chat.announce_membership(await self.chat.rooms.get(room_id), target, False)
        return True

    async def _target(self, seat: Seat, member_id: int, removed_ok: bool = False) -> tuple[Member, Standing]:
        target = await self.sessions.stores.accounts.get(member_id)
        standing = await self.standings.standing(seat.webinar.id, member_id)
        if target is None or not (standing.registered or (removed_ok and standing.removed)):
            raise NotFound("not registered for this webinar", field="member_id")
        return target, standing
