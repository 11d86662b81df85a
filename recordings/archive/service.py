"""The archive's domain service: recordings from live webinars and imports, who may see and edit them,
metadata, captions, invites, resume positions, replay, and the job worker's life cycle.

Every access decision about a recording is made here (`view` and `edit`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import BinaryIO

from recordings.archive.models import Caption, Chapter, Job, JobState, Recording, RecordingVisibility, SourceKind
from recordings.archive.settings import RecordingSettings
from recordings.archive.signing import MediaSigner
from recordings.archive.store import ArchiveStores, Filters
from recordings.archive.worker import JobWorker, media_key
from recordings.storage import MediaStorage, open_storage
from rooms.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthenticated
from rooms.models import Member
from rooms.store import Stores
from rooms.store.schema import utcnow
from rooms.webinars.models import WebinarVisibility
from rooms.webinars.service import WebinarServices

log = logging.getLogger(__name__)

MAX_TITLE, MAX_DESCRIPTION, MAX_TAGS, MAX_CHAPTERS = 200, 5000, 20, 200
REPLAY_LIMIT = 5000
_TAG = re.compile(r"^[\w][\w -]{0,39}$", re.UNICODE)


@dataclass(frozen=True)
class Seat:
    """A caller's standing towards one recording."""

    recording: Recording
    member: Member | None
    can_edit: bool


