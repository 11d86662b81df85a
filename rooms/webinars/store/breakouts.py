"""Queries for breakout groups: opening a round with a chat room per group, its warning and its end (each once,
whichever process gets there first), broadcasts, and who is in which group."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind, Role, RoomKind, Visibility
from rooms.store.database import Database
from rooms.store.schema import memberships, rooms, utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.models import Breakout, BreakoutEnd, BreakoutGroup, BreakoutState, Webinar, WebinarState
from rooms.webinars.store.schema import (
    webinar_breakout_groups,
    webinar_breakout_members,
    webinar_breakouts,
    webinars,
)


class BreakoutStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def open(self, webinar: Webinar, actor_id: int, groups: list[list[int]], hosts: list[int],
                   ends_at: datetime, warn_at: datetime, room_name: str) -> tuple[Breakout, list[Event]] | None:
        """The round, a chat room per group (its members, and the webinar's hosts as moderators), and a
        BREAKOUT event in the webinar's room and in each group's room — in one transaction. None when a
        round is open already (the webinar's row is locked first, so two hosts cannot open two)."""
        now = utcnow()
        async with self.db.write() as conn:
            await conn.execute(select(webinars.c.id).where(webinars.c.id == webinar.id).with_for_update())
            if await self._open_id(conn, webinar.id) is not None:
                return None
            breakout_id = (await conn.execute(insert(webinar_breakouts).values(
                webinar_id=webinar.id, state=BreakoutState.OPEN.value, created_by=actor_id, created_at=now,
                ends_at=ends_at, warn_at=warn_at).returning(webinar_breakouts.c.id))).scalar_one()
            for number, members in enumerate(groups, start=1):
                room_id = (await conn.execute(insert(rooms).values(
                    name=room_name.replace("{n}", str(number))[:80], kind=RoomKind.BREAKOUT.value,
                    visibility=Visibility.PRIVATE.value, topic="", created_by=actor_id, last_seq=0, created_at=now)
                    .returning(rooms.c.id))).scalar_one()
                group_id = (await conn.execute(insert(webinar_breakout_groups).values(
                    breakout_id=breakout_id, number=number, room_id=room_id)
                    .returning(webinar_breakout_groups.c.id))).scalar_one()
                seats = [dict(room_id=room_id, member_id=m, role=Role.MEMBER.value, read_seq=0, joined_at=now)
                         for m in members]
                seats += [dict(room_id=room_id, member_id=h, role=Role.MODERATOR.value, read_seq=0, joined_at=now)
                          for h in hosts if h not in members]
                await conn.execute(insert(memberships), seats)
                await conn.execute(insert(webinar_breakout_members), [
                    dict(breakout_id=breakout_id, member_id=m, group_id=group_id) for m in members])
            breakout = await self._read(conn, breakout_id)
            assert breakout is not None
            fields = {"breakout": breakout.id, "state": "open", "ends_at": ends_at.isoformat(),
                      "warn_at": warn_at.isoformat(), "groups": [g.public() for g in breakout.groups]}
            events = [await self._append(conn, webinar.room_id, EventKind.BREAKOUT, actor_id, fields, now)]
            for group in breakout.groups:
                events.append(await self._append(conn, group.room_id, EventKind.BREAKOUT, actor_id, {
                    "breakout": breakout.id, "webinar": webinar.id, "state": "open", "group": group.number,
                    "ends_at": ends_at.isoformat()}, now))
            return breakout, events

    async def current(self, webinar_id: int) -> Breakout | None:
        """The open round, if any."""
        async with self.db.read() as conn:
            breakout_id = await self._open_id(conn, webinar_id)
            return await self._read(conn, breakout_id) if breakout_id is not None else None

    async def latest(self, webinar_id: int) -> Breakout | None:
        """The most recent round, open or closed."""
        async with self.db.read() as conn:
            breakout_id = await conn.scalar(select(func.max(webinar_breakouts.c.id)).where(
                webinar_breakouts.c.webinar_id == webinar_id))
            return await self._read(conn, breakout_id) if breakout_id is not None else None

    async def open_groups(self, webinar_id: int) -> dict[int, int]:
        """member → group id for the open round; empty when everyone is in the main session."""
        stmt = (select(webinar_breakout_members.c.member_id, webinar_breakout_members.c.group_id)
                .join(webinar_breakouts, webinar_breakouts.c.id == webinar_breakout_members.c.breakout_id)
                .where(webinar_breakouts.c.webinar_id == webinar_id,
                       webinar_breakouts.c.state == BreakoutState.OPEN.value))
        async with self.db.read() as conn:
            return {row.member_id: row.group_id for row in (await conn.execute(stmt)).all()}

    async def rooms_of(self, webinar_id: int, member_id: int) -> list[int]:
        """The chats of the webinar's breakout groups (any round) the member is in."""
        stmt = (select(webinar_breakout_groups.c.room_id)
                .join(webinar_breakouts, webinar_breakouts.c.id == webinar_breakout_groups.c.breakout_id)
                .join(memberships, memberships.c.room_id == webinar_breakout_groups.c.room_id)
                .where(webinar_breakouts.c.webinar_id == webinar_id, memberships.c.member_id == member_id))
        async with self.db.read() as conn:
            return [row.room_id for row in (await conn.execute(stmt)).all()]

    async def group_room_open(self, room_id: int) -> bool | None:
        """For a breakout group's room: whether its round is still open (None: not a group's room)."""
        stmt = (select(webinar_breakouts.c.state)
                .join(webinar_breakout_groups, webinar_breakout_groups.c.breakout_id == webinar_breakouts.c.id)
                .where(webinar_breakout_groups.c.room_id == room_id))
        async with self.db.read() as conn:
            state = await conn.scalar(stmt)
        return None if state is None else state == BreakoutState.OPEN.value

    async def close(self, breakout: Breakout, room_id: int, reason: BreakoutEnd, actor_id: int | None
                    ) -> tuple[Breakout, list[Event]] | None:
        """Closes the round if it is still open, with a BREAKOUT event in the webinar's room and each group's;
        None when it was closed already (by a host, the timer or the end, on whichever process)."""
        now = utcnow()
        async with self.db.write() as conn:
            changed = await conn.execute(update(webinar_breakouts).where(
                webinar_breakouts.c.id == breakout.id, webinar_breakouts.c.state == BreakoutState.OPEN.value)
                .values(state=BreakoutState.CLOSED.value, closed_at=now, closed_by=actor_id,
                        close_reason=reason.value))
            if changed.rowcount != 1:
                return None
            fields = {"breakout": breakout.id, "state": "closed", "reason": reason.value}
            events = [await self._append(conn, room_id, EventKind.BREAKOUT, actor_id, fields, now)]
            for group in breakout.groups:
                events.append(await self._append(conn, group.room_id, EventKind.BREAKOUT, actor_id, {
                    **fields, "webinar": breakout.webinar_id, "group": group.number}, now))
            closed = await self._read(conn, breakout.id)
            assert closed is not None
            return closed, events

    async def warn(self, breakout: Breakout, room_id: int) -> list[Event] | None:
        """The warning that the groups end soon, once: None when it was sent already, or the round closed."""
        now = utcnow()
        async with self.db.write() as conn:
            changed = await conn.execute(update(webinar_breakouts).where(
                webinar_breakouts.c.id == breakout.id, webinar_breakouts.c.state == BreakoutState.OPEN.value,
                webinar_breakouts.c.warned_at.is_(None)).values(warned_at=now))
            if changed.rowcount != 1:
                return None
            fields = {"breakout": breakout.id, "ends_at": breakout.ends_at.isoformat()}
            return [await self._append(conn, r, EventKind.BREAKOUT_WARNING, None, fields, now)
                    for r in (room_id, *(g.room_id for g in breakout.groups))]

    async def broadcast(self, breakout: Breakout, actor_id: int, body: str) -> list[Event]:
        """A host's message, as an event in every group's room (one transaction: every group or none)."""
        now = utcnow()
        async with self.db.write() as conn:
            return [await self._append(conn, g.room_id, EventKind.BREAKOUT_BROADCAST, actor_id,
                                       {"breakout": breakout.id, "body": body}, now) for g in breakout.groups]

    async def due(self, now: datetime) -> list[tuple[Breakout, int, WebinarState]]:
        """Open rounds that need the timer: whose warning or end is due, or whose webinar is no longer live.
        Answers each with its webinar's room and state."""
        stmt = (select(webinar_breakouts.c.id, webinars.c.room_id, webinars.c.state)
                .join(webinars, webinars.c.id == webinar_breakouts.c.webinar_id)
                .where(webinar_breakouts.c.state == BreakoutState.OPEN.value,
                       or_(webinar_breakouts.c.ends_at <= now,
                           and_(webinar_breakouts.c.warned_at.is_(None), webinar_breakouts.c.warn_at <= now),
                           webinars.c.state != WebinarState.LIVE.value)))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
            found = []
            for row in rows:
                breakout = await self._read(conn, row.id)
                if breakout is not None:
                    found.append((breakout, row.room_id, WebinarState(row.state)))
        return found

    async def active(self) -> tuple[int, int]:
        """Groups in open rounds and the members in them, the whole deployment's (for the metrics)."""
        async with self.db.read() as conn:
            groups = await conn.scalar(select(func.count()).select_from(webinar_breakout_groups).join(
                webinar_breakouts, webinar_breakouts.c.id == webinar_breakout_groups.c.breakout_id)
                .where(webinar_breakouts.c.state == BreakoutState.OPEN.value))
            people = await conn.scalar(select(func.count()).select_from(webinar_breakout_members).join(
                webinar_breakouts, webinar_breakouts.c.id == webinar_breakout_members.c.breakout_id)
                .where(webinar_breakouts.c.state == BreakoutState.OPEN.value))
        return int(groups or 0), int(people or 0)

    # Plumbing.

    async def _append(self, conn: AsyncConnection, room_id: int, kind: EventKind, actor_id: int | None,
                      fields: dict, at: datetime) -> Event:
        seq = await self.sequence.append(conn, room_id, kind, actor_id, fields, at=at)
        return await self.sequence.event(conn, room_id, seq)

    @staticmethod
    async def _open_id(conn: AsyncConnection, webinar_id: int) -> int | None:
        return await conn.scalar(select(webinar_breakouts.c.id).where(
            webinar_breakouts.c.webinar_id == webinar_id, webinar_breakouts.c.state == BreakoutState.OPEN.value))

    @staticmethod
    async def _read(conn: AsyncConnection, breakout_id: int) -> Breakout | None:
        row = (await conn.execute(select(webinar_breakouts).where(webinar_breakouts.c.id == breakout_id))).first()
        if row is None:
            return None
        groups = (await conn.execute(select(webinar_breakout_groups).where(
            webinar_breakout_groups.c.breakout_id == breakout_id).order_by(webinar_breakout_groups.c.number))).all()
        members = (await conn.execute(select(webinar_breakout_members).where(
            webinar_breakout_members.c.breakout_id == breakout_id)
            .order_by(webinar_breakout_members.c.member_id))).all()
        by_group: dict[int, list[int]] = {}
        for m in members:
            by_group.setdefault(m.group_id, []).append(m.member_id)
        return Breakout(
            id=row.id, webinar_id=row.webinar_id, state=BreakoutState(row.state), created_at=row.created_at,
            ends_at=row.ends_at, warn_at=row.warn_at,
            groups=tuple(BreakoutGroup(id=g.id, number=g.number, room_id=g.room_id,
                                       members=tuple(by_group.get(g.id, ()))) for g in groups),
            closed_at=row.closed_at, close_reason=BreakoutEnd(row.close_reason) if row.close_reason else None)
