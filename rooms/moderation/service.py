"""Everything moderation needs in one process, built from the chat core's parts."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.accounts import AccountService
from rooms.management import RoomService
from rooms.moderation.accounts import AccountModeration, SuspensionListener, _nobody
from rooms.moderation.audit import RoomAudit
from rooms.moderation.authority import Authority
from rooms.moderation.actions import RoomActions
from rooms.moderation.reports import ReportService
from rooms.moderation.restrictions import RestrictionService
from rooms.moderation.store import ModerationStores
from rooms.service import ChatService
from rooms.store import Stores


@dataclass(frozen=True)
class ModerationServices:
    stores: ModerationStores
    authority: Authority
    restrictions: RestrictionService
    actions: RoomActions
    reports: ReportService
    accounts: AccountModeration
    audit: RoomAudit

    @classmethod
    def build(cls, stores: Stores, rooms: RoomService, chat: ChatService, accounts: AccountService,
              on_suspended: SuspensionListener = _nobody, mstores: ModerationStores | None = None,
              ) -> "ModerationServices":
        mstores = mstores or ModerationStores.over(stores)
        authority = Authority(stores, rooms)
        restrictions = RestrictionService(authority, mstores, chat, rooms)
        return cls(stores=mstores, authority=authority, restrictions=restrictions,
                   actions=RoomActions(authority, mstores, chat, rooms),
                   reports=ReportService(authority, mstores, stores, chat, rooms, restrictions),
                   accounts=AccountModeration(stores, mstores, accounts, on_suspended),
                   audit=RoomAudit(authority, stores))
