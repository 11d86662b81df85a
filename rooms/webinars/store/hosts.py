"""Queries for a webinar's hosts: making a member a host, taking it back, and never leaving the webinar without one."""

from __future__ import annotations

import enum

from sqlalchemy import func, select

from rooms.models import Event, EventKind
from rooms.store.database import Database
from rooms.store.sequence import Sequence
from rooms.webinars.models import Webinar, WebinarRole
from rooms.webinars.store.schema import webinar_roles, webinars
from rooms.webinars.store.sessions import SessionStore


class HostChange(enum.Enum):
    DONE = "done"
    UNCHANGED = "unchanged"      # already a host (adding), or not a host (removing)
    LAST_HOST = "last_host"      # removing them would leave the webinar without a host


class HostStore:
    def __init__(self, db: Database, sequence: Sequence, sessions: SessionStore) -> None:
        self.db = db
        self.sequence = sequence
        self.sessions = sessions

    async def hosts(self, webinar_id: int) -> list[int]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(webinar_roles.c.member_id).where(
                webinar_roles.c.webinar_id == webinar_id, webinar_roles.c.role == WebinarRole.HOST.value)
                .order_by(webinar_roles.c.granted_at, webinar_roles.c.member_id))).all()
        return [row.member_id for row in rows]

    async def set_host(self, webinar: Webinar, member_id: int, host: bool, actor_id: int,
                       fields: dict) -> tuple[HostChange, Event | None]:
        """Makes the member a host (registering them), or takes it back (they stay registered, in the
        audience), with a HOST event — in one transaction that first locks the webinar's row, so two
        removals at once cannot both pass the "another host is left" check."""
        async with self.db.write() as conn:
            await conn.execute(select(webinars.c.id).where(webinars.c.id == webinar.id).with_for_update())
            role = await conn.scalar(select(webinar_roles.c.role).where(
                webinar_roles.c.webinar_id == webinar.id, webinar_roles.c.member_id == member_id))
            if (role == WebinarRole.HOST.value) == host:
                return HostChange.UNCHANGED, None
            if not host:
                left = await conn.scalar(select(func.count()).select_from(webinar_roles).where(
                    webinar_roles.c.webinar_id == webinar.id, webinar_roles.c.role == WebinarRole.HOST.value))
                if left <= 1:
                    return HostChange.LAST_HOST, None
            event = await self.sessions.change_role(conn, webinar, member_id, WebinarRole.HOST if host else None,
                                                    actor_id, EventKind.HOST, fields)
            return HostChange.DONE, event
