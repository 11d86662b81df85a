"""Queries for who belongs to which room: memberships, roles, invites and read markers."""

from __future__ import annotations

from sqlalchemy import and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from rooms.models import Member, Membership, Role, RoomKind, RoomSummary
from rooms.store.accounts import _member_columns, member_from_row
from rooms.store.database import Database
from rooms.store.rooms import room_from_row
from rooms.store.schema import invites, members, memberships, messages, rooms, utcnow


class MembershipStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, room_id: int, member_id: int) -> Membership | None:
        stmt = select(memberships).where(memberships.c.room_id == room_id,
                                         memberships.c.member_id == member_id)
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(stmt)).first()
        if row is None:
            return None
        return Membership(room_id=row.room_id, member_id=row.member_id,
                          role=Role(row.role), read_seq=row.read_seq)

    async def add(self, room_id: int, member_id: int, role: Role = Role.MEMBER) -> bool:
        """Adds the member; False when they already belonged. Clears a pending invite."""
        async with self.db.write() as conn:
            await conn.execute(delete(invites).where(invites.c.room_id == room_id,
                                                     invites.c.member_id == member_id))
            exists = await conn.scalar(select(memberships.c.role).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id))
            if exists is not None:
                return False
            await conn.execute(insert(memberships).values(
                room_id=room_id, member_id=member_id, role=role.value, read_seq=0, joined_at=utcnow()))
            return True

    async def remove(self, room_id: int, member_id: int) -> bool:
        async with self.db.write() as conn:
            result = await conn.execute(delete(memberships).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id))
            return result.rowcount > 0

    async def set_role(self, room_id: int, member_id: int, role: Role) -> bool:
        async with self.db.write() as conn:
            result = await conn.execute(
                update(memberships)
                .where(memberships.c.room_id == room_id, memberships.c.member_id == member_id)
                .values(role=role.value))
            return result.rowcount > 0

    async def count_with_role(self, room_id: int, role: Role) -> int:
        async with self.db.read(quick=True) as conn:
            return await conn.scalar(select(func.count()).select_from(memberships).where(
                memberships.c.room_id == room_id, memberships.c.role == role.value)) or 0

    async def members_of(self, room_id: int) -> list[tuple[Member, Role]]:
        stmt = (select(*_member_columns, memberships.c.role)
                .join(memberships, memberships.c.member_id == members.c.id)
                .where(memberships.c.room_id == room_id)
                .order_by(func.lower(members.c.display_name)))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [(member_from_row(row), Role(row.role)) for row in rows]

    async def member_ids(self, room_id: int) -> list[int]:
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(memberships.c.member_id)
                                       .where(memberships.c.room_id == room_id))).all()
        return [row.member_id for row in rows]

    async def room_ids_of(self, member_id: int) -> list[int]:
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(memberships.c.room_id)
                                       .where(memberships.c.member_id == member_id))).all()
        return [row.room_id for row in rows]

    async def room_ids_of_many(self, member_ids: list[int]) -> dict[int, list[int]]:
        """The rooms of each of these members (an empty list for a member in none), in one query."""
        found: dict[int, list[int]] = {member_id: [] for member_id in member_ids}
        if not member_ids:
            return found
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(memberships.c.member_id, memberships.c.room_id)
                                       .where(memberships.c.member_id.in_(member_ids)))).all()
        for row in rows:
            found[row.member_id].append(row.room_id)
        return found

    async def summaries(self, member_id: int) -> list[RoomSummary]:
        """The member's room list with unread counts: messages by others after their read marker."""
        unread = (
            select(func.count())
            .where(messages.c.room_id == rooms.c.id,
                   messages.c.seq > memberships.c.read_seq,
                   messages.c.kind == "message",
                   messages.c.deleted_at.is_(None),
                   messages.c.sender_id != member_id)
            .correlate(rooms, memberships)
            .scalar_subquery()
        )
        stmt = (select(rooms, memberships.c.role, memberships.c.read_seq, unread.label("unread"))
                .join(memberships, and_(memberships.c.room_id == rooms.c.id,
                                        memberships.c.member_id == member_id))
                .order_by(rooms.c.kind, rooms.c.name, rooms.c.id))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
            dm_ids = [row.id for row in rows if row.kind == RoomKind.DM.value]
            names: dict[int, list[str]] = {}
            if dm_ids:
                name_rows = (await conn.execute(
                    select(memberships.c.room_id, members.c.display_name)
                    .join(members, members.c.id == memberships.c.member_id)
                    .where(memberships.c.room_id.in_(dm_ids), memberships.c.member_id != member_id)
                )).all()
                for name_row in name_rows:
                    names.setdefault(name_row.room_id, []).append(name_row.display_name)
        return [RoomSummary(room=room_from_row(row), role=Role(row.role), unread=row.unread,
                            read_seq=row.read_seq, member_names=tuple(sorted(names.get(row.id, []))))
                for row in rows]

    async def mark_read(self, room_id: int, member_id: int, seq: int) -> int:
        """Moves the read marker forward only, never back; answers the marker as stored."""
        async with self.db.write() as conn:
            await conn.execute(
                update(memberships)
                .where(memberships.c.room_id == room_id, memberships.c.member_id == member_id,
                       memberships.c.read_seq < seq)
                .values(read_seq=seq))
            return await conn.scalar(select(memberships.c.read_seq).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id)) or 0

    async def invite(self, room_id: int, member_id: int, invited_by: int) -> None:
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(invites).values(
                    room_id=room_id, member_id=member_id, invited_by=invited_by, created_at=utcnow()))
        except IntegrityError:
            pass  # already invited: inviting twice is harmless

    async def is_invited(self, room_id: int, member_id: int) -> bool:
        async with self.db.read(quick=True) as conn:
            return await conn.scalar(select(func.count()).select_from(invites).where(
                invites.c.room_id == room_id, invites.c.member_id == member_id)) > 0

    async def invited_rooms(self, member_id: int) -> list[int]:
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(invites.c.room_id)
                                       .where(invites.c.member_id == member_id))).all()
        return [row.room_id for row in rows]
