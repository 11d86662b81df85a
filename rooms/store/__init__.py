"""Storage for the chat domain: one small store per concern over one Database adapter."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.store.accounts import AccountStore
from rooms.store.database import Database, ReadReplica, open_database, open_replica
from rooms.store.members import MembershipStore
from rooms.store.messages import MessageStore
from rooms.store.rooms import RoomStore
from rooms.store.search import SearchStore


@dataclass(frozen=True)
class Stores:
    db: Database
    replica: ReadReplica | None
    accounts: AccountStore
    rooms: RoomStore
    memberships: MembershipStore
    messages: MessageStore
    search: SearchStore

    @classmethod
    def open(cls, sqlalchemy_url: str, sqlite_synchronous: str = "full", replica_url: str = "",
             replica_retry_s: float = 5.0) -> "Stores":
        """`replica_url`: a Postgres streaming replica that answers history pages and search when
        it has caught up with what the reader must see (rooms/store/replica.py)."""
        db = open_database(sqlalchemy_url, sqlite_synchronous)
        replica = open_replica(replica_url, replica_retry_s)
        if replica is not None and db.dialect != "postgresql":
            raise ValueError("DATABASE_REPLICA_URL needs DATABASE_URL to name the Postgres primary")
        return cls(db=db, replica=replica, accounts=AccountStore(db), rooms=RoomStore(db),
                   memberships=MembershipStore(db), messages=MessageStore(db, replica),
                   search=SearchStore(db, replica))

    async def dispose(self) -> None:
        if self.replica is not None:
            await self.replica.dispose()
        await self.db.dispose()


__all__ = ["Stores", "Database", "open_database"]
