"""Storage for the chat domain: one small store per concern over one Database adapter."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.store.accounts import AccountStore
from rooms.store.database import Database, ReadReplica, open_database, open_replica
from rooms.store.group_commit import GroupCommit, writer_for
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
             replica_retry_s: float = 5.0, send_batch_max: int = 64, send_batches_in_flight: int = 4) -> "Stores":
        """`replica_url`: a Postgres streaming replica that answers history pages and search when
        it has caught up with what the reader must see (rooms/store/replica.py). `send_batch_max`:
        the most sends committed in one transaction (0: no group commit, each send alone);
        `send_batches_in_flight`: batches under way at once on Postgres (SQLite has one writer)."""
        db = open_database(sqlalchemy_url, sqlite_synchronous)
        group_commit = None
        if send_batch_max > 0:
            lanes = 1 if db.dialect == "sqlite" else send_batches_in_flight
            group_commit = GroupCommit(writer_for(db), send_batch_max, lanes)
        replica = open_replica(replica_url, replica_retry_s)
        if replica is not None and db.dialect != "postgresql":
            raise ValueError("DATABASE_REPLICA_URL needs DATABASE_URL to name the Postgres primary")
        return cls(db=db, replica=replica, accounts=AccountStore(db), rooms=RoomStore(db),
                   memberships=MembershipStore(db), messages=MessageStore(db, replica, group_commit),
                   search=SearchStore(db, replica))

    async def dispose(self) -> None:
        if self.messages.group_commit is not None:
            await self.messages.group_commit.close()
        if self.replica is not None:
            await self.replica.dispose()
        await self.db.dispose()


__all__ = ["Stores", "Database", "open_database"]
