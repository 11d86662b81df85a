"""Rooms and who may do what in them: create, join, leave, invite, direct messages.

Every access decision about a room is made here, so the socket, the JSON API and
the pages all apply the same rules: who may read (members, anyone for a public room, never
someone banned), who may write (members, neither muted nor banned, in a room that takes
messages). Roles, kicks, mutes and bans are changed by rooms/moderation.
"""

from __future__ import annotations

from collections import defaultdict

from datetime import datetime
from typing import Awaitable, Callable

from rooms import metrics
from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member, Membership, Role, Room, RoomAccess, RoomKind, RoomSummary, Visibility
from rooms.store import Stores
from rooms.store.rooms import FOREVER
from rooms.store.schema import utcnow
from rooms.text_rules import check_name

MAX_DM_MEMBERS = 9   # a "small group" DM; anything larger should be a private room
MAX_ROOM_NAME = 80

# Called after membership changes so live subscriptions follow: (room, member, joined?).
MembershipListener = Callable[[Room, Member, bool], Awaitable[None]]
# Asked before new messages are written: raises when the room takes none (a closed emergency).
WriteGuard = Callable[[Room], Awaitable[None]]


async def _ignore(room: Room, member: Member, joined: bool) -> None:
    return None


class RoomService:
    def __init__(self, stores: Stores, on_membership: MembershipListener = _ignore) -> None:
        self.stores = stores
        self.on_membership = on_membership
        # Per kind of room: what may refuse a message there (a closed emergency, an ended breakout group).
        self.write_guards: dict[RoomKind, list[WriteGuard]] = defaultdict(list)

    async def get(self, room_id: int) -> Room:
        room = await self.stores.rooms.get(room_id)
        if room is None:
            raise NotFound("no such room")
        return room

    async def readable(self, member: Member, room_id: int) -> tuple[Room, Membership | None]:
        """The room, if the member may read it: members always, anyone for public rooms, nobody banned.
        A private room a member cannot see reads as not found, so its existence does not leak."""
        access = await self._readable(member, room_id)
        assert access.room is not None
        return access.room, access.membership

    async def _readable(self, member: Member, room_id: int) -> RoomAccess:
        access = await self.stores.rooms.access(room_id, member.id)
        room = access.room
        if room is None or (access.membership is None and access.banned_until is None and not self._is_public(room)):
            raise NotFound("no such room")
        if access.banned_until is not None:
            metrics.moderation_refusal["banned"].inc()
            raise Forbidden("you are banned from this room", retry_after=_left(access.banned_until))
        return access

    async def writable(self, member: Member, room_id: int) -> tuple[Room, Membership]:
        """A room the member belongs to (to mark read, leave, invite…)."""
        room, membership = await self.readable(member, room_id)
        if membership is None:
            raise Forbidden("join the room first")
        return room, membership

    async def may_write(self, member: Member, room_id: int) -> tuple[Room, Membership]:
        """A room the member may add to now: a member, not muted, in a room that takes messages.
        Every new write (a message, an edit, a reaction) asks this; the send path also checks it
        inside its own transaction (rooms/store/messages.py)."""
        access = await self._readable(member, room_id)
        room, membership = access.room, access.membership
        assert room is not None
        if membership is None:
            raise Forbidden("join the room first")
        if access.muted_until is not None:
            metrics.moderation_refusal["muted"].inc()
            raise Forbidden("you are muted in this room", retry_after=_left(access.muted_until))
        await self.ensure_open(room)
        return room, membership

    def guard_writes(self, kind: RoomKind, guard: WriteGuard) -> None:
        self.write_guards[kind].append(guard)

    @property
    def guarded_kinds(self) -> tuple[str, ...]:
        """The kinds of room whose messages `ensure_open` must see (the others' sends may be
        committed in groups without it: rooms/store/group_commit.py)."""
        return tuple(sorted(kind.value for kind, guards in self.write_guards.items() if guards))

    async def ensure_open(self, room: Room) -> None:
        """Kinds of room with a life of their own (emergencies) may refuse new messages."""
        for guard in self.write_guards.get(room.kind, ()):
            await guard(room)

    @staticmethod
    def _is_public(room: Room) -> bool:
        # History pages check this rule inside their query: rooms/store/rooms.py readable_by.
        return room.kind is RoomKind.ROOM and room.visibility is Visibility.PUBLIC

    async def create(self, owner: Member, name: str, visibility: Visibility, topic: str = "") -> Room:
        name = name.strip()
        if not name or len(name) > MAX_ROOM_NAME:
            raise BadRequest(f"1 to {MAX_ROOM_NAME} characters", field="name")
        check_name(name, "name")   # a room's name, like a member's, cannot hide or reorder characters
        return await self.stores.rooms.create(name=name, kind=RoomKind.ROOM, visibility=visibility,
                                              topic=topic.strip()[:500], owner_id=owner.id)

    async def join(self, member: Member, room_id: int) -> Room:
        access = await self.stores.rooms.access(room_id, member.id)
        room = access.room
        if room is None:
            raise NotFound("no such room")
        if access.banned_until is not None:
            raise Forbidden("you are banned from this room", retry_after=_left(access.banned_until))
        if not self._is_public(room) and not await self.stores.memberships.is_invited(room_id, member.id):
            if await self.stores.memberships.get(room_id, member.id) is None:
                raise NotFound("no such room")   # an uninvited member must not learn it exists
        if await self.stores.memberships.add(room_id, member.id):
            await self.on_membership(room, member, True)
        return room

    async def leave(self, member: Member, room_id: int) -> None:
        room, membership = await self.writable(member, room_id)
        if room.dm_key is not None:
            raise BadRequest("a one-to-one conversation cannot be left", field="room")
        if membership.role is Role.OWNER and await self.stores.memberships.count_with_role(
                room_id, Role.OWNER) == 1 and len(await self.stores.memberships.member_ids(room_id)) > 1:
            raise BadRequest("hand ownership to someone else first", field="room")
        await self.stores.memberships.remove(room_id, member.id)
        await self.on_membership(room, member, False)

    async def invite(self, inviter: Member, room_id: int, invitee_id: int) -> None:
        room, membership = await self.writable(inviter, room_id)
        if room.kind is RoomKind.DM:
            raise BadRequest("start a new conversation instead", field="room")
        if not self._is_public(room) and not membership.role.can_moderate:
            raise Forbidden("only owners and moderators invite to a private room")
        invitee = await self.stores.accounts.get(invitee_id)
        if invitee is None or invitee.former:
            raise NotFound("no such member", field="member_id")
        await self.stores.memberships.invite(room_id, invitee_id, inviter.id)

    async def open_dm(self, member: Member, other_ids: list[int]) -> Room:
        """The one-to-one conversation with someone (found again if it exists), or a new small group."""
        others = sorted(set(other_ids) - {member.id})
        if not others:
            raise BadRequest("name at least one other member", field="members")
        if len(others) > MAX_DM_MEMBERS - 1:
            raise BadRequest(f"at most {MAX_DM_MEMBERS} people; use a private room", field="members")
        found = [m for m in await self.stores.accounts.get_many(others) if not m.former]
        if len(found) != len(others):
            raise NotFound("no such member", field="members")
        names = sorted([member.display_name] + [m.display_name for m in found])
        if len(others) == 1:
            key = ":".join(str(i) for i in sorted([member.id, others[0]]))
            existing = await self.stores.rooms.by_dm_key(key)
            if existing is not None:
                return existing
        else:
            key = None
        return await self.stores.rooms.create(
            name=", ".join(names)[:MAX_ROOM_NAME], kind=RoomKind.DM, visibility=Visibility.PRIVATE,
            topic="", owner_id=member.id, other_member_ids=tuple(others), dm_key=key)

    async def room_list(self, member: Member) -> list[RoomSummary]:
        return await self.stores.memberships.summaries(member.id)

    async def members(self, member: Member, room_id: int) -> list[tuple[Member, Role]]:
        await self.readable(member, room_id)
        return await self.stores.memberships.members_of(room_id)


def _left(until: datetime) -> float | None:
    """Seconds until a mute or ban ends; None for a ban without end."""
    return None if until >= FOREVER else max((until - utcnow()).total_seconds(), 0.001)
