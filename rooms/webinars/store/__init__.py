"""Storage for webinars: one small store per concern, over the chat core's database and room sequences."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.store import Stores
from rooms.store.sequence import Sequence
from rooms.webinars.store.attendance import AttendanceStore
from rooms.webinars.store.hands import HandStore
from rooms.webinars.store.moderation import ModerationStore
from rooms.webinars.store.polls import PollStore
from rooms.webinars.store.questions import QuestionStore
from rooms.webinars.store.sessions import SessionStore


@dataclass(frozen=True)
class WebinarStores:
    sessions: SessionStore
    attendance: AttendanceStore
    questions: QuestionStore
    hands: HandStore
    polls: PollStore
    moderation: ModerationStore

    @classmethod
    def over(cls, stores: Stores) -> "WebinarStores":
        db, sequence = stores.db, Sequence(stores.messages)
        return cls(sessions=SessionStore(db, sequence), attendance=AttendanceStore(db),
                   questions=QuestionStore(db, sequence), hands=HandStore(db, sequence),
                   polls=PollStore(db, sequence), moderation=ModerationStore(db, sequence))
