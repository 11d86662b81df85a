"""Q&A: registered members ask (anonymously when the host allows it) and upvote once; moderators answer or dismiss.

Questions may be asked before the start (the lobby) and while live; nothing changes after the end.
An anonymous question's author is stored for operators but never leaves the server.
"""

from __future__ import annotations

from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService
from rooms.webinars.models import Question, QuestionState
from rooms.webinars.sessions import WebinarSessions
from rooms.webinars.store import WebinarStores

MAX_QUESTION = 1000


class QuestionService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.store = stores.questions
        self.chat = chat

    async def ask(self, member: Member, webinar_id: int, body: str, anonymous: bool) -> Question:
        body = body.strip()
        if not body or len(body) > MAX_QUESTION:
            raise BadRequest(f"1 to {MAX_QUESTION} characters", field="body")
        seat = await self.sessions.participant(member, webinar_id)
        if anonymous and not seat.webinar.anonymous_questions:
            raise Forbidden("the host has not allowed anonymous questions", field="anonymous")
        question, event = await self.store.ask(webinar_id, seat.webinar.room_id, member.id, body, anonymous)
        await self.chat.publish(event)
        return question

    async def listing(self, member: Member, webinar_id: int) -> list[Question]:
        await self.sessions.seat(member, webinar_id)
        return await self.store.listing(webinar_id)

    async def upvote(self, member: Member, webinar_id: int, question_id: int) -> tuple[Question, bool]:
        """Answers (question, counted): a second upvote by the same member is not counted."""
        seat = await self.sessions.participant(member, webinar_id)
        question = await self._question(webinar_id, question_id)
        if question.state is not QuestionState.OPEN:
            raise Forbidden("this question is closed")
        question, event = await self.store.upvote(question, seat.webinar.room_id, member.id)
        if event is not None:
            await self.chat.publish(event)
        return question, event is not None

    async def moderate(self, member: Member, webinar_id: int, question_id: int, state: QuestionState) -> Question:
        if state is QuestionState.OPEN:
            raise BadRequest("answered or dismissed", field="state")
        seat = await self.sessions.moderator(member, webinar_id)
        question = await self._question(webinar_id, question_id)
        if question.state is state:
            return question
        question, event = await self.store.set_state(question, seat.webinar.room_id, state, member.id)
        await self.chat.publish(event)
        return question

    async def _question(self, webinar_id: int, question_id: int) -> Question:
        question = await self.store.get(webinar_id, question_id)
        if question is None:
            raise NotFound("no such question", field="question")
        return question