@dataclass
class RecordingServices:
    settings: RecordingSettings
    stores: ArchiveStores
    storage: MediaStorage
    signer: MediaSigner
    webinars: WebinarServices
    worker: JobWorker
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def build(cls, stores: Stores, webinars: WebinarServices, data_dir: Path, secret_key: str,
              settings: RecordingSettings | None = None) -> "RecordingServices":
        settings = settings or RecordingSettings.from_env()
        astores = ArchiveStores.over(stores.db)
        storage = open_storage(data_dir)
        worker = JobWorker(astores, storage, settings, data_dir / "work" / "recordings")
        return cls(settings=settings, stores=astores, storage=storage,
                   signer=MediaSigner(secret_key, settings.url_ttl_s), webinars=webinars, worker=worker)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self.worker.run_forever(), name="recording-jobs")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Where recordings come from.

    async def live_finished(self, webinar_id: int, live_dir: Path, started_at: datetime) -> Recording | None:
        """The live packager finished a webinar's HLS in live_dir: queue its archive job (once per
        webinar), or do nothing when the host opted out. Safe to call again: answers the same recording."""
        webinar = await self.webinars.stores.sessions.get(webinar_id)
        if webinar is None:
            raise NotFound("no such webinar")
        if not webinar.record:
            log.info("webinar %s: the host opted out of recording; live media not archived", webinar_id)
            return None
        roles = await self.webinars.stores.sessions.roles(webinar_id)
        order = {"host": 0, "panelist": 1, "speaker": 2}
        presenters = sorted(roles, key=lambda member_id: (order.get(roles[member_id].value, 3), member_id))
        visibility = (RecordingVisibility.PUBLIC if webinar.visibility is WebinarVisibility.PUBLIC
                      else RecordingVisibility.MEMBERS)
        recording, created = await self.stores.catalogue.create(
            title=webinar.title, description=webinar.description, language=webinar.language, visibility=visibility,
            webinar_id=webinar.id, room_id=webinar.room_id, owner_id=webinar.created_by, recorded_at=started_at,
            ended_at=webinar.ended_at or utcnow(), source_kind=SourceKind.LIVE, source=str(Path(live_dir).resolve()),
            tags=[], presenter_ids=presenters)
        if created:
            log.info("webinar %s: recording %s queued from %s", webinar_id, recording.id, live_dir)
            self.worker.wake()
        return recording

    def new_upload_key(self) -> str:
        return f"uploads/{secrets.token_hex(16)}"

    def store_upload(self, key: str, data: BinaryIO) -> None:
        self.storage.put_stream(key, data)

    def local_upload(self, key: str) -> Path | None:
        return self.storage.local_path(key)

    def discard_upload(self, key: str) -> None:
        self.storage.delete(key)

    async def imported(self, member: Member, key: str, *, title: str, description: str, language: str,
                       tags: list[str], visibility: RecordingVisibility) -> Recording:
        """An uploaded file (already in storage, already probed as media) becomes a queued recording."""
        now = utcnow()
        recording, _ = await self.stores.catalogue.create(
            title=_title(title), description=_description(description), language=language, visibility=visibility,
            webinar_id=None, room_id=None, owner_id=member.id, recorded_at=now, ended_at=None,
            source_kind=SourceKind.UPLOAD, source=key, tags=_tags(tags), presenter_ids=[member.id])
        self.worker.wake()
        return recording

    # Access.

    async def seat(self, member: Member | None, recording_id: int) -> Seat:
        """The recording if the caller may see it: 404 unknown, 401 logged out from a members-only or
        invite-only one, 403 a member not invited to an invite-only one."""
        recording = await self.stores.catalogue.get(recording_id)
        if recording is None:
            raise NotFound("no such recording")
        can_edit = member is not None and member.id in await self.stores.catalogue.editors(recording)
        if can_edit or recording.visibility is RecordingVisibility.PUBLIC:
            return Seat(recording, member, can_edit)
        if member is None:
            raise Unauthenticated("log in to watch this recording")
        if recording.visibility is RecordingVisibility.INVITE and not await self.stores.catalogue.invited(
                recording.id, member.id):
            raise Forbidden("this recording is for invited members only")
        return Seat(recording, member, False)

    async def editor(self, member: Member, recording_id: int) -> Seat:
        seat = await self.seat(member, recording_id)
        if not seat.can_edit:
            raise Forbidden("only the recording's hosts do this")
        return seat

    async def media_allowed(self, recording_id: int, exp: str | None, sig: str | None) -> Recording:
        """A media request: public recordings need nothing, the others a valid unexpired signature."""
        recording = await self.stores.catalogue.get(recording_id)
        if recording is None:
            raise NotFound("no such recording")
        if recording.visibility is RecordingVisibility.PUBLIC and not (exp or sig):
            return recording
        if not self.signer.valid(recording_id, exp, sig):
            raise Forbidden("this media link is invalid or has expired; reload the recording's page")
        return recording

    # The catalogue.

    async def find(self, member: Member | None, filters: Filters) -> tuple[list[Recording], int]:
        return await self.stores.search.find(member.id if member else None, filters)

    async def job(self, recording_id: int) -> Job | None:
        return await self.stores.jobs.for_recording(recording_id)

    async def captions(self, recording_id: int) -> list[Caption]:
        return await self.stores.catalogue.captions(recording_id)

    async def resume(self, member: Member | None, recording_id: int) -> float:
        return await self.stores.catalogue.position(recording_id, member.id) if member else 0.0

    def media_size(self, recording_id: int, name: str) -> int | None:
        info = self.storage.stat(media_key(recording_id, name))
        return info.size if info else None

    async def edit(self, member: Member, recording_id: int, *, title: str | None = None,
                   description: str | None = None, language: str | None = None, tags: list[str] | None = None,
                   visibility: RecordingVisibility | None = None,
                   chapters: list[Chapter] | None = None) -> Recording:
        seat = await self.editor(member, recording_id)
        values: dict = {}
        if title is not None:
            values["title"] = _title(title)
        if description is not None:
            values["description"] = _description(description)
        if language is not None:
            values["language"] = language
        if visibility is not None:
            values["visibility"] = visibility.value
        if chapters is not None:
            values["chapters"] = [c.public() for c in _chapters(chapters, seat.recording.duration_s)]
        return await self.stores.catalogue.update(recording_id, tags=_tags(tags) if tags is not None else None,
                                                  **values)

    async def add_caption(self, member: Member, recording_id: int, language: str, label: str,
                          body: bytes) -> Caption:
        await self.editor(member, recording_id)
        if len(body) > self.settings.caption_max_bytes:
            raise BadRequest(f"captions are limited to {self.settings.caption_max_bytes} bytes", field="body")
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadRequest("captions must be UTF-8 WebVTT", field="body") from None
        if not re.match(r"^WEBVTT([ \t].*)?(\r?\n|$)", text):
            raise BadRequest("not a WebVTT file: it must start with WEBVTT", field="body")
        label = " ".join(label.split())[:80] or language
        caption = await self.stores.catalogue.add_caption(recording_id, language, label)
        try:
            await asyncio.to_thread(self.storage.put_stream, media_key(recording_id, caption.name),
                                    _BytesReader(text.encode()))
        except BaseException:
            await self.stores.catalogue.remove_caption(caption.id)
            raise
        return caption

    async def invite(self, member: Member, recording_id: int, invitee_id: int) -> bool:
        await self.editor(member, recording_id)
        if await self.webinars.sessions.stores.accounts.get(invitee_id) is None:
            raise NotFound("no such member", field="member_id")
        return await self.stores.catalogue.invite(recording_id, invitee_id, member.id)

    async def save_position(self, member: Member, recording_id: int, position_s: float) -> bool:
        seat = await self.seat(member, recording_id)
        if seat.recording.duration_s is not None:
            position_s = min(position_s, seat.recording.duration_s)
        return await self.stores.catalogue.save_position(recording_id, member.id, max(0.0, position_s))

    async def retry(self, member: Member, recording_id: int) -> Job:
        await self.editor(member, recording_id)
        if not await self.stores.jobs.retry(recording_id):
            raise Conflict("only a failed job can be retried", field="state")
        self.worker.wake()
        job = await self.stores.jobs.for_recording(recording_id)
        assert job is not None
        return job

    async def replay(self, member: Member | None, recording_id: int) -> list[dict]:
        """The webinar room's chat and Q&A during the recording, each with `t`: seconds since its start."""
        recording = (await self.seat(member, recording_id)).recording
        if recording.room_id is None:
            return []
        until = recording.ended_at
        if recording.duration_s is not None:
            until = recording.recorded_at + timedelta(seconds=recording.duration_s + 1)
        events = await self.stores.replay.window(recording.room_id, recording.recorded_at, until, REPLAY_LIMIT)
        for event in events:
            event["t"] = round((event.pop("at") - recording.recorded_at).total_seconds(), 3)
        return events

    async def set_webinar_records(self, member: Member, webinar_id: int, record: bool) -> None:
        """A host opts a webinar in or out of the automatic recording (before it ends)."""
        seat = await self.webinars.sessions.host(member, webinar_id)
        if seat.webinar.state.value == "ended":
            raise Conflict("this webinar has ended", field="record")
        await self.stores.catalogue.set_webinar_records(webinar_id, record)

    def is_ready(self, recording: Recording) -> bool:
        return recording.state is JobState.READY


