"""Everything webinars need in one process, built from the chat core's parts."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.service import ChatService
from rooms.store import Stores
from rooms.webinars.breakouts import BreakoutService
from rooms.webinars.hosts import HostService
from rooms.webinars.moderation import ModerationService
from rooms.webinars.polls import PollService
from rooms.webinars.qa import QuestionService
from rooms.webinars.sessions import WebinarSessions
from rooms.webinars.stage import StageService
from rooms.webinars.store import WebinarStores
from rooms.webinars.summary import SummaryService


@dataclass(frozen=True)
class WebinarServices:
    stores: WebinarStores
    sessions: WebinarSessions
    questions: QuestionService
    stage: StageService
    polls: PollService
    moderation: ModerationService
    hosts: HostService
    breakouts: BreakoutService
    summaries: SummaryService

    @classmethod
    def build(cls, stores: Stores, chat: ChatService) -> "WebinarServices":
        wstores = WebinarStores.over(stores)
        sessions = WebinarSessions(stores, wstores, chat)
        breakouts = BreakoutService(sessions, wstores, chat)
        sessions.after_end.append(breakouts.close_for_end)
        return cls(stores=wstores, sessions=sessions, questions=QuestionService(sessions, wstores, chat),
                   stage=StageService(sessions, wstores, chat), polls=PollService(sessions, wstores, chat),
                   moderation=ModerationService(sessions, wstores, chat),
                   hosts=HostService(sessions, wstores, chat), breakouts=breakouts,
                   summaries=SummaryService(sessions, wstores))
