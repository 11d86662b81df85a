"""Queries for reactions: each effective change is a `reaction` event of the room's sequence, committed
with its row and with the message's summary of reactions (messages.reactions)."""

from __future__ import annotations

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.conversations.store.schema import reactions
from rooms.errors import BadRequest, NotFound
from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.schema import messages, utcnow
from rooms.store.sequence import Sequence

MAX_EMOJI_PER_MESSAGE = 20


class _Unchanged(Exception):
    """Leaves the transaction: the reaction was already as asked, so no event is appended."""


async def live_message(conn: AsyncConnection, room_id: int, seq: int) -> None:
    """Raises not_found unless `seq` is a message of the room that is not deleted."""
    row = (await conn.execute(select(messages.c.kind, messages.c.deleted_at)
                              .where(messages.c.room_id == room_id, messages.c.seq == seq))).first()
    if row is None or row.kind != EventKind.MESSAGE.value or row.deleted_at is not None:
        raise NotFound("no such message", field="target")


class ReactionStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def set(self, room_id: int, target_seq: int, member_id: int, emoji: str, active: bool) -> Event | None:
        """Adds or removes one member's reaction. Answers the event, or None when it was already so
        (reacting twice counts once; removing an absent reaction changes nothing)."""
        mine = ((reactions.c.room_id == room_id) & (reactions.c.target_seq == target_seq)
                & (reactions.c.member_id == member_id) & (reactions.c.emoji == emoji))
        try:
            async with self.db.write() as conn:
                await live_message(conn, room_id, target_seq)
                now = utcnow()
                if active:
                    if await conn.scalar(select(func.count()).select_from(reactions).where(mine)):
                        raise _Unchanged
                    await self._check_room_for(conn, room_id, target_seq, emoji)
                    seq = await self._append(conn, room_id, target_seq, member_id, emoji, True, now)
                    await conn.execute(insert(reactions).values(
                        room_id=room_id, target_seq=target_seq, member_id=member_id, emoji=emoji, seq=seq,
                        created_at=now))
                else:
                    if not (await conn.execute(delete(reactions).where(mine))).rowcount:
                        raise _Unchanged
                    seq = await self._append(conn, room_id, target_seq, member_id, emoji, False, now)
                await self._summarise(conn, room_id, target_seq)
                return await self.sequence.event(conn, room_id, seq)
        except (_Unchanged, IntegrityError):
            # IntegrityError: the same reaction raced in on another connection; that one counts.
            return None

    async def forget(self, conn: AsyncConnection, room_id: int, seq: int) -> None:
        """A deleted message's reactions go with it (MessageStore.on_delete)."""
        await conn.execute(delete(reactions).where(reactions.c.room_id == room_id, reactions.c.target_seq == seq))

    async def _append(self, conn: AsyncConnection, room_id: int, target_seq: int, member_id: int, emoji: str,
                      active: bool, now) -> int:
        return await self.sequence.append(conn, room_id, EventKind.REACTION, member_id,
                                          {"target": target_seq, "emoji": emoji, "active": active}, at=now)

    @staticmethod
    async def _check_room_for(conn: AsyncConnection, room_id: int, target_seq: int, emoji: str) -> None:
        kinds = set((await conn.execute(select(reactions.c.emoji).distinct().where(
            reactions.c.room_id == room_id, reactions.c.target_seq == target_seq))).scalars())
        if emoji not in kinds and len(kinds) >= MAX_EMOJI_PER_MESSAGE:
            raise BadRequest(f"a message takes at most {MAX_EMOJI_PER_MESSAGE} different reactions", field="emoji")

    @staticmethod
    async def _summarise(conn: AsyncConnection, room_id: int, target_seq: int) -> None:
        rows = (await conn.execute(select(reactions.c.emoji, reactions.c.member_id)
                                   .where(reactions.c.room_id == room_id, reactions.c.target_seq == target_seq)
                                   .order_by(reactions.c.seq))).all()
        summary: dict[str, list[int]] = {}
        for row in rows:
            summary.setdefault(row.emoji, []).append(row.member_id)
        await conn.execute(update(messages).where(messages.c.room_id == room_id, messages.c.seq == target_seq)
                           .values(reactions=summary or None))
