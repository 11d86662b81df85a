"""Webinar sessions and who may do what in them: scheduling, registration, state, panelists, attendance.

Every access decision about a webinar is made here. Hosts run the session; hosts and
panelists moderate; registered members take part. A members-only webinar reads as
not found to someone who is not logged in.
"""

from __future__ import annotations

from dataclasses import dataclass
import logging
from datetime import datetime, timedelta
from typing import Awaitable, Callable

from rooms.errors import BadRequest, Conflict, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService
from rooms.store import Stores
from rooms.webinars.audience import tell_moderators
from rooms.webinars.models import (
    Attendance,
    Webinar,
    WebinarRole,
    WebinarState,
    WebinarVisibility,
)
from rooms.webinars.store import WebinarStores

log = logging.getLogger(__name__)

MAX_TITLE = 200
MAX_DESCRIPTION = 5000
MAX_DURATION = timedelta(days=7)


@dataclass(frozen=True)
class Seat:
    """A member's place in one webinar: what every check needs."""

    webinar: Webinar
    role: WebinarRole | None   # None: an attendee
    registered: bool
    muted: bool = False
    removed: bool = False      # a moderator removed them: they may read a public webinar, nothing more
    member_id: int | None = None

    @property
    def moderates(self) -> bool:
        return self.role is not None and self.role.moderates

    @property
    def hosts(self) -> bool:
        return self.role is WebinarRole.HOST

    @property
    def may_publish(self) -> bool:
        """Hosts, panelists and promoted speakers: in the green room before the start (seen only by each
        other), on stage once live (docs/webinars.md, "The green room")."""
        return self.role is not None and self.registered and self.webinar.state is not WebinarState.ENDED

    @property
    def in_green_room(self) -> bool:
        return self.may_publish and self.webinar.state is WebinarState.SCHEDULED

    @property
    def created(self) -> bool:
        """Whether this member created the webinar (the one who manages its hosts)."""
        return self.member_id is not None and self.webinar.created_by == self.member_id

    @property
    def may_publish_audio(self) -> bool:
        return self.may_publish and not self.muted

    def public(self) -> dict:
        return {**self.webinar.public(), "role": self.role.value if self.role else None,
                "registered": self.registered, "muted": self.muted, "removed": self.removed,
                "creator": self.created}


