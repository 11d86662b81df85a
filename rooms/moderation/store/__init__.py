"""Storage for moderation: one small store per concern, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.moderation.store.accounts import AccountModerationStore
from rooms.moderation.store.actions import RoomActionStore
from rooms.moderation.store.reports import ReportStore
from rooms.moderation.store.restrictions import RestrictionStore
from rooms.store import Stores
from rooms.store.sequence import Sequence


@dataclass(frozen=True)
class ModerationStores:
    restrictions: RestrictionStore
    actions: RoomActionStore
    reports: ReportStore
    accounts: AccountModerationStore

    @classmethod
    def over(cls, stores: Stores) -> "ModerationStores":
        db, sequence = stores.db, Sequence(stores.messages)
        return cls(restrictions=RestrictionStore(db, sequence), actions=RoomActionStore(db, sequence),
                   reports=ReportStore(db), accounts=AccountModerationStore(db))
