"""Queries for quick polls: options, one vote per member, counts, closing."""

from __future__ import annotations

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.schema import utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.models import Poll, PollState
from rooms.webinars.store.schema import webinar_poll_votes, webinar_polls


class PollStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def create(self, webinar_id: int, room_id: int, actor_id: int, question: str,
                     options: list[str]) -> tuple[Poll, Event]:
        now = utcnow()
        async with self.db.write() as conn:
            poll_id = (await conn.execute(insert(webinar_polls).values(
                webinar_id=webinar_id, question=question, options=options, state=PollState.OPEN.value,
                created_by=actor_id, created_at=now).returning(webinar_polls.c.id))).scalar_one()
            poll = await self._get(conn, poll_id)
            seq = await self.sequence.append(conn, room_id, EventKind.POLL, actor_id,
                                             {"poll": poll.id, **_fields(poll)}, at=now)
            return poll, await self.sequence.event(conn, room_id, seq)

    async def get(self, webinar_id: int, poll_id: int) -> Poll | None:
        async with self.db.read() as conn:
            poll = await self._get(conn, poll_id)
        return poll if poll and poll.webinar_id == webinar_id else None

    async def listing(self, webinar_id: int) -> list[Poll]:
        async with self.db.read() as conn:
            ids = (await conn.execute(select(webinar_polls.c.id).where(webinar_polls.c.webinar_id == webinar_id)
                                      .order_by(webinar_polls.c.id))).scalars().all()
            return [await self._get(conn, poll_id) for poll_id in ids]

    async def vote(self, poll: Poll, room_id: int, member_id: int, option: int) -> tuple[Poll, Event | None]:
        """Counts one vote per member while the poll is open. The event is None when nothing was counted:
        the returned poll says whether it was closed; otherwise the member had voted already."""
        async with self.db.write() as conn:
            # The poll's row lock orders this vote against a concurrent close (SQLite serialises writers anyway).
            state = await conn.scalar(select(webinar_polls.c.state).where(webinar_polls.c.id == poll.id)
                                      .with_for_update())
            voted = await conn.scalar(select(webinar_poll_votes.c.option).where(
                webinar_poll_votes.c.poll_id == poll.id, webinar_poll_votes.c.member_id == member_id))
            if voted is not None or state != PollState.OPEN.value:
                return await self._get(conn, poll.id), None
            await conn.execute(insert(webinar_poll_votes).values(poll_id=poll.id, member_id=member_id,
                                                                 option=option, created_at=utcnow()))
            current = await self._get(conn, poll.id)
            # The voter is not named: the results are counts.
            seq = await self.sequence.append(conn, room_id, EventKind.POLL_RESULTS, None,
                                             {"poll": poll.id, **_fields(current)})
            return current, await self.sequence.event(conn, room_id, seq)

    async def close(self, poll: Poll, room_id: int, actor_id: int) -> tuple[Poll, Event | None]:
        async with self.db.write() as conn:
            changed = await conn.execute(update(webinar_polls).where(
                webinar_polls.c.id == poll.id, webinar_polls.c.state == PollState.OPEN.value)
                .values(state=PollState.CLOSED.value, closed_at=utcnow()))
            current = await self._get(conn, poll.id)
            if changed.rowcount != 1:
                return current, None
            seq = await self.sequence.append(conn, room_id, EventKind.POLL, actor_id,
                                             {"poll": poll.id, **_fields(current)})
            return current, await self.sequence.event(conn, room_id, seq)

    async def _get(self, conn: AsyncConnection, poll_id: int) -> Poll | None:
        row = (await conn.execute(select(webinar_polls).where(webinar_polls.c.id == poll_id))).first()
        if row is None:
            return None
        counts = dict((await conn.execute(
            select(webinar_poll_votes.c.option, func.count()).where(webinar_poll_votes.c.poll_id == poll_id)
            .group_by(webinar_poll_votes.c.option))).all())
        return _poll(row, tuple(counts.get(i, 0) for i in range(len(row.options))))


def _poll(row: Row, counts: tuple[int, ...]) -> Poll:
    return Poll(id=row.id, webinar_id=row.webinar_id, question=row.question, options=tuple(row.options),
                state=PollState(row.state), counts=counts, created_at=row.created_at, closed_at=row.closed_at)


def _fields(poll: Poll) -> dict:
    return {"question": poll.question, "options": list(poll.options), "state": poll.state.value,
            "counts": list(poll.counts), "votes": sum(poll.counts)}
