"""Breakout groups for trainings: hosts split the audience into small groups that talk among themselves, for a
set time, then call everyone back.

A round opens with one chat room per group (kind breakout: its members and the webinar's hosts) and
a BREAKOUT event in the webinar's room naming every group and its members — that event is what the
media layer follows to forward each group's audio and video within the group only. The round ends
when a host calls everyone back, when its timer runs out (a warning first), or when the webinar ends;
each of these is a conditional update, so exactly one process closes a round and appends its events
whichever gets there first. A group's chat stays readable afterwards but takes no more messages.

Only hosts open, broadcast to and close groups; only while the webinar is live.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from datetime import timedelta

from rooms import metrics
from rooms.errors import BadRequest, Conflict, Forbidden, NotFound
from rooms.models import Event, Member, Room, RoomKind
from rooms.service import ChatService
from rooms.store.schema import utcnow
from rooms.webinars.models import Breakout, BreakoutEnd, Webinar, WebinarRole, WebinarState
from rooms.webinars.sessions import Seat, WebinarSessions
from rooms.webinars.store import WebinarStores

log = logging.getLogger(__name__)

MAX_GROUP = 8            # everyone in a group sees and hears everyone else: 8 people are 56 forwarded streams
MAX_GROUPS = 100
MIN_DURATION_S = 2         # the page offers minutes; seconds are for tests and rehearsals
MAX_DURATION_S = 4 * 3600
MAX_BROADCAST = 1000
DEFAULT_WARNING_S = 60
GAUGES_EVERY_S = 5.0


class BreakoutService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.store = stores.breakouts
        self.hosts = stores.hosts
        self.registrations = stores.sessions
        self.attendance = stores.attendance
        self.chat = chat
        self._gauges_at = 0.0

    async def open(self, host: Member, webinar_id: int, *, groups: list[list[int]] | None = None,
                   size: int | None = None, duration_s: int, warning_s: int | None = None) -> Breakout:
        """Splits by hand (`groups`: lists of member ids) or at random (`size`: people per group, taken from
        the audience present now — hosts and panelists stay in the main session, members banned from the
        webinar's room take no part). The warning comes
        `warning_s` before the end (by default a minute, or half the time for shorter groups)."""
        seat = await self._host(host, webinar_id)
        if not MIN_DURATION_S <= duration_s <= MAX_DURATION_S:
            raise BadRequest(f"{MIN_DURATION_S} to {MAX_DURATION_S} seconds", field="duration_s")
        if warning_s is None:
            warning_s = min(DEFAULT_WARNING_S, duration_s // 2)
        if not 0 <= warning_s < duration_s:
            raise BadRequest("0 or more seconds, less than the duration", field="warning_s")
        if (groups is None) == (size is None):
            raise BadRequest("give either groups (by hand) or size (at random)", field="groups")
        split = await (self._by_hand(seat.webinar, groups) if groups is not None
                       else self._at_random(seat.webinar, size or 0))
        now = utcnow()
        ends_at = now + timedelta(seconds=duration_s)
        opened = await self.store.open(seat.webinar, host.id, split, await self.hosts.hosts(webinar_id), ends_at,
                                       ends_at - timedelta(seconds=warning_s),
                                       f"{seat.webinar.title[:60]} · group {{n}}")
        if opened is None:
            raise Conflict("breakout groups are open already: call everyone back first")
        breakout, events = opened
        await self._publish(events)
        log.info("webinar %s: %d breakout groups opened for %s s", webinar_id, len(breakout.groups), duration_s)
        return breakout

    async def current(self, member: Member, webinar_id: int) -> Breakout | None:
        """The open round, for anyone taking part (it names the groups and who is in each)."""
        seat = await self.sessions.seat(member, webinar_id)
        if seat.removed or not (seat.registered or seat.role is not None):
            raise Forbidden("register for this webinar first")
        return await self.store.current(webinar_id)

    async def broadcast(self, host: Member, webinar_id: int, body: str) -> int:
        """A host's message to every group (in each group's chat); answers how many groups got it."""
        body = body.strip()
        if not body or len(body) > MAX_BROADCAST:
            raise BadRequest(f"1 to {MAX_BROADCAST} characters", field="body")
        await self._host(host, webinar_id)
        breakout = await self.store.current(webinar_id)
        if breakout is None:
            raise Conflict("no breakout groups are open")
        await self._publish(await self.store.broadcast(breakout, host.id, body))
        return len(breakout.groups)

    async def close(self, host: Member, webinar_id: int) -> Breakout:
        """Calls everyone back to the main session."""
        seat = await self._host(host, webinar_id)
        breakout = await self.store.current(webinar_id)
        if breakout is None:
            raise Conflict("no breakout groups are open")
        return await self._close(breakout, seat.webinar.room_id, BreakoutEnd.CALLED_BACK, host.id) or breakout

    async def close_for_end(self, webinar: Webinar) -> None:
        """The webinar ended (WebinarSessions.after_end): its groups end with it."""
        breakout = await self.store.current(webinar.id)
        if breakout is not None:
            await self._close(breakout, webinar.room_id, BreakoutEnd.ENDED, None)

    async def refuse_if_closed(self, room: Room) -> None:
        """The chat core's write guard: a group's chat takes no messages once its round has ended."""
        if room.kind is RoomKind.BREAKOUT and await self.store.group_room_open(room.id) is False:
            raise Forbidden("this breakout group has ended")

    # The timer: every process runs it; the store's conditional updates make each warning and end happen once.

    async def run_timer(self, interval_s: float) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:   # the store is away: the next tick tries again
                log.warning("breakout timer: %s", error)
            await asyncio.sleep(interval_s * random.uniform(0.8, 1.2))

    async def tick(self) -> int:
        """Sends the warnings and ends the groups that are due; answers how many rounds it acted on."""
        now = utcnow()
        acted = 0
        for breakout, room_id, state in await self.store.due(now):
            if state is not WebinarState.LIVE:
                acted += await self._close(breakout, room_id, BreakoutEnd.ENDED, None) is not None
            elif breakout.ends_at <= now:
                acted += await self._close(breakout, room_id, BreakoutEnd.TIMER, None) is not None
            else:
                events = await self.store.warn(breakout, room_id)
                if events is not None:
                    await self._publish(events)
                    acted += 1
        if time.monotonic() - self._gauges_at >= GAUGES_EVERY_S:
            self._gauges_at = time.monotonic()
            groups, people = await self.store.active()
            metrics.breakout_groups_active.set(groups)
            metrics.breakout_members.set(people)
        return acted

    # Plumbing.

    async def _close(self, breakout: Breakout, room_id: int, reason: BreakoutEnd,
                     actor_id: int | None) -> Breakout | None:
        closed = await self.store.close(breakout, room_id, reason, actor_id)
        if closed is None:
            return None
        await self._publish(closed[1])
        log.info("webinar %s: breakout groups closed (%s)", breakout.webinar_id, reason.value)
        return closed[0]

    async def _publish(self, events: list[Event]) -> None:
        for event in events:
            await self.chat.publish(event)

    async def _host(self, member: Member, webinar_id: int) -> Seat:
        seat = await self.sessions.seat(member, webinar_id)
        if not seat.hosts:
            raise Forbidden("only hosts run breakout groups")
        if seat.webinar.state is not WebinarState.LIVE:
            raise Forbidden("breakout groups run while the webinar is live")
        return seat

    async def _banned(self, webinar: Webinar, member_id: int) -> bool:
        """Banned from the webinar's room (rooms/moderation): they take no part, so they join no group's chat."""
        return (await self.sessions.stores.rooms.access(webinar.room_id, member_id)).banned_until is not None

    async def _by_hand(self, webinar: Webinar, groups: list[list[int]]) -> list[list[int]]:
        if not 1 <= len(groups) <= MAX_GROUPS:
            raise BadRequest(f"1 to {MAX_GROUPS} groups", field="groups")
        registered = set(await self.registrations.registrants(webinar.id))
        seen: set[int] = set()
        for group in groups:
            if not 1 <= len(group) <= MAX_GROUP:
                raise BadRequest(f"1 to {MAX_GROUP} people per group", field="groups")
            for member_id in group:
                if member_id in seen:
                    raise BadRequest("someone is in two groups", field="groups")
                if member_id not in registered:
                    raise NotFound("not registered for this webinar", field="groups")
                if await self._banned(webinar, member_id):
                    raise Conflict("someone is banned from the webinar's room", field="groups")
                seen.add(member_id)
        return [list(group) for group in groups]

    async def _at_random(self, webinar: Webinar, size: int) -> list[list[int]]:
        if not 2 <= size <= MAX_GROUP:
            raise BadRequest(f"2 to {MAX_GROUP} people per group", field="size")
        roles = await self.registrations.roles(webinar.id)
        registered = set(await self.registrations.registrants(webinar.id))
        audience = [a.member.id for a in await self.attendance.report(webinar.id)
                    if a.present and a.member.id in registered
                    and roles.get(a.member.id) not in (WebinarRole.HOST, WebinarRole.PANELIST)
                    and not await self._banned(webinar, a.member.id)]
        if len(audience) < 2:
            raise Conflict("fewer than two people are in the audience now", field="size")
        count = math.ceil(len(audience) / size)
        if count > MAX_GROUPS:
            raise Conflict(f"more than {MAX_GROUPS} groups of {size}: choose larger groups", field="size")
        random.shuffle(audience)
        # Dealt like cards, so group sizes differ by one at most.
        return [audience[i::count] for i in range(count) if audience[i::count]]
