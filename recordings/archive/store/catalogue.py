"""Queries for recordings and what hangs off them: tags, presenters, captions, invites, positions and views."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from recordings.archive.models import (
    Caption,
    Chapter,
    JobState,
    Recording,
    RecordingVisibility,
    SourceKind,
)
from recordings.archive.schema import (
    recording_captions,
    recording_invites,
    recording_jobs,
    recording_positions,
    recording_presenters,
    recording_tags,
    recordings,
)
from rooms.models import Member
from rooms.store.accounts import member_from_row
from rooms.store.database import Database
from rooms.store.schema import members, utcnow
from rooms.webinars.store.schema import webinar_roles, webinars


def search_text(title: str, description: str, tags: list[str] | tuple[str, ...], names: list[str]) -> str:
    return "\n".join([title, description, " ".join(tags), " ".join(names)])


class CatalogueStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def create(self, *, title: str, description: str, language: str, visibility: RecordingVisibility,
                     webinar_id: int | None, room_id: int | None, owner_id: int | None, recorded_at: datetime,
                     ended_at: datetime | None, source_kind: SourceKind, source: str, tags: list[str],
                     presenter_ids: list[int]) -> tuple[Recording, bool]:
        """The recording and its queued job in one transaction. A webinar has one recording: a second
        call for the same webinar answers the first one (created False)."""
        now = utcnow()
        try:
            async with self.db.write() as conn:
                names = await self._names(conn, presenter_ids)
                recording_id = (await conn.execute(insert(recordings).values(
                    title=title, description=description, language=language, visibility=visibility.value,
                    state=JobState.QUEUED.value, webinar_id=webinar_id, room_id=room_id, owner_id=owner_id,
                    recorded_at=recorded_at, ended_at=ended_at, duration_s=None, has_video=False, views=0,
                    chapters=[], source_kind=source_kind.value, source=source,
                    search_text=search_text(title, description, tags, [names[i] for i in presenter_ids
                                                                       if i in names]),
                    created_at=now).returning(recordings.c.id))).scalar_one()
                await self._set_tags(conn, recording_id, tags)
                for position, member_id in enumerate(m for m in dict.fromkeys(presenter_ids) if m in names):
                    await conn.execute(insert(recording_presenters).values(
                        recording_id=recording_id, member_id=member_id, position=position))
                await conn.execute(insert(recording_jobs).values(
                    recording_id=recording_id, state=JobState.QUEUED.value, progress=0.0, attempts=0,
                    created_at=now))
        except IntegrityError:
            if webinar_id is None:
                raise
            existing = await self.for_webinar(webinar_id)
            if existing is None:
                raise
            return existing, False
        recording = await self.get(recording_id)
        assert recording is not None
        return recording, True

    async def get(self, recording_id: int) -> Recording | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(recordings).where(recordings.c.id == recording_id))).first()
            return (await self.hydrate(conn, [row]))[0] if row else None

    async def for_webinar(self, webinar_id: int) -> Recording | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(recordings).where(recordings.c.webinar_id == webinar_id))).first()
            return (await self.hydrate(conn, [row]))[0] if row else None

    async def hydrate(self, conn: AsyncConnection, rows: list[Row]) -> list[Recording]:
        """Recordings from their rows, with tags and presenters read in two queries for the whole page."""
        ids = [row.id for row in rows]
        tags: dict[int, list[str]] = {}
        people: dict[int, list[Member]] = {}
        if ids:
            for tag_row in (await conn.execute(select(recording_tags).where(recording_tags.c.recording_id.in_(ids))
                                               .order_by(recording_tags.c.tag))).all():
                tags.setdefault(tag_row.recording_id, []).append(tag_row.tag)
            stmt = (select(recording_presenters.c.recording_id, members)
                    .join(members, members.c.id == recording_presenters.c.member_id)
                    .where(recording_presenters.c.recording_id.in_(ids)).order_by(recording_presenters.c.position))
            for person in (await conn.execute(stmt)).all():
                people.setdefault(person.recording_id, []).append(member_from_row(person))
        return [_recording(row, tags.get(row.id, []), people.get(row.id, [])) for row in rows]

    async def update(self, recording_id: int, *, tags: list[str] | None = None, **values: object) -> Recording:
        """Changes metadata (title, description, language, visibility, chapters) and keeps search in step."""
        async with self.db.write() as conn:
            if values:
                await conn.execute(update(recordings).where(recordings.c.id == recording_id).values(**values))
            if tags is not None:
                await self._set_tags(conn, recording_id, tags)
            await self._reindex(conn, recording_id)
        recording = await self.get(recording_id)
        assert recording is not None
        return recording

    async def editors(self, recording: Recording) -> set[int]:
        """Who may edit: the owner (importer, or the webinar's creator) and the webinar's hosts."""
        found = {recording.owner_id} if recording.owner_id is not None else set()
        if recording.webinar_id is not None:
            async with self.db.read() as conn:
                rows = (await conn.execute(select(webinar_roles.c.member_id).where(
                    webinar_roles.c.webinar_id == recording.webinar_id, webinar_roles.c.role == "host"))).all()
            found |= {row.member_id for row in rows}
        return found

    # Invites.

    async def invite(self, recording_id: int, member_id: int, invited_by: int) -> bool:
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(recording_invites).values(recording_id=recording_id, member_id=member_id,
                                                                    invited_by=invited_by, created_at=utcnow()))
            return True
        except IntegrityError:   # invited already
            return False

    async def invited(self, recording_id: int, member_id: int) -> bool:
        async with self.db.read() as conn:
            return await conn.scalar(select(recording_invites.c.member_id).where(
                recording_invites.c.recording_id == recording_id,
                recording_invites.c.member_id == member_id)) is not None

    # Positions and views.

    async def position(self, recording_id: int, member_id: int) -> float:
        async with self.db.read() as conn:
            found = await conn.scalar(select(recording_positions.c.position_s).where(
                recording_positions.c.recording_id == recording_id, recording_positions.c.member_id == member_id))
        return float(found or 0.0)

    async def save_position(self, recording_id: int, member_id: int, position_s: float) -> bool:
        """Stores the resume position; True when it is the member's first (which counts one view)."""
        now = utcnow()
        async with self.db.write() as conn:
            done = await conn.execute(update(recording_positions).where(
                recording_positions.c.recording_id == recording_id, recording_positions.c.member_id == member_id)
                .values(position_s=position_s, updated_at=now))
            if done.rowcount:
                return False
        try:
            async with self.db.write() as conn:
                await conn.execute(insert(recording_positions).values(
                    recording_id=recording_id, member_id=member_id, position_s=position_s, updated_at=now))
                await conn.execute(update(recordings).where(recordings.c.id == recording_id)
                                   .values(views=recordings.c.views + 1))
            return True
        except IntegrityError:   # a concurrent first save won and counted the view
            await self.save_position(recording_id, member_id, position_s)
            return False

    # Captions.

    async def add_caption(self, recording_id: int, language: str, label: str) -> Caption:
        async with self.db.write() as conn:
            row = (await conn.execute(insert(recording_captions).values(
                recording_id=recording_id, language=language, label=label, created_at=utcnow())
                .returning(*recording_captions.c))).one()
        return _caption(row)

    async def remove_caption(self, caption_id: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(recording_captions).where(recording_captions.c.id == caption_id))

    async def captions(self, recording_id: int) -> list[Caption]:
        async with self.db.read() as conn:
            rows = (await conn.execute(select(recording_captions).where(
                recording_captions.c.recording_id == recording_id).order_by(recording_captions.c.id))).all()
        return [_caption(row) for row in rows]

    # The webinar's opt-out.

    async def webinar_records(self, webinar_id: int) -> bool:
        async with self.db.read() as conn:
            return bool(await conn.scalar(select(webinars.c.record).where(webinars.c.id == webinar_id)))

    async def set_webinar_records(self, webinar_id: int, record: bool) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(webinars).where(webinars.c.id == webinar_id).values(record=record))

    async def forget_presenter(self, conn: AsyncConnection, member_id: int) -> None:
        """A member deleted their account (rooms/members_data): they leave every recording's presenters, and
        their name leaves its search text. Runs inside the deletion's closing transaction."""
        presented = (await conn.execute(select(recording_presenters.c.recording_id)
                                        .where(recording_presenters.c.member_id == member_id))).scalars().all()
        await conn.execute(delete(recording_presenters).where(recording_presenters.c.member_id == member_id))
        for recording_id in presented:
            await self._reindex(conn, recording_id)

    # Helpers.

    async def _set_tags(self, conn: AsyncConnection, recording_id: int, tags: list[str]) -> None:
        await conn.execute(delete(recording_tags).where(recording_tags.c.recording_id == recording_id))
        for tag in dict.fromkeys(tags):
            await conn.execute(insert(recording_tags).values(recording_id=recording_id, tag=tag))

    async def _names(self, conn: AsyncConnection, member_ids: list[int]) -> dict[int, str]:
        if not member_ids:
            return {}
        rows = (await conn.execute(select(members.c.id, members.c.display_name)
                                   .where(members.c.id.in_(member_ids)))).all()
        return {row.id: row.display_name for row in rows}

    async def _reindex(self, conn: AsyncConnection, recording_id: int) -> None:
        row = (await conn.execute(select(recordings.c.title, recordings.c.description)
                                  .where(recordings.c.id == recording_id))).one()
        tags = (await conn.execute(select(recording_tags.c.tag)
                                   .where(recording_tags.c.recording_id == recording_id))).scalars().all()
        names = (await conn.execute(select(members.c.display_name)
                                    .join(recording_presenters, recording_presenters.c.member_id == members.c.id)
                                    .where(recording_presenters.c.recording_id == recording_id))).scalars().all()
        await conn.execute(update(recordings).where(recordings.c.id == recording_id).values(
            search_text=search_text(row.title, row.description, list(tags), list(names))))


def _recording(row: Row, tags: list[str], people: list[Member]) -> Recording:
    return Recording(
        id=row.id, title=row.title, description=row.description, language=row.language,
        visibility=RecordingVisibility(row.visibility), state=JobState(row.state), webinar_id=row.webinar_id,
        room_id=row.room_id, owner_id=row.owner_id, recorded_at=row.recorded_at, ended_at=row.ended_at,
        duration_s=row.duration_s, has_video=row.has_video, views=row.views,
        chapters=tuple(Chapter(float(c["t"]), str(c["title"])) for c in (row.chapters or [])),
        source_kind=SourceKind(row.source_kind), source=row.source, created_at=row.created_at,
        tags=tuple(tags), presenters=tuple(people))


def _caption(row: Row) -> Caption:
    return Caption(id=row.id, recording_id=row.recording_id, language=row.language, label=row.label,
                   created_at=row.created_at)
