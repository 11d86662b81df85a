"""Quick polls: moderators open one with options, registered members vote once, results go out live, moderators close it."""

from __future__ import annotations

from rooms.errors import BadRequest, Conflict, Forbidden, NotFound
from rooms.models import Member
from rooms.service import ChatService
from rooms.webinars.models import Poll, PollState
from rooms.webinars.sessions import WebinarSessions
from rooms.webinars.store import WebinarStores

MAX_QUESTION = 300
MAX_OPTION = 120
MAX_OPTIONS = 10


class PollService:
    def __init__(self, sessions: WebinarSessions, stores: WebinarStores, chat: ChatService) -> None:
        self.sessions = sessions
        self.store = stores.polls
        self.chat = chat

    async def create(self, member: Member, webinar_id: int, question: str, options: list[str]) -> Poll:
        question = question.strip()
        options = [" ".join(option.split()) for option in options]
        if not question or len(question) > MAX_QUESTION:
            raise BadRequest(f"1 to {MAX_QUESTION} characters", field="question")
        if not 2 <= len(options) <= MAX_OPTIONS:
            raise BadRequest(f"2 to {MAX_OPTIONS} options", field="options")
        if any(not option or len(option) > MAX_OPTION for option in options) or len(set(options)) != len(options):
            raise BadRequest(f"distinct options of 1 to {MAX_OPTION} characters", field="options")
        seat = await self.sessions.moderator(member, webinar_id, live=True)
        poll, event = await self.store.create(webinar_id, seat.webinar.room_id, member.id, question, options)
        await self.chat.publish(event)
        return poll

    async def listing(self, member: Member, webinar_id: int) -> list[Poll]:
        await self.sessions.seat(member, webinar_id)
        return await self.store.listing(webinar_id)

    async def vote(self, member: Member, webinar_id: int, poll_id: int, option: int) -> Poll:
        seat = await self.sessions.participant(member, webinar_id, live=True)
        poll = await self._poll(webinar_id, poll_id)
        if not 0 <= option < len(poll.options):
            raise BadRequest(f"an option from 0 to {len(poll.options) - 1}", field="option")
        poll, event = await self.store.vote(poll, seat.webinar.room_id, member.id, option)
        if event is None:
            if poll.state is not PollState.OPEN:
                raise Forbidden("this poll is closed")
            raise Conflict("you have already voted in this poll")
        await self.chat.publish(event)
        return poll

    async def close(self, member: Member, webinar_id: int, poll_id: int) -> Poll:
        seat = await self.sessions.moderator(member, webinar_id)
        poll, event = await self.store.close(await self._poll(webinar_id, poll_id), seat.webinar.room_id, member.id)
        if event is not None:
            await self.chat.publish(event)
        return poll

    async def _poll(self, webinar_id: int, poll_id: int) -> Poll:
        poll = await self.store.get(webinar_id, poll_id)
        if poll is None:
            raise NotFound("no such poll", field="poll")
        return poll
