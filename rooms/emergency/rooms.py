"""Emergency rooms and who may do what in them: coordinators are the room's owners and moderators.

Every access decision about an emergency is made here. A member who does not belong
to the room is told it does not exist, over HTTP and the socket alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rooms.emergency.models import Area, Emergency, EmergencyStatus
from rooms.emergency.store import EmergencyStores
from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member, Membership, Role, Room, RoomKind
from rooms.service import ChatService
from rooms.store import Stores
from rooms.store.schema import utcnow

MAX_NAME = 80
MAX_REGION = 200
MAX_AREAS = 200


@dataclass(frozen=True)
class Seat:
    """A member's place in one emergency: what every check needs."""

    emergency: Emergency
    membership: Membership

    @property
    def room_id(self) -> int:
        return self.emergency.room.id

    @property
    def coordinator(self) -> bool:
        return self.membership.role.can_moderate


class EmergencyRooms:
    def __init__(self, stores: Stores, emergency_stores: EmergencyStores, chat: ChatService) -> None:
        self.stores = stores
        self.store = emergency_stores.emergencies
        self.chat = chat

    # Access.

    async def seat(self, member: Member, room_id: int) -> Seat:
        emergency, membership = await self.store.with_membership(room_id, member.id)
        if emergency is None or membership is None:
            raise NotFound("no such emergency")
        return Seat(emergency, membership)

    async def refuse_if_closed(self, room: Room) -> None:
        """The chat core's write guard: a closed emergency's chat is read-only too."""
        if room.kind is RoomKind.EMERGENCY:
            emergency = await self.store.get(room.id)
            if emergency is not None and not emergency.active:
                raise Forbidden("this emergency is closed")

    async def active_seat(self, member: Member, room_id: int) -> Seat:
        """A seat in an emergency that still takes changes."""
        seat = await self.seat(member, room_id)
        if not seat.emergency.active:
            raise Forbidden("this emergency is closed")
        return seat

    async def coordinator_seat(self, member: Member, room_id: int, *, active: bool = True) -> Seat:
        seat = await (self.active_seat if active else self.seat)(member, room_id)
        if not seat.coordinator:
            raise Forbidden("only coordinators do this")
        return seat

    # The emergency itself.

    async def create(self, member: Member, name: str, topic: str, region: str, started_on: date,
                     areas: list[Area]) -> Emergency:
        name, region = name.strip(), region.strip()
        if not name or len(name) > MAX_NAME:
            raise BadRequest(f"1 to {MAX_NAME} characters", field="name")
        if not region or len(region) > MAX_REGION:
            raise BadRequest(f"1 to {MAX_REGION} characters", field="region")
        return await self.store.create(name=name, topic=topic.strip()[:500], region=region,
                                       started_on=started_on, areas=_unique(areas), owner_id=member.id)

    async def mine(self, member: Member) -> list[tuple[Emergency, Role]]:
        return await self.store.of_member(member.id)

    async def change(self, member: Member, room_id: int, *, region: str | None = None,
                     status: EmergencyStatus | None = None, areas: list[Area] | None = None) -> Emergency:
        """Coordinators edit the attributes, close the emergency and reopen it."""
        seat = await self.coordinator_seat(member, room_id, active=status is not EmergencyStatus.ACTIVE)
        values: dict = {}
        if region is not None:
            if not region.strip() or len(region) > MAX_REGION:
                raise BadRequest(f"1 to {MAX_REGION} characters", field="region")
            values["region"] = region.strip()
        if areas is not None:
            values["areas"] = [a.public() for a in _unique(areas)]
        if status is not None and status is not seat.emergency.status:
            values["status"] = status.value
            values["closed_at"] = utcnow() if status is EmergencyStatus.CLOSED else None
        if not values:
            return seat.emergency
        fields = {key: value for key, value in values.items() if key != "closed_at"}
        emergency, event = await self.store.change(room_id, member.id, values, fields)
        await self.chat.publish(event)
        return emergency

    # Members.

    async def members(self, member: Member, room_id: int) -> list[tuple[Member, Role]]:
        await self.seat(member, room_id)
        return await self.stores.memberships.members_of(room_id)

    async def add_member(self, coordinator: Member, room_id: int, member_id: int, role: Role) -> None:
        """Coordinators add responders directly (no invitation round trip in an emergency) or change roles."""
        seat = await self.coordinator_seat(coordinator, room_id)
        if role is Role.OWNER and seat.membership.role is not Role.OWNER:
            raise Forbidden("only owners make owners")
        added = await self.stores.accounts.get(member_id)
        if added is None:
            raise NotFound("no such member", field="member_id")
        current = await self.stores.memberships.get(room_id, member_id)
        if current is not None and current.role is Role.OWNER and seat.membership.role is not Role.OWNER:
            raise Forbidden("only owners change an owner's role")
        fields = {"member": _who(added), "role": role.value}
        event = await self.store.add_member(room_id, member_id, role, coordinator.id, fields)
        if event is not None:
            await self.chat.publish(event)
            if current is None:
                await self.chat.announce_membership(seat.emergency.room, added, True)

    async def on_membership(self, room: Room, member: Member, joined: bool) -> None:
        """Joins and departures made through the chat core's endpoints go on the record too."""
        if room.kind is not RoomKind.EMERGENCY:
            return
        event = await self.store.record_membership(room.id, member.id, {
            "action": "joined" if joined else "left", "member": _who(member)})
        await self.chat.publish(event)


def _who(member: Member) -> dict:
    return {"id": member.id, "display_name": member.display_name, "organisation": member.organisation}


def _unique(areas: list[Area]) -> list[Area]:
    if len(areas) > MAX_AREAS:
        raise BadRequest(f"at most {MAX_AREAS} areas", field="areas")
    return list(dict.fromkeys(areas))
