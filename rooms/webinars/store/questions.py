"""Queries for Q&A: questions (each also an event in the room), one upvote per member, moderation."""

from __future__ import annotations

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from rooms.models import Event, EventKind, Member
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.store.sequence import Sequence
from rooms.webinars.models import Question, QuestionState
from rooms.webinars.store.schema import webinar_question_votes, webinar_questions

_columns = [*webinar_questions.c, members.c.username, members.c.display_name]


def _select():
    return select(*_columns).select_from(
        webinar_questions.outerjoin(members, members.c.id == webinar_questions.c.author_id))


def question_from_row(row: Row) -> Question:
    # An anonymous question's author is dropped here, so no caller can leak it by accident.
    author = None if row.anonymous or row.author_id is None else Member(
        id=row.author_id, username=row.username, display_name=row.display_name)
    return Question(id=row.id, webinar_id=row.webinar_id, seq=row.seq, body=row.body, anonymous=row.anonymous,
                    author=author, state=QuestionState(row.state), upvotes=row.upvotes,
                    created_at=row.created_at)


class QuestionStore:
    def __init__(self, db: Database, sequence: Sequence) -> None:
        self.db = db
        self.sequence = sequence

    async def ask(self, webinar_id: int, room_id: int, author_id: int, body: str,
                  anonymous: bool) -> tuple[Question, Event]:
        now = utcnow()
        async with self.db.write() as conn:
            question_id = (await conn.execute(insert(webinar_questions).values(
                webinar_id=webinar_id, seq=0, author_id=author_id, anonymous=anonymous, body=body,
                state=QuestionState.OPEN.value, upvotes=0, created_at=now)
                .returning(webinar_questions.c.id))).scalar_one()
            # An anonymous question's event has no sender, so the room's history cannot name the author.
            seq = await self.sequence.append(conn, room_id, EventKind.QUESTION, None if anonymous else author_id, {
                "question": question_id, "body": body, "anonymous": anonymous,
                "state": QuestionState.OPEN.value, "upvotes": 0}, at=now)
            await conn.execute(update(webinar_questions).where(webinar_questions.c.id == question_id)
                               .values(seq=seq))
            return await self._get(conn, question_id), await self.sequence.event(conn, room_id, seq)

    async def get(self, webinar_id: int, question_id: int) -> Question | None:
        async with self.db.read() as conn:
            question = await self._get(conn, question_id)
        return question if question and question.webinar_id == webinar_id else None

    async def listing(self, webinar_id: int) -> list[Question]:
        stmt = (_select().where(webinar_questions.c.webinar_id == webinar_id)
                .order_by(webinar_questions.c.upvotes.desc(), webinar_questions.c.id))
        async with self.db.read() as conn:
            return [question_from_row(row) for row in (await conn.execute(stmt)).all()]

    async def upvote(self, question: Question, room_id: int, member_id: int) -> tuple[Question, Event | None]:
        """Counts the member's vote once; the event is None when they had already voted."""
        try:
            return await self._upvote(question, room_id, member_id)
        except IntegrityError:   # the same member's second click raced the first; that one counted
            return await self.get(question.webinar_id, question.id), None

    async def _upvote(self, question: Question, room_id: int, member_id: int) -> tuple[Question, Event | None]:
        async with self.db.write() as conn:
            voted = await conn.scalar(select(webinar_question_votes.c.member_id).where(
                webinar_question_votes.c.question_id == question.id,
                webinar_question_votes.c.member_id == member_id))
            if voted is not None:
                return await self._get(conn, question.id), None
            await conn.execute(insert(webinar_question_votes).values(question_id=question.id, member_id=member_id,
                                                                     created_at=utcnow()))
            await conn.execute(update(webinar_questions).where(webinar_questions.c.id == question.id)
                               .values(upvotes=webinar_questions.c.upvotes + 1))
            current = await self._get(conn, question.id)
            seq = await self.sequence.append(conn, room_id, EventKind.QUESTION_UPVOTE, member_id,
                                             {"question": question.id, "upvotes": current.upvotes})
            return current, await self.sequence.event(conn, room_id, seq)

    async def set_state(self, question: Question, room_id: int, state: QuestionState,
                        actor_id: int) -> tuple[Question, Event]:
        async with self.db.write() as conn:
            await conn.execute(update(webinar_questions).where(webinar_questions.c.id == question.id)
                               .values(state=state.value))
            seq = await self.sequence.append(conn, room_id, EventKind.QUESTION_STATE, actor_id,
                                             {"question": question.id, "state": state.value})
            return await self._get(conn, question.id), await self.sequence.event(conn, room_id, seq)

    async def _get(self, conn: AsyncConnection, question_id: int) -> Question | None:
        row = (await conn.execute(_select().where(webinar_questions.c.id == question_id))).first()
        return question_from_row(row) if row else None
