"""Several hosts per webinar: the creator adds and removes co-hosts, who have every power a host has.

Decisions (docs/webinars.md, "Several hosts"): only the creator manages hosts — whether or not they
are a host themselves at the moment — and, should the creator's account be gone, any host does. A
webinar always keeps at least one host: removing the last one is refused (409). A host who is
removed stays registered, in the audience; the HOST event on the room tells every process, and the
media layer stops their publishing as it does for a demotion.
"""

from __future__ import annotations

from rooms.errors import Conflict, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService
from rooms.webinars.sessions import Seat, WebinarSessions, open_for_changes
from rooms.webinars.store import WebinarStores
from rooms.webinars.store.hosts import HostChange


class HostService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.store = stores.hosts
        self.standings = stores.sessions
        self.chat = chat

    async def hosts(self, member: Member, webinar_id: int) -> list[Member]:
        await self.sessions.seat(member, webinar_id)
        ids = await self.store.hosts(webinar_id)
        found = {m.id: m for m in await self.sessions.stores.accounts.get_many(ids)}
        return [found[i] for i in ids if i in found]

    async def may_manage(self, member: Member, webinar_id: int) -> bool:
        seat = await self.sessions.seat(member, webinar_id)
        return _manages(seat, member)

    async def add(self, actor: Member, webinar_id: int, member_id: int) -> bool:
        """Makes a member a co-host; False when they already were one."""
        seat = await self._manager(actor, webinar_id)
        target = await self.sessions.stores.accounts.get(member_id)
        if target is None:
            raise NotFound("no such member", field="member_id")
        if (await self.standings.standing(webinar_id, member_id)).removed:
            raise Conflict("this member was removed from the webinar", field="member_id")
        return await self._set(seat, actor, target, True)

    async def remove(self, actor: Member, webinar_id: int, member_id: int) -> bool:
        """Takes a host's role back (they stay in the audience); False when they were not a host."""
        seat = await self._manager(actor, webinar_id)
        target = await self.sessions.stores.accounts.get(member_id)
        if target is None:
            raise NotFound("no such member", field="member_id")
        return await self._set(seat, actor, target, False)

    async def _set(self, seat: Seat, actor: Member, target: Member, host: bool) -> bool:
        change, event = await self.store.set_host(seat.webinar, target.id, host, actor.id,
                                                  {"member": target.brief(), "host": host})
        if change is HostChange.LAST_HOST:
            raise Conflict("a webinar keeps at least one host: add another host first", field="member_id")
        if event is not None:
            await self.chat.publish(event)
        return change is HostChange.DONE

    async def _manager(self, actor: Member, webinar_id: int) -> Seat:
        seat = await self.sessions.seat(actor, webinar_id)
        if seat.removed:
            raise Forbidden("you were removed from this webinar")
        if not _manages(seat, actor):
            raise Forbidden("only the webinar's creator adds and removes hosts")
        open_for_changes(seat.webinar)
        return seat


def _manages(seat: Seat, member: Member) -> bool:
    if seat.removed:
        return False
    if seat.webinar.created_by is None:   # the creator's account is gone: the hosts look after it
        return seat.hosts
    return seat.webinar.created_by == member.id

