"""Storage for webinars: one small store per concern, over the chat core's database and room sequences."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.store import Stores
from rooms.store.sequence import Sequence
from rooms.webinars.store.attendance import AttendanceStore
from rooms.webinars.store.breakouts import BreakoutStore
from rooms.webinars.store.hands import HandStore
from rooms.webinars.store.hosts import HostStore
from rooms.webinars.store.moderation import ModerationStore
from rooms.webinars.store.polls import PollStore
from rooms.webinars.store.questions import QuestionStore
from rooms.webinars.store.sessions import SessionStore
from rooms.webinars.store.summary import SummaryStore


@dataclass(frozen=True)
class WebinarStores:
    sessions: SessionStore
    attendance: AttendanceStore
    questions: QuestionStore
    hands: HandStore
    polls: PollStore
    moderation: ModerationStore
    hosts: HostStore
    breakouts: BreakoutStore
    summary: SummaryStore

    @classmethod
    def over(cls, stores: Stores) -> "WebinarStores":
        db, sequence = stores.db, Sequence(stores.messages)
        sessions = SessionStore(db, sequence)
        return cls(sessions=sessions, attendance=AttendanceStore(db),
                   questions=QuestionStore(db, sequence), hands=HandStore(db, sequence),
                   polls=PollStore(db, sequence), moderation=ModerationStore(db, sequence),
                   hosts=HostStore(db, sequence, sessions), breakouts=BreakoutStore(db, sequence),
                   summary=SummaryStore(db))
