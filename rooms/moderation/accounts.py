"""Site admins and suspended accounts.

A suspended member is never authenticated again (rooms/store/accounts.py member_for_token refuses
their sessions and tokens) until an admin lifts the suspension. Their open sockets are closed on
every process by the web layer (realtime/suspensions.py), which `on_suspended` tells at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Awaitable, Callable

from rooms import metrics
from rooms.accounts import AccountService
from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.models import Member
from rooms.moderation.restrictions import MAX_REASON
from rooms.moderation.store import ModerationStores
from rooms.moderation.store.accounts import AccountAction
from rooms.store import Stores

SuspensionListener = Callable[[int], Awaitable[None]]
SEARCH_LIMIT = 50


async def _nobody(member_id: int) -> None:
    return None


class AccountModeration:
    def __init__(self, stores: Stores, moderation_stores: ModerationStores, accounts: AccountService,
                 on_suspended: SuspensionListener = _nobody) -> None:
        self.stores = stores
        self.store = moderation_stores.accounts
        self.accounts = accounts
        self.on_suspended = on_suspended

    async def suspend(self, admin: Member | None, member_id: int, reason: str = "") -> bool:
        """Suspends the account (`admin` None: the command line); False when it already was."""
        target = await self._target(admin, member_id, reason)
        if admin is not None and target.site_admin:
            raise Forbidden("a site admin is suspended from the command line only", field="member_id")
        changed = await self.store.set_suspended(member_id, True, admin.id if admin else None, reason.strip())
        # Even when it already was: a process that missed the first notice closes what it still has.
        await self.accounts.revoke_member(member_id)
        await self.on_suspended(member_id)
        if changed:
            metrics.moderation_action["suspend"].inc()
        return changed

    async def unsuspend(self, admin: Member | None, member_id: int, reason: str = "") -> bool:
        await self._target(admin, member_id, reason)
        changed = await self.store.set_suspended(member_id, False, admin.id if admin else None, reason.strip())
        if changed:
            metrics.moderation_action["unsuspend"].inc()
        return changed

    async def make_admin(self, member_id: int) -> bool:
        """From the command line only (python -m rooms.admin create-admin)."""
        return await self.store.set_site_admin(member_id, None)

    async def search(self, admin: Member, query: str) -> list[Member]:
        self._require_admin(admin)
        return await self.stores.accounts.directory(query.strip()[:100], SEARCH_LIMIT, 0)

    async def recent_actions(self, admin: Member, limit: int = 50) -> list[AccountAction]:
        self._require_admin(admin)
        return await self.store.recent_actions(limit)

    async def suspended_since(self, since: datetime) -> set[int]:
        return await self.store.suspended_since(since)

    async def _target(self, admin: Member | None, member_id: int, reason: str) -> Member:
        if admin is not None:
            self._require_admin(admin)
            if admin.id == member_id:
                raise BadRequest("not on yourself", field="member_id")
        if len(reason) > MAX_REASON:
            raise BadRequest(f"at most {MAX_REASON} characters", field="reason")
        target = await self.stores.accounts.get(member_id)
        if target is None:
            raise NotFound("no such member", field="member_id")
        return target

    @staticmethod
    def _require_admin(member: Member) -> None:
        if not member.site_admin:
            raise Forbidden("site admins only")
