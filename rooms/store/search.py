"""Full-text search over the messages a member may read: Postgres tsvector or SQLite FTS5.

What a message is found by is a list of sources (`SEARCH_SOURCES`), each a condition on
`messages` built from the search terms: the message's text and the names of its attachments.
Another feature makes more of a message searchable by adding a source there. A message
matching any source is a hit; highlighting (rooms/search.py) marks the terms in its text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (BigInteger, ColumnElement, FromClause, Select, any_, bindparam, exists, func, literal, or_,
                        select, text)
from sqlalchemy.dialects.postgresql import ARRAY

from rooms.attachments.store.attachments import attachment_matches
from rooms.models import SearchHit
from rooms.store.database import Database, ReadReplica
from rooms.store.replica import answered, replica_statement, rows_from_replica
from rooms.store.rooms import restricted
from rooms.store.schema import members, memberships, messages, rooms, utcnow
from rooms.text_rules import normalise_username

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 8

# (dialect, terms) -> a condition on `messages` that is true for the messages these terms find.
SearchSource = Callable[[str, list[str]], ColumnElement[bool]]


def terms_of(query: str) -> list[str]:
    # Only word characters reach the search engine: FTS query syntax is never taken from users.
    return _WORD.findall(query)[:MAX_TERMS]


def message_text(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    """Every term, as a word prefix, in the message's text (indexed by migration 0001)."""
    if dialect == "postgresql":
        tsquery = func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))
        return func.to_tsvector("simple", messages.c.body).op("@@")(tsquery)
    match = " ".join('"' + term + '"*' for term in terms)
    matching = (select(text("rowid")).select_from(text("messages_fts"))
                .where(text("messages_fts MATCH :match").bindparams(match=match)))
    return messages.c.id.in_(matching.scalar_subquery())


def attachment_names(dialect: str, terms: list[str]) -> ColumnElement[bool]:
    """Every term, as a word prefix, in the name of one of the message's attachments."""
    return messages.c.id.in_(attachment_matches(dialect, terms))


SEARCH_SOURCES: list[SearchSource] = [message_text, attachment_names]


@dataclass(frozen=True)
class SearchFilters:
    room_id: int | None = None
    sender: str | None = None          # a username
    since: datetime | None = None      # inclusive
    until: datetime | None = None      # exclusive


def _search(found_in: FromClause, dialect: str, terms: list[str], filters: SearchFilters, offset: int,
            limit: int) -> Select:
    """The hits among the messages of `found_in` (messages joined to rooms and maybe to the member's
    memberships), newest first."""
    stmt = (select(messages.c.room_id, rooms.c.name.label("room_name"), messages.c.seq,
                   messages.c.sender_id, members.c.display_name.label("sender_name"), messages.c.body,
                   messages.c.created_at, messages.c.attachments, messages.c.id)
            .select_from(found_in.outerjoin(members, members.c.id == messages.c.sender_id))
            .where(messages.c.kind == "message", messages.c.deleted_at.is_(None),
                   or_(*(source(dialect, terms) for source in SEARCH_SOURCES))))
    if filters.room_id is not None:
        stmt = stmt.where(messages.c.room_id == filters.room_id)
    if filters.sender:
        stmt = stmt.where(members.c.username == normalise_username(filters.sender))
    if filters.since is not None:
        stmt = stmt.where(messages.c.created_at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(messages.c.created_at < filters.until)
    return stmt.order_by(messages.c.created_at.desc(), messages.c.id.desc()).offset(offset).limit(limit)


def _hit(row) -> SearchHit:
    return SearchHit(room_id=row.room_id, room_name=row.room_name, seq=row.seq, sender_id=row.sender_id,
                     sender_name=row.sender_name or "", body=row.body, created_at=row.created_at,
                     attachments=tuple(a["name"] for a in row.attachments or ()))


# The rooms a member may search (theirs, unless banned), with their heads: on the primary, which
# alone decides access.
_searchable = (select(rooms.c.id, rooms.c.last_seq)
               .join(memberships, memberships.c.room_id == rooms.c.id)
               .where(memberships.c.member_id == bindparam("member"),
                      ~restricted(rooms.c.id, bindparam("member"), bindparam("now"), "ban")))

# On the replica: has its copy of every one of those rooms reached the primary's head?
_wanted = (func.unnest(bindparam("ids", type_=ARRAY(BigInteger)), bindparam("heads", type_=ARRAY(BigInteger)))
           .table_valued("id", "head").render_derived(name="wanted"))
_caught_up = select(~exists(
    select(literal(1)).select_from(_wanted.outerjoin(rooms, rooms.c.id == _wanted.c.id))
    .where(or_(rooms.c.last_seq.is_(None), rooms.c.last_seq < _wanted.c.head))))


class SearchStore:
    def __init__(self, db: Database, replica: ReadReplica | None = None) -> None:
        self.db = db
        self.replica = replica

    async def search(self, member_id: int, query: str, limit: int, filters: SearchFilters = SearchFilters(),
                     offset: int = 0) -> list[SearchHit]:
        """Newest first; asks for one more than `limit` is useful to know whether a next page exists."""
        terms = terms_of(query)
        if not terms:
            return []
        if self.replica is not None:
            return await self._search_with_replica(member_id, terms, limit, filters, offset)
        members_rooms = (messages.join(rooms, rooms.c.id == messages.c.room_id)
                         .join(memberships, (memberships.c.room_id == messages.c.room_id)
                               & (memberships.c.member_id == member_id)))
        stmt = _search(members_rooms, self.db.dialect, terms, filters, offset, limit).where(
            ~restricted(messages.c.room_id, member_id, utcnow(), "ban"))
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [_hit(row) for row in rows]

    async def _search_with_replica(self, member_id: int, terms: list[str], limit: int, filters: SearchFilters,
                                   offset: int) -> list[SearchHit]:
        """The member's rooms and their heads from the primary; the search itself on the replica when
        its copy of every one of those rooms has caught up (rooms/store/replica.py), else on the primary."""
        searchable = _searchable
        if filters.room_id is not None:
            searchable = searchable.where(rooms.c.id == filters.room_id)   # only that room's head matters
        async with self.db.read() as conn:
            rooms_and_heads = (await conn.execute(searchable, {"member": member_id, "now": utcnow()})).all()
        if not rooms_and_heads:
            return []
        hits = _search(messages.join(rooms, rooms.c.id == messages.c.room_id), self.db.dialect, terms, filters,
                       offset, limit).where(messages.c.room_id == any_(bindparam("ids", type_=ARRAY(BigInteger))))
        params = {"ids": [row.id for row in rooms_and_heads], "heads": [row.last_seq for row in rooms_and_heads]}
        assert self.replica is not None
        rows = await rows_from_replica(self.replica, "search",
                                       replica_statement(_caught_up, hits, "-created_at", "-id"), params)
        if rows is not None and answered("search", bool(rows[0][0])):
            return [_hit(row) for row in rows if row.seq is not None]
        async with self.db.read() as conn:
            rows = (await conn.execute(hits, params)).all()
        return [_hit(row) for row in rows]
