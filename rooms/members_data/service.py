"""Members' data services, built once per process from the chat core's stores."""

from __future__ import annotations

from dataclasses import dataclass

from recordings.storage import MediaStorage
from rooms.accounts import AccountService
from rooms.management import RoomService
from rooms.members_data.erasure import AccountDeletion, Publish
from rooms.members_data.export import MemberExport
from rooms.members_data.retention import MembersDataJob, RetentionService
from rooms.members_data.settings import MembersDataSettings
from rooms.members_data.store.erasure import ErasureStore
from rooms.members_data.store.export import ExportStore
from rooms.members_data.store.retention import RetentionStore
from rooms.store import Stores


@dataclass
class MembersDataServices:
    settings: MembersDataSettings
    export: MemberExport
    deletion: AccountDeletion
    retention: RetentionService
    job: MembersDataJob

    @classmethod
    def build(cls, stores: Stores, rooms: RoomService, accounts: AccountService, storage: MediaStorage,
              publish: Publish, settings: MembersDataSettings | None = None) -> "MembersDataServices":
        settings = settings or MembersDataSettings.from_env()
        deletion = AccountDeletion(ErasureStore(stores.db, stores.messages), accounts, storage, publish)
        retention = RetentionService(RetentionStore(stores.db, stores.messages), rooms, storage, publish, settings)
        return cls(settings=settings, export=MemberExport(ExportStore(stores.db), storage), deletion=deletion,
                   retention=retention,
                   job=MembersDataJob(retention, deletion.finish_unfinished, settings.retention_interval_s))
