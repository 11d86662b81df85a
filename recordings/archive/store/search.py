"""The catalogue's search: full text over title, description, tags and presenters (Postgres tsvector or
SQLite FTS5, as for messages), filters, sorting, and only what the caller may see."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import exists, func, or_, select, text
from sqlalchemy.sql.elements import ColumnElement

from recordings.archive.models import JobState, Recording, RecordingVisibility
from recordings.archive.schema import recording_invites, recording_presenters, recording_tags, recordings
from recordings.archive.store.catalogue import CatalogueStore
from rooms.store.database import Database
from rooms.webinars.store.schema import webinar_roles

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Filters:
    q: str = ""
    language: str | None = None
    tag: str | None = None
    presenter: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    sort: Literal["newest", "most_watched"] = "newest"
    limit: int = 20
    offset: int = 0


class CatalogueSearch:
    def __init__(self, db: Database, catalogue: CatalogueStore) -> None:
        self.db = db
        self.catalogue = catalogue

    async def find(self, member_id: int | None, filters: Filters) -> tuple[list[Recording], int]:
        """A page of the recordings the caller may see that match, and how many match in all."""
        where = [_visible_to(member_id)]
        terms = _WORD.findall(filters.q)[:8]   # FTS syntax is never taken from users
        if terms:
            where.append(self._matches(terms))
        if filters.language:
            # "pt" finds pt and pt-BR.
            where.append(or_(recordings.c.language == filters.language,
                             recordings.c.language.like(filters.language.replace("%", "") + "-%")))
        if filters.tag:
            where.append(exists().where(recording_tags.c.recording_id == recordings.c.id,
                                        recording_tags.c.tag == filters.tag))
        if filters.presenter is not None:
            where.append(exists().where(recording_presenters.c.recording_id == recordings.c.id,
                                        recording_presenters.c.member_id == filters.presenter))
        if filters.since:
            where.append(recordings.c.recorded_at >= filters.since)
        if filters.until:
            where.append(recordings.c.recorded_at < filters.until)
        order = ([recordings.c.views.desc(), recordings.c.recorded_at.desc()] if filters.sort == "most_watched"
                 else [recordings.c.recorded_at.desc()])
        async with self.db.read() as conn:
            total = await conn.scalar(select(func.count()).select_from(recordings).where(*where))
            rows = (await conn.execute(select(recordings).where(*where).order_by(*order, recordings.c.id.desc())
                                       .limit(filters.limit).offset(filters.offset))).all()
            return await self.catalogue.hydrate(conn, rows), int(total or 0)

    def _matches(self, terms: list[str]) -> ColumnElement[bool]:
        if self.db.dialect == "postgresql":
            tsquery = func.to_tsquery("simple", " & ".join(f"{term}:*" for term in terms))
            return func.to_tsvector("simple", recordings.c.search_text).op("@@")(tsquery)
        match = " ".join('"' + term + '"*' for term in terms)
        matching = (select(text("rowid")).select_from(text("recordings_fts"))
                    .where(text("recordings_fts MATCH :match").bindparams(match=match)))
        return recordings.c.id.in_(matching.scalar_subquery())


def _visible_to(member_id: int | None) -> ColumnElement[bool]:
    """Logged out: ready public recordings. Members: also members-only ones, invite-only ones they were
    invited to, and their own (or their webinars') recordings in any state."""
    ready = recordings.c.state == JobState.READY.value
    if member_id is None:
        return ready & (recordings.c.visibility == RecordingVisibility.PUBLIC.value)
    editor = or_(recordings.c.owner_id == member_id,
                 exists().where(webinar_roles.c.webinar_id == recordings.c.webinar_id,
                                webinar_roles.c.member_id == member_id, webinar_roles.c.role == "host"))
    invited = exists().where(recording_invites.c.recording_id == recordings.c.id,
                             recording_invites.c.member_id == member_id)
    open_to_members = recordings.c.visibility.in_([RecordingVisibility.PUBLIC.value,
                                                   RecordingVisibility.MEMBERS.value])
    return editor | (ready & (open_to_members | invited))
