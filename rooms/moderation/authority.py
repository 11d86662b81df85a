"""Who may moderate a room, and whom: its owners and moderators, and site admins everywhere.

Every moderation decision is made here, so the JSON API and the pages apply the same rules.
A moderator acts only on members they outrank (owner > moderator > member); site admins act
on anyone but another site admin, in every room, whether or not they belong to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.management import RoomService
from rooms.models import Member, Membership, Role, Room
from rooms.store import Stores

RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.OWNER: 2}


@dataclass(frozen=True)
class Seat:
    """A moderator's place in one room."""

    actor: Member
    room: Room
    membership: Membership | None   # None for a site admin who does not belong to the room

    @property
    def admin(self) -> bool:
        return self.actor.site_admin

    @property
    def owner(self) -> bool:
        return self.admin or (self.membership is not None and self.membership.role is Role.OWNER)


@dataclass(frozen=True)
class Target:
    member: Member
    membership: Membership | None


class Authority:
    def __init__(self, stores: Stores, rooms: RoomService) -> None:
        self.stores = stores
        self.rooms = rooms

    async def seat(self, actor: Member, room_id: int) -> Seat:
        access = await self.stores.rooms.access(room_id, actor.id)
        if access.room is None:
            raise NotFound("no such room")
        if actor.site_admin or (access.membership is not None and access.membership.role.can_moderate):
            return Seat(actor, access.room, access.membership)
        await self.rooms.readable(actor, room_id)   # a room they cannot see stays not found
        raise Forbidden("only the room's owners and moderators do this")

    async def owner_seat(self, actor: Member, room_id: int) -> Seat:
        seat = await self.seat(actor, room_id)
        if not seat.owner:
            raise Forbidden("only owners do this")
        return seat

    async def target(self, seat: Seat, member_id: int) -> Target:
        """Someone this moderator may act on in this room."""
        member = await self.stores.accounts.get(member_id)
        if member is None:
            raise NotFound("no such member", field="member_id")
        if member.id == seat.actor.id:
            raise BadRequest("not on yourself", field="member_id")
        membership = await self.stores.memberships.get(seat.room.id, member_id)
        if member.site_admin and not seat.admin:
            raise Forbidden("site admins are not moderated in rooms", field="member_id")
        if not seat.admin:
            assert seat.membership is not None
            theirs = RANK[membership.role] if membership is not None else 0
            if theirs >= RANK[seat.membership.role]:
                raise Forbidden("you cannot moderate this member", field="member_id")
        return Target(member, membership)
