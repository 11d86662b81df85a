"""Storage for the chat domain: one small store per concern over one Database adapter."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.store.accounts import AccountStore
from rooms.store.database import Database, open_database
from rooms.store.members import MembershipStore
from rooms.store.messages import MessageStore
from rooms.store.rooms import RoomStore
from rooms.store.search import SearchStore


@dataclass(frozen=True)
class Stores:
    db: Database
    accounts: AccountStore
    rooms: RoomStore
    memberships: MembershipStore
    messages: MessageStore
    search: SearchStore

    @classmethod
    def open(cls, sqlalchemy_url: str, sqlite_synchronous: str = "full") -> "Stores":
        db = open_database(sqlalchemy_url, sqlite_synchronous)
        return cls(db=db, accounts=AccountStore(db), rooms=RoomStore(db),
                   memberships=MembershipStore(db), messages=MessageStore(db), search=SearchStore(db))


__all__ = ["Stores", "Database", "open_database"]