class _BytesReader:
    """The smallest file-like object put_stream needs, over bytes."""

    def __init__(self, data: bytes) -> None:
        self._data, self._at = data, 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._data) if size < 0 else self._at + size
        chunk, self._at = self._data[self._at:end], min(end, len(self._data))
        return chunk


def _title(title: str) -> str:
    title = " ".join(title.split())
    if not title or len(title) > MAX_TITLE:
        raise BadRequest(f"1 to {MAX_TITLE} characters", field="title")
    return title


def _description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION:
        raise BadRequest(f"at most {MAX_DESCRIPTION} characters", field="description")
    return description.strip()


def _tags(tags: list[str]) -> list[str]:
    cleaned = [" ".join(tag.split()).lower() for tag in tags]
    cleaned = [tag for tag in dict.fromkeys(cleaned) if tag]
    if len(cleaned) > MAX_TAGS or not all(_TAG.match(tag) for tag in cleaned):
        raise BadRequest(f"at most {MAX_TAGS} tags of letters, digits, spaces and dashes (40 each)", field="tags")
    return cleaned


def _chapters(chapters: list[Chapter], duration_s: float | None) -> list[Chapter]:
    if len(chapters) > MAX_CHAPTERS:
        raise BadRequest(f"at most {MAX_CHAPTERS} chapters", field="chapters")
    for chapter in chapters:
        if chapter.t < 0 or (duration_s is not None and chapter.t > duration_s):
            raise BadRequest("a chapter starts within the recording", field="chapters")
        if not chapter.title.strip() or len(chapter.title) > 200:
            raise BadRequest("a chapter has a title of 1 to 200 characters", field="chapters")
    return sorted(chapters, key=lambda c: c.t)
