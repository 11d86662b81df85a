"""Storage for conversations: one small store per concern, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.conversations.store.pins import PinStore
from rooms.conversations.store.reactions import ReactionStore
from rooms.store import Stores
from rooms.store.sequence import Sequence


@dataclass(frozen=True)
class ConversationStores:
    reactions: ReactionStore
    pins: PinStore

    @classmethod
    def over(cls, stores: Stores) -> "ConversationStores":
        db, sequence = stores.db, Sequence(stores.messages)
        made = cls(reactions=ReactionStore(db, sequence), pins=PinStore(db, sequence))
        # A deleted message keeps neither reactions nor a pin.
        stores.messages.on_delete.extend([made.reactions.forget, made.pins.forget])
        return made
