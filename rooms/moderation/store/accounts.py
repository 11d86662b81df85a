"""Queries for site admins and suspended accounts, and the record of who did what to an account."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import false, insert, select, update
from sqlalchemy.orm import aliased

from rooms.moderation.store.schema import account_actions
from rooms.store.database import Database
from rooms.store.schema import members, utcnow

_actor = aliased(members)


@dataclass(frozen=True)
class AccountAction:
    member_id: int
    member_name: str
    action: str
    actor_id: int | None
    actor_name: str
    reason: str
    created_at: datetime

    def public(self) -> dict:
        return {"member": {"id": self.member_id, "display_name": self.member_name}, "action": self.action,
                "by": {"id": self.actor_id, "display_name": self.actor_name or "command line"},
                "reason": self.reason, "ts": self.created_at.isoformat()}


class AccountModerationStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def set_suspended(self, member_id: int, suspended: bool, actor_id: int | None, reason: str) -> bool:
        """Suspends or reinstates the account and records who did it; False when it already was so."""
        async with self.db.write() as conn:
            now = utcnow()
            state = members.c.suspended_at.is_(None) if suspended else members.c.suspended_at.is_not(None)
            changed = await conn.execute(update(members).where(members.c.id == member_id, state)
                                         .values(suspended_at=now if suspended else None))
            if changed.rowcount == 0:
                return False
            await conn.execute(insert(account_actions).values(
                member_id=member_id, action="suspend" if suspended else "unsuspend", actor_id=actor_id,
                reason=reason, created_at=now))
            return True

    async def set_site_admin(self, member_id: int, actor_id: int | None) -> bool:
        async with self.db.write() as conn:
            changed = await conn.execute(update(members).where(members.c.id == member_id,
                                                               members.c.site_admin == false())
                                         .values(site_admin=True))
            if changed.rowcount == 0:
                return False
            await conn.execute(insert(account_actions).values(
                member_id=member_id, action="admin", actor_id=actor_id, reason="", created_at=utcnow()))
            return True

    async def suspended_since(self, since: datetime) -> set[int]:
        """Members suspended at or after `since` (and still suspended): a handful, whatever the audience."""
        async with self.db.read() as conn:
            return set((await conn.execute(select(members.c.id).where(members.c.suspended_at >= since))).scalars())

    async def recent_actions(self, limit: int) -> list[AccountAction]:
        stmt = (select(account_actions, members.c.display_name.label("member_name"),
                       _actor.c.display_name.label("actor_name"))
                .join(members, members.c.id == account_actions.c.member_id)
                .outerjoin(_actor, _actor.c.id == account_actions.c.actor_id)
                .order_by(account_actions.c.created_at.desc(), account_actions.c.id.desc()).limit(limit))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [AccountAction(member_id=row.member_id, member_name=row.member_name, action=row.action,
                              actor_id=row.actor_id, actor_name=row.actor_name or "", reason=row.reason,
                              created_at=row.created_at) for row in rows]
