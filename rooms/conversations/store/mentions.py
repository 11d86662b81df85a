"""Finds which `@names` of a message are members of its room, and whether its author may address the room."""

from __future__ import annotations

from sqlalchemy import or_, select

from rooms.models import Role
from rooms.store.database import Database
from rooms.store.schema import members, memberships


class MentionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def resolve(self, room_id: int, author_id: int, usernames: list[str]) -> tuple[dict[str, int], Role | None]:
        """({username: member id} for the names that belong to the room, the author's role there)."""
        stmt = (select(members.c.id, members.c.username, memberships.c.role)
                .join(memberships, (memberships.c.member_id == members.c.id) & (memberships.c.room_id == room_id))
                .where(or_(members.c.username.in_(usernames), members.c.id == author_id)))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        role = next((Role(row.role) for row in rows if row.id == author_id), None)
        return {row.username: row.id for row in rows if row.username in usernames}, role
