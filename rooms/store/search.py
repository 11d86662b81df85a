"""Full-text search over the messages a member may read: Postgres tsvector or SQLite FTS5."""

from __future__ import annotations

import re

from sqlalchemy import func, or_, select, text

from rooms.attachments.store.attachments import attachment_matches
from rooms.models import SearchHit
from rooms.store.database import Database
from rooms.store.schema import members, memberships, messages, rooms

_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(query: str) -> list[str]:
    # Only word characters reach the search engine: FTS query syntax is never taken from users.
    return _WORD.findall(query)[:8]


class SearchStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def search(self, member_id: int, query: str, limit: int) -> list[SearchHit]:
        terms = _terms(query)
        if not terms:
            return []
        base = (select(messages.c.room_id, rooms.c.name.label("room_name"), messages.c.seq,
                       members.c.display_name.label("sender_name"), messages.c.body,
                       messages.c.created_at, messages.c.attachments)
                .select_from(messages
                             .join(rooms, rooms.c.id == messages.c.room_id)
                             .join(memberships, (memberships.c.room_id == messages.c.room_id)
                                   & (memberships.c.member_id == member_id))
                             .outerjoin(members, members.c.id == messages.c.sender_id))
                .where(messages.c.kind == "message", messages.c.deleted_at.is_(None)))
        if self.db.dialect == "postgresql":
            tsquery = func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))
            stmt = (base.where(or_(func.to_tsvector("simple", messages.c.body).op("@@")(tsquery),
                                   messages.c.id.in_(attachment_matches(self.db.dialect, terms))))
                    .order_by(messages.c.created_at.desc()))
        else:
            match = " ".join('"' + term + '"*' for term in terms)
            matching = (select(text("rowid")).select_from(text("messages_fts"))
                        .where(text("messages_fts MATCH :match").bindparams(match=match)))
            stmt = base.where(or_(messages.c.id.in_(matching.scalar_subquery()),
                                  messages.c.id.in_(attachment_matches(self.db.dialect, terms)))).order_by(
                messages.c.created_at.desc())
        async with self.db.read() as conn:
            rows = (await conn.execute(stmt.limit(limit))).all()
        return [SearchHit(room_id=row.room_id, room_name=row.room_name, seq=row.seq,
                          sender_name=row.sender_name or "", body=row.body,
                          created_at=row.created_at,
                          attachments=tuple(a["name"] for a in row.attachments or ())) for row in rows]