class WebinarSessions:
    def __init__(self, stores: Stores, webinar_stores: WebinarStores, chat: ChatService) -> None:
        self.stores = stores
        self.store = webinar_stores.sessions
        self.attendance = webinar_stores.attendance
        self.chat = chat
        # Called after a webinar ended (breakout groups close with it).
        self.after_end: list[Callable[[Webinar], Awaitable[None]]] = []

    # Access.

    async def visible(self, member: Member | None, webinar_id: int) -> Webinar:
        webinar = await self.store.get(webinar_id)
        if webinar is None or (member is None and webinar.visibility is not WebinarVisibility.PUBLIC):
            raise NotFound("no such webinar")
        return webinar

    async def seat(self, member: Member, webinar_id: int) -> Seat:
        webinar = await self.visible(member, webinar_id)
        standing = await self.store.standing(webinar_id, member.id)
        return Seat(webinar, standing.role, standing.registered, standing.muted, standing.removed, member.id)

    async def participant(self, member: Member, webinar_id: int, *, live: bool = False) -> Seat:
        """A registered member of a webinar that has not ended (and, with live, has started)."""
        seat = await self.seat(member, webinar_id)
        if seat.removed:
            raise Forbidden("you were removed from this webinar")
        if not seat.registered:
            raise Forbidden("register for this webinar first")
        open_for_changes(seat.webinar, live)
        await self._refuse_if_banned(seat.webinar, member)
        return seat

    async def _refuse_if_banned(self, webinar: Webinar, member: Member) -> None:
        """A member banned from the webinar's chat room (rooms/moderation) takes no part in it either:
        questions, hands, polls and media are events of that room or seen beside it."""
        if (await self.stores.rooms.access(webinar.room_id, member.id)).banned_until is not None:
            raise Forbidden("you are banned from this webinar's room")

    async def moderator(self, member: Member, webinar_id: int, *, live: bool = False) -> Seat:
        seat = await self.seat(member, webinar_id)
        if not seat.moderates:
            raise Forbidden("only hosts and panelists do this")
        open_for_changes(seat.webinar, live)
        return seat

    async def host(self, member: Member, webinar_id: int) -> Seat:
        seat = await self.seat(member, webinar_id)
        if not seat.hosts:
            raise Forbidden("only hosts do this")
        return seat

    # The session.

    async def create(self, member: Member, *, title: str, description: str, language: str, starts_at: datetime,
                     ends_at: datetime, visibility: WebinarVisibility, anonymous_questions: bool,
                     record: bool = True) -> Webinar:
        title = " ".join(title.split())
        if not title or len(title) > MAX_TITLE:
            raise BadRequest(f"1 to {MAX_TITLE} characters", field="title")
        if len(description) > MAX_DESCRIPTION:
            raise BadRequest(f"at most {MAX_DESCRIPTION} characters", field="description")
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise BadRequest("give a time zone (or Z for UTC)", field="starts_at")
        if not starts_at < ends_at <= starts_at + MAX_DURATION:
            raise BadRequest("must be after starts_at, and within 7 days of it", field="ends_at")
        return await self.store.create(title=title, description=description.strip(), language=language,
                                       starts_at=starts_at, ends_at=ends_at, visibility=visibility,
                                       anonymous_questions=anonymous_questions, host_id=member.id,
                                       record=record)

    async def listing(self, member: Member | None) -> list[Webinar]:
        return await self.store.listing(include_members_only=member is not None)

    async def register(self, member: Member, webinar_id: int) -> Seat:
        seat = await self.seat(member, webinar_id)
        open_for_changes(seat.webinar)
        if seat.removed:
            raise Forbidden("you were removed from this webinar")
        await self._refuse_if_banned(seat.webinar, member)
        if await self.store.register(seat.webinar, member.id):
            await self.chat.announce_membership(await self.chat.rooms.get(seat.webinar.room_id), member, True)
        return await self.seat(member, webinar_id)   # re-read: a removal may have won the race

    async def start(self, member: Member, webinar_id: int) -> Webinar:
        return await self._move(await self.host(member, webinar_id), WebinarState.LIVE, member)

    async def end(self, member: Member, webinar_id: int) -> Webinar:
        return await self._move(await self.host(member, webinar_id), WebinarState.ENDED, member)

    async def _move(self, seat: Seat, to: WebinarState, member: Member) -> Webinar:
        if not seat.webinar.state.may_become(to):
            raise Conflict(f"a {seat.webinar.state.value} webinar cannot become {to.value}", field="state")
        moved = await self.store.change_state(seat.webinar, to, member.id)
        if moved is None:
            raise Conflict("the webinar changed meanwhile; reload it", field="state")
        webinar, event = moved
        if to is WebinarState.ENDED:
            await self.attendance.close_all(webinar.id, webinar.ended_at or event.created_at)
        await self.chat.publish(event)
        if to is WebinarState.ENDED:
            for hook in self.after_end:
                try:
                    await hook(webinar)
                except Exception:   # the webinar has ended all the same; the breakout timer closes what is left
                    log.exception("webinar %s: a hook after its end failed", webinar.id)
        return webinar

    async def add_panelist(self, host: Member, webinar_id: int, member_id: int) -> None:
        seat = await self.host(host, webinar_id)
        open_for_changes(seat.webinar)
        if member_id == host.id:
            raise BadRequest("a host is already on the panel", field="member_id")
        added = await self.stores.accounts.get(member_id)
        if added is None:
            raise NotFound("no such member", field="member_id")
        standing = await self.store.standing(webinar_id, member_id)
        if standing.role is WebinarRole.HOST:
            raise BadRequest("a host is already on the panel", field="member_id")
        if standing.removed:
            raise Conflict("this member was removed from the webinar", field="member_id")
        await self.store.set_role(seat.webinar, member_id, WebinarRole.PANELIST, host.id, None, {})

    async def people(self, member: Member, webinar_id: int) -> list[tuple[Member, WebinarRole, bool]]:
        """The hosts, panelists and speakers, each with whether they are muted: what an attendee sees of
        the stage."""
        await self.seat(member, webinar_id)
        roles = await self.store.roles(webinar_id)
        muted = await self.store.muted(webinar_id)
        found = {m.id: m for m in await self.stores.accounts.get_many(list(roles))}
        return [(found[member_id], role, member_id in muted) for member_id, role in roles.items()
                if member_id in found]

    # Attendance.

    async def join(self, member: Member, webinar_id: int) -> datetime:
        """The member opened the live page (the lobby before the start). The hosts hear of a new visit."""
        seat = await self.participant(member, webinar_id)
        joined_at, opened = await self.attendance.join(seat.webinar.id, member.id)
        if opened:
            await tell_moderators(self.chat.broker, await self.store.roles(webinar_id), seat.webinar, member, True)
        return joined_at

    async def leave(self, member: Member, webinar_id: int) -> bool:
        seat = await self.seat(member, webinar_id)
        left = await self.attendance.leave(seat.webinar.id, member.id)
        if left:
            await tell_moderators(self.chat.broker, await self.store.roles(webinar_id), seat.webinar, member, False)
        return left

    async def attendance_report(self, member: Member, webinar_id: int) -> list[Attendance]:
        seat = await self.seat(member, webinar_id)
        if not seat.moderates:
            raise Forbidden("only hosts and panelists see attendance")
        return await self.attendance.report(webinar_id)


def open_for_changes(webinar: Webinar, live: bool = False) -> None:
    """Refuses changes to a webinar that has ended (and, with live, one that has not started)."""
    if webinar.state is WebinarState.ENDED:
        raise Forbidden("this webinar has ended")
    if live and webinar.state is not WebinarState.LIVE:
        raise Forbidden("this webinar has not started")
