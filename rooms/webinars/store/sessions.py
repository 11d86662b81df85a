"""Queries for webinar sessions: creation with their room, lookup, listing, roles, registration, state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind, Role, RoomKind, Visibility
from rooms.store.database import Database
from rooms.store.schema import memberships, rooms, utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.models import Webinar, WebinarRole, WebinarState, WebinarVisibility
from rooms.webinars.store.schema import webinar_registrations, webinar_removals, webinar_roles, webinars

# A webinar role's room role, so the chat core's moderation (deleting messages) follows it.
_ROOM_ROLE = {WebinarRole.HOST: Role.OWNER, WebinarRole.PANELIST: Role.MODERATOR, WebinarRole.SPEAKER: Role.MEMBER}


@dataclass(frozen=True)
class Standing:
    """A member's standing in one webinar, read in one go."""

    role: WebinarRole | None   # None: an attendee
    registered: bool
    muted: bool
    removed: bool


def webinar_from_row(row: Row) -> Webinar:
    return Webinar(id=row.id, room_id=row.room_id, title=row.title, description=row.description,
                   language=row.language, starts_at=row.starts_at, ends_at=row.ends_at,
                   visibility=WebinarVisibility(row.visibility), state=WebinarState(row.state),
                   anonymous_questions=row.anonymous_questions, created_by=row.created_by,
                   created_at=row.created_at, started_at=row.started_at, ended_at=row.ended_at,
                   record=row.record)


class SessionStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def create(self, *, title: str, description: str, language: str, starts_at: datetime,
                     ends_at: datetime, visibility: WebinarVisibility, anonymous_questions: bool,
                     host_id: int, record: bool = True) -> Webinar:
        """The chat room, the webinar and its first host, in one transaction."""
        now = utcnow()
        async with self.db.write() as conn:
            room_id = (await conn.execute(
                insert(rooms).values(name=title[:80], kind=RoomKind.WEBINAR.value,
                                     visibility=Visibility.PRIVATE.value, topic="", created_by=host_id,
                                     last_seq=0, created_at=now)
                .returning(rooms.c.id))).scalar_one()
            webinar_id = (await conn.execute(insert(webinars).values(
                room_id=room_id, title=title, description=description, language=language,
                starts_at=starts_at, ends_at=ends_at, visibility=visibility.value,
                state=WebinarState.SCHEDULED.value, anonymous_questions=anonymous_questions,
                created_by=host_id, created_at=now, record=record).returning(webinars.c.id))).scalar_one()
            await self._grant(conn, webinar_id, room_id, host_id, WebinarRole.HOST)
            await self._register(conn, webinar_id, room_id, host_id)
            row = (await conn.execute(select(webinars).where(webinars.c.id == webinar_id))).one()
        return webinar_from_row(row)

    async def get(self, webinar_id: int) -> Webinar | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(webinars).where(webinars.c.id == webinar_id))).first()
        return webinar_from_row(row) if row else None

    async def listing(self, include_members_only: bool, limit: int = 200) -> list[Webinar]:
        stmt = select(webinars).order_by(webinars.c.starts_at, webinars.c.id).limit(limit)
        if not include_members_only:
            stmt = stmt.where(webinars.c.visibility == WebinarVisibility.PUBLIC.value)
        async with self.db.read() as conn:
            return [webinar_from_row(row) for row in (await conn.execute(stmt)).all()]

    async def standing(self, webinar_id: int, member_id: int) -> Standing:
        async with self.db.read() as conn:
            role = await conn.scalar(select(webinar_roles.c.role).where(
                webinar_roles.c.webinar_id == webinar_id, webinar_roles.c.member_id == member_id))
            muted = await conn.scalar(select(webinar_registrations.c.muted).where(
                webinar_registrations.c.webinar_id == webinar_id,
                webinar_registrations.c.member_id == member_id))
            removed = await conn.scalar(select(webinar_removals.c.member_id).where(
                webinar_removals.c.webinar_id == webinar_id, webinar_removals.c.member_id == member_id))
        return Standing(role=WebinarRole(role) if role else None, registered=muted is not None,
                        muted=bool(muted), removed=removed is not None)

    async def muted(self, webinar_id: int) -> set[int]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinar_registrations.c.member_id).where(
                webinar_registrations.c.webinar_id == webinar_id, webinar_registrations.c.muted))).all()
        return {row.member_id for row in rows}

    async def roles(self, webinar_id: int) -> dict[int, WebinarRole]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinar_roles).where(
                webinar_roles.c.webinar_id == webinar_id))).all()
        return {row.member_id: WebinarRole(row.role) for row in rows}

    async def register(self, webinar: Webinar, member_id: int) -> bool:
        """Registers the member and seats them in the chat room; False when already registered."""
        try:
            async with self.db.write() as conn:
                return await self._register(conn, webinar.id, webinar.room_id, member_id)
        except IntegrityError:   # a concurrent registration of the same member won
            return False

    async def registrants(self, webinar_id: int) -> list[int]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinar_registrations.c.member_id).where(
                webinar_registrations.c.webinar_id == webinar_id)
                .order_by(webinar_registrations.c.registered_at))).all()
        return [row.member_id for row in rows]

    async def set_role(self, webinar: Webinar, member_id: int, role: WebinarRole | None, actor_id: int,
                       kind: EventKind | None, fields: dict) -> Event | None:
        """Grants (or with None, takes away) a role; appends an event of `kind` when one is given."""
        async with self.db.write() as conn:
            return await self.change_role(conn, webinar, member_id, role, actor_id, kind, fields)

    async def change_role(self, conn: AsyncConnection, webinar: Webinar, member_id: int, role: WebinarRole | None,
                          actor_id: int, kind: EventKind | None, fields: dict) -> Event | None:
        """set_role inside the caller's transaction (the host store checks the hosts left in the same one)."""
        await self._register(conn, webinar.id, webinar.room_id, member_id)
        await conn.execute(delete(webinar_roles).where(webinar_roles.c.webinar_id == webinar.id,
                                                       webinar_roles.c.member_id == member_id))
        if role is not None:
            await self._grant(conn, webinar.id, webinar.room_id, member_id, role)
        else:
            await conn.execute(update(memberships).where(
                memberships.c.room_id == webinar.room_id, memberships.c.member_id == member_id)
                .values(role=Role.MEMBER.value))
        if kind is None:
            return None
        seq = await self.sequence.append(conn, webinar.room_id, kind, actor_id, fields)
        return await self.sequence.event(conn, webinar.room_id, seq)

    async def change_state(self, webinar: Webinar, to: WebinarState, actor_id: int) -> tuple[Webinar, Event] | None:
        """Moves the state on if it is still what the caller saw (None when another request won)."""
        now = utcnow()
        values: dict = {"state": to.value}
        values["started_at" if to is WebinarState.LIVE else "ended_at"] = now
        async with self.db.write() as conn:
            changed = await conn.execute(update(webinars).where(
                webinars.c.id == webinar.id, webinars.c.state == webinar.state.value).values(**values))
            if changed.rowcount != 1:
                return None
            seq = await self.sequence.append(conn, webinar.room_id, EventKind.WEBINAR, actor_id,
                                             {"webinar": webinar.id, "state": to.value}, at=now)
            row = (await conn.execute(select(webinars).where(webinars.c.id == webinar.id))).one()
            return webinar_from_row(row), await self.sequence.event(conn, webinar.room_id, seq)

    async def _grant(self, conn: AsyncConnection, webinar_id: int, room_id: int, member_id: int,
                     role: WebinarRole) -> None:
        await conn.execute(insert(webinar_roles).values(webinar_id=webinar_id, member_id=member_id,
                                                        role=role.value, granted_at=utcnow()))
        await self._seat(conn, room_id, member_id, _ROOM_ROLE[role])

    async def _register(self, conn: AsyncConnection, webinar_id: int, room_id: int, member_id: int) -> bool:
        exists = await conn.scalar(select(webinar_registrations.c.member_id).where(
            webinar_registrations.c.webinar_id == webinar_id, webinar_registrations.c.member_id == member_id))
        removed = await conn.scalar(select(webinar_removals.c.member_id).where(
            webinar_removals.c.webinar_id == webinar_id, webinar_removals.c.member_id == member_id))
        if exists is not None or removed is not None:   # checked here too: a removal may race a registration
            return False
        await conn.execute(insert(webinar_registrations).values(webinar_id=webinar_id, member_id=member_id,
                                                                registered_at=utcnow()))
        await self._seat(conn, room_id, member_id, Role.MEMBER)
        return True

    async def _seat(self, conn: AsyncConnection, room_id: int, member_id: int, role: Role) -> None:
        current = await conn.scalar(select(memberships.c.role).where(
            memberships.c.room_id == room_id, memberships.c.member_id == member_id))
        if current is None:
            await conn.execute(insert(memberships).values(room_id=room_id, member_id=member_id, role=role.value,
                                                          read_seq=0, joined_at=utcnow()))
        elif current != role.value and role is not Role.MEMBER:
            await conn.execute(update(memberships).where(
                memberships.c.room_id == room_id, memberships.c.member_id == member_id).values(role=role.value))
