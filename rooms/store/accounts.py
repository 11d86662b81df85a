"""Queries for members, their profiles and their login tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from rooms.errors import Conflict
from rooms.models import Member
from rooms.store.database import Database
from rooms.store.schema import auth_tokens, members, utcnow

PROFILE_FIELDS = ("display_name", "bio", "organisation", "country", "languages", "practice_areas")


def member_from_row(row: Row) -> Member:
    return Member(
        id=row.id,
        username=row.username,
        display_name=row.display_name,
        bio=row.bio,
        organisation=row.organisation,
        country=row.country,
        languages=tuple(row.languages or ()),
        practice_areas=tuple(row.practice_areas or ()),
        created_at=row.created_at,
        site_admin=bool(row.site_admin),
        suspended=row.suspended_at is not None,
        former=row.erased_at is not None,
    )


_member_columns = [c for c in members.c if c.name != "password_hash"]


class AccountStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_member(self, username: str, password_hash: str, display_name: str) -> Member:
        try:
            async with self.db.write() as conn:
                result = await conn.execute(
                    insert(members)
                    .values(username=username, password_hash=password_hash, display_name=display_name,
                            bio="", organisation="", country="", languages=[], practice_areas=[],
                            created_at=utcnow())
                    .returning(*_member_columns)
                )
                return member_from_row(result.one())
        except IntegrityError as error:
            raise Conflict("this username is taken", field="username") from error

    async def get(self, member_id: int) -> Member | None:
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(select(*_member_columns).where(members.c.id == member_id))).first()
        return member_from_row(row) if row else None

    async def get_many(self, member_ids: list[int]) -> list[Member]:
        if not member_ids:
            return []
        async with self.db.read(quick=True) as conn:
            rows = (await conn.execute(select(*_member_columns).where(members.c.id.in_(member_ids)))).all()
        return [member_from_row(row) for row in rows]

    async def credentials(self, username: str) -> tuple[Member, str] | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(members).where(members.c.username == username))).first()
        return (member_from_row(row), row.password_hash) if row else None

    async def set_password_hash(self, member_id: int, password_hash: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(members).where(members.c.id == member_id)
                               .values(password_hash=password_hash))

    async def update_profile(self, member_id: int, changes: dict) -> Member | None:
        values = {key: value for key, value in changes.items() if key in PROFILE_FIELDS}
        if values:
            async with self.db.write() as conn:
                await conn.execute(update(members).where(members.c.id == member_id).values(**values))
        return await self.get(member_id)

    async def directory(self, query: str, limit: int, offset: int) -> list[Member]:
        """Members whose name, organisation, country or bio contains the query."""
        stmt = (select(*_member_columns).where(members.c.erased_at.is_(None))
                .order_by(func.lower(members.c.display_name), members.c.id))
        if query:
            pattern = f"%{_escape_like(query.lower())}%"
            stmt = stmt.where(or_(
                func.lower(members.c.username).like(pattern, escape="\\"),
                func.lower(members.c.display_name).like(pattern, escape="\\"),
                func.lower(members.c.organisation).like(pattern, escape="\\"),
                func.lower(members.c.country).like(pattern, escape="\\"),
                func.lower(members.c.bio).like(pattern, escape="\\"),
            ))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt.limit(limit).offset(offset))).all()
        return [member_from_row(row) for row in rows]

    # Tokens: sessions for browsers, bearer tokens for bots and load generators.

    async def add_token(self, token_hash: str, member_id: int, kind: str,
                        expires_at: datetime | None) -> None:
        async with self.db.write() as conn:
            await conn.execute(insert(auth_tokens).values(
                token_hash=token_hash, member_id=member_id, kind=kind,
                created_at=utcnow(), expires_at=expires_at))

    async def member_for_token(self, token_hash: str, now: datetime) -> tuple[Member, datetime | None] | None:
        """The token's member and when the token expires (None: never), unless the token expired or the
        account is suspended."""
        stmt = (select(*_member_columns, auth_tokens.c.expires_at.label("token_expires_at"))
                .join(auth_tokens, auth_tokens.c.member_id == members.c.id)
                .where(auth_tokens.c.token_hash == token_hash, members.c.suspended_at.is_(None))
                .where(or_(auth_tokens.c.expires_at.is_(None), auth_tokens.c.expires_at > now)))
        async with self.db.read(quick=True) as conn:
            row = (await conn.execute(stmt)).first()
        return (member_from_row(row), row.token_expires_at) if row else None

    async def delete_token(self, token_hash: str) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(auth_tokens).where(auth_tokens.c.token_hash == token_hash))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
