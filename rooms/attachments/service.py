"""Attachments: storing an uploaded file (sniffed, re-encoded, within size and quota), resumable uploads,
who may read what, signed URLs, tying attachments to a message once, and cleaning up after them.

Files live in the storage interface the recordings use (recordings/storage), under `attachments/` and,
while an upload is in progress, `attachment-uploads/`. Nothing here knows which storage or database runs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from recordings.storage import MediaStorage, ObjectInfo, open_storage
from recordings.storage.signing import UrlSigner
from rooms import metrics
from rooms.attachments.models import FILE, PREVIEW, Attachment, Part, Upload
from rooms.attachments.process import FILE_NAME, PREVIEW_NAME, process_in_child
from rooms.attachments.settings import AttachmentSettings
from rooms.attachments.sniffing import Kind, safe_name, sniff
from rooms.attachments.store import AttachmentStores
from rooms.errors import BadRequest, Conflict, ConveneError, Forbidden, NotFound, QuotaExceeded, TooLarge, UnsupportedMedia
from rooms.management import RoomService
from rooms.models import Member
from rooms.store import Stores
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

UPLOAD_PREFIX = "attachment-uploads"
Claim = Callable[[AsyncConnection, int], Awaitable[None]]


class TooManyUploads(ConveneError):
    """The member's bound on resumable uploads in progress (ATTACHMENT_UPLOADS_PER_MEMBER) is reached."""

    code = "too_many_uploads"
    http_status = 429


def _mib(n: int) -> str:
    return f"{n / 1024 / 1024:.0f} MiB"


@dataclass
class AttachmentService:
    settings: AttachmentSettings
    stores: AttachmentStores
    rooms: RoomService
    storage: MediaStorage
    signer: UrlSigner
    work_dir: Path
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def build(cls, stores: Stores, rooms: RoomService, data_dir: Path, secret_key: str,
              settings: AttachmentSettings | None = None) -> "AttachmentService":
        settings = settings or AttachmentSettings.from_env()
        return cls(settings=settings, stores=AttachmentStores.over(stores.db), rooms=rooms,
                   storage=open_storage(data_dir),
                   signer=UrlSigner(secret_key, b"convene.attachment", settings.url_ttl_s),
                   work_dir=data_dir / "work" / "attachments")

    async def start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._tasks = [asyncio.create_task(self._collect_forever(), name="attachment-gc")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Storing a file.

    async def check_new(self, member: Member, room_id: int, length: int | None) -> None:
        """Refusals that need no byte of the file: the room (a muted member adds nothing), the size, the quota."""
        await self.rooms.may_write(member, room_id)
        if length is not None:
            self._check_size(length)
            await self._check_quota(member.id, length)

    def _check_size(self, length: int) -> None:
        if length > self.settings.max_bytes:
            metrics.attachment_upload_outcomes["too_large"].inc()
            raise TooLarge(f"files are limited to {_mib(self.settings.max_bytes)}")

    async def _check_quota(self, member_id: int, adding: int, reserved: int = 0) -> None:
        used = await self.stores.attachments.used_bytes(member_id) - reserved
        if used + adding > self.settings.quota_bytes:
            metrics.attachment_upload_outcomes["over_quota"].inc()
            metrics.attachment_quota_refusals.inc()
            raise QuotaExceeded(f"your files use {_mib(used)} of your {_mib(self.settings.quota_bytes)}; "
                                "delete some messages with files to make room")

    async def upload_file(self, member: Member, room_id: int, source: Path, name: str) -> Attachment:
        """A file received whole (multipart): checked, re-encoded when it is an image or audio, stored."""
        await self.check_new(member, room_id, source.stat().st_size)
        return await self.store(member.id, room_id, source, name)

    async def store(self, owner_id: int, room_id: int, source: Path, name: str, reserved: int = 0) -> Attachment:
        """Sniffs, processes and stores a local file; `reserved`: bytes this file's own upload already
        counted against the quota. The source is left in place for the caller to remove."""
        self._check_size(source.stat().st_size)
        try:
            file_type = await asyncio.to_thread(sniff, source)
        except UnsupportedMedia:
            metrics.attachment_upload_outcomes["refused_type"].inc()
            metrics.attachment_type_refusals.inc()
            raise
        self.work_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=self.work_dir, prefix="store-"))
        keys: list[str] = []
        try:
            meta: dict = {}
            served, preview = source, None
            if file_type.kind in (Kind.IMAGE, Kind.AUDIO):
                meta = await self._process(source, file_type, work)
                served = work / FILE_NAME
                preview = work / PREVIEW_NAME if (work / PREVIEW_NAME).exists() else None
            size = served.stat().st_size
            preview_size = preview.stat().st_size if preview else 0
            if preview is not None:
                meta["preview"]["size"] = preview_size
            await self._check_quota(owner_id, size + preview_size, reserved)
            base = f"attachments/{room_id}/{secrets.token_hex(16)}"
            keys.append(f"{base}/{FILE}")
            await asyncio.to_thread(self.storage.put_file, keys[0], served)
            if preview is not None:
                keys.append(f"{base}/{PREVIEW}")
                await asyncio.to_thread(self.storage.put_file, keys[1], preview)
            attachment = await self.stores.attachments.add(
                room_id=room_id, owner_id=owner_id, name=safe_name(name, file_type), kind=file_type.kind,
                content_type=file_type.content_type, size=size, stored_bytes=size + preview_size,
                file_key=keys[0], preview_key=keys[1] if len(keys) > 1 else None, meta=meta)
        except BaseException as error:
            await asyncio.to_thread(self._delete_objects, keys)
            if not isinstance(error, (TooLarge, QuotaExceeded, UnsupportedMedia)):
                metrics.attachment_upload_outcomes["failed"].inc()
            raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
        metrics.attachment_upload_outcomes["stored"].inc()
        metrics.attachment_stored_bytes.inc(attachment.stored_bytes)
        log.info("attachment %s stored: room %s, member %s, %s, %d bytes", attachment.id, room_id, owner_id,
                 attachment.content_type, attachment.stored_bytes)
        return attachment

    async def _process(self, source: Path, file_type, work: Path) -> dict:
        started = time.perf_counter()
        try:
            return await process_in_child(
                source, file_type, work, max_pixels=self.settings.image_max_pixels,
                max_side=self.settings.image_max_side, preview_side=self.settings.preview_side,
                timeout_s=self.settings.process_timeout_s)
        except UnsupportedMedia:
            metrics.attachment_upload_outcomes["refused_type"].inc()
            metrics.attachment_type_refusals.inc()
            raise
        except TooLarge:
            metrics.attachment_upload_outcomes["too_large"].inc()
            raise
        finally:
            metrics.attachment_processing_seconds.observe(time.perf_counter() - started)

    # Resumable uploads (the tus protocol's resources; realtime/api/attachments.py speaks the protocol).

    async def start_upload(self, member: Member, room_id: int, length: int, name: str) -> Upload:
        await self.check_new(member, room_id, length)
        if await self.stores.uploads.in_progress(member.id) >= self.settings.uploads_per_member:
            raise TooManyUploads(f"at most {self.settings.uploads_per_member} uploads in progress at once; "
                                 "finish or cancel one first")
        expires = utcnow() + timedelta(seconds=self.settings.upload_ttl_s)
        return await self.stores.uploads.create(token=secrets.token_hex(16), member_id=member.id, room_id=room_id,
                                                name=name[:255], length=length, expires_at=expires)

    async def upload_of(self, member: Member, token: str) -> Upload:
        """The member's own upload; anyone else's, or an expired one, is not found."""
        upload = await self.stores.uploads.get(token) if len(token) == 32 and token.isalnum() else None
        if upload is None or upload.member_id != member.id or upload.expires_at < utcnow():
            raise NotFound("no such upload")
        return upload

    async def upload_again(self, upload: Upload) -> Upload:
        """The upload as stored now (another request may have moved it on)."""
        again = await self.stores.uploads.get(upload.token)
        if again is None:
            raise NotFound("no such upload")
        return again

    async def add_part(self, upload: Upload, start: int, source: Path) -> Upload:
        """Keeps bytes received from `start` (a whole PATCH body or what came of it before the link was
        lost). Conflict when the upload moved on meanwhile: the client asks for the offset again."""
        length = source.stat().st_size
        if length == 0:
            return upload
        key = f"{UPLOAD_PREFIX}/{upload.token}/{start:012d}-{secrets.token_hex(4)}"
        await asyncio.to_thread(self.storage.put_file, key, source)
        committed = await self.stores.uploads.commit(upload, Part(start, length, key))
        if committed is None:
            await asyncio.to_thread(self.storage.delete, key)
            raise Conflict("the upload moved on; ask for its offset (HEAD) and continue from there")
        return committed

    async def finish(self, upload: Upload) -> Attachment:
        """The whole file is here: assemble it, store it as an attachment, drop the parts. A refused file
        ends the upload."""
        assembled = self.work_dir / f"upload-{upload.token}-{secrets.token_hex(4)}"
        try:
            await asyncio.to_thread(self._assemble, upload, assembled)
            attachment = await self.store(upload.member_id, upload.room_id, assembled, upload.name,
                                          reserved=upload.length)
        except (TooLarge, QuotaExceeded, UnsupportedMedia):
            await self._drop_upload(upload.token)
            raise
        finally:
            assembled.unlink(missing_ok=True)
        await self.stores.uploads.finished(upload.token, attachment.id)
        await asyncio.to_thread(self._delete_objects, [part.key for part in upload.parts])
        return attachment

    def _assemble(self, upload: Upload, target: Path) -> None:
        with open(target, "wb") as out:
            for part in sorted(upload.parts, key=lambda p: p.start):
                if part.start != out.tell():
                    raise RuntimeError(f"upload {upload.token}: a gap before byte {part.start}")
                with self.storage.open(part.key) as data:
                    shutil.copyfileobj(data, out, 1024 * 1024)

    async def terminate(self, member: Member, token: str) -> None:
        upload = await self.upload_of(member, token)
        await self._drop_upload(upload.token)

    async def _drop_upload(self, token: str) -> None:
        await self.stores.uploads.remove(token)
        await asyncio.to_thread(self._delete_prefix, f"{UPLOAD_PREFIX}/{token}")

    async def finished_attachment(self, upload: Upload) -> Attachment | None:
        return await self.stores.attachments.get(upload.attachment_id) if upload.attachment_id else None

    # Reading.

    async def readable(self, member: Member, attachment_id: int) -> Attachment:
        """The attachment if the member may see it: their own before it is sent, then whoever may read the
        room of its message. Anything else reads as not found, like a private room."""
        attachment = await self.stores.attachments.get(attachment_id)
        if attachment is None:
            raise NotFound("no such attachment")
        if attachment.message_seq is None:
            if attachment.owner_id != member.id:
                raise NotFound("no such attachment")
            return attachment
        await self.rooms.readable(member, attachment.room_id)
        return attachment

    def signed_url(self, attachment: Attachment, variant: str = FILE) -> str:
        return f"/media/attachments/{attachment.id}/{variant}?{self.signer.query(str(attachment.id))}"

    async def served(self, attachment_id: int, variant: str, exp: str | None,
                     sig: str | None) -> tuple[Attachment, ObjectInfo]:
        """A signed file request: the signature first (a forged or expired one is 403), then the file."""
        if not self.signer.valid(str(attachment_id), exp, sig):
            raise Forbidden("this file link is invalid or has expired; open it again from the message")
        attachment = await self.stores.attachments.get(attachment_id)
        key = attachment.key(variant) if attachment else None
        info = await asyncio.to_thread(self.storage.stat, key) if key else None
        if attachment is None or info is None:
            raise NotFound("no such file")
        return attachment, info

    async def remove_unsent(self, member: Member, attachment_id: int) -> None:
        removed = await self.stores.attachments.remove_unsent(member.id, attachment_id)
        if removed is None:
            raise NotFound("no such attachment, or it was sent: delete the message instead")
        await self._delete_files([removed])

    # Messages: what ChatService asks (rooms/service.py, MessageAttachments).

    async def for_message(self, member_id: int, room_id: int, ids: Sequence[int]) -> list[dict]:
        """The descriptors a message will carry; each id must be the sender's own unsent upload to this room."""
        if len(ids) > self.settings.per_message:
            raise BadRequest(f"at most {self.settings.per_message} attachments in one message", field="attachments")
        if len(set(ids)) != len(ids):
            raise BadRequest("each attachment once", field="attachments")
        found = await self.stores.attachments.unsent(member_id, room_id, ids)
        if len(found) != len(ids):
            raise NotFound("no such attachment: upload it to this room first (each is sent once)",
                           field="attachments")
        return [attachment.descriptor() for attachment in found]

    def claim(self, member_id: int, room_id: int, ids: Sequence[int]) -> Claim:
        """Run inside the send's transaction, after the message row: ties the attachments to it, or refuses
        (and the whole send rolls back) when one was used or removed since for_message."""
        async def claim(conn: AsyncConnection, seq: int) -> None:
            if not await self.stores.attachments.claim(conn, member_id, room_id, ids, seq):
                raise NotFound("an attachment was sent or removed meanwhile", field="attachments")
        return claim

    async def message_deleted(self, room_id: int, seq: int) -> None:
        """Deleting a message deletes its files and previews."""
        await self._delete_files(await self.stores.attachments.remove_for_message(room_id, seq))

    # Garbage collection.

    async def collect_garbage(self) -> dict[str, int]:
        """Expired unfinished uploads, files never sent after ATTACHMENT_UNSENT_TTL_S, and files whose message
        was deleted while no process was there to clean up. Safe on every process at once: each row is
        deleted by one of them, and that one deletes its files."""
        now = utcnow()
        uploads = await self.stores.uploads.sweep_expired(now)
        for upload in uploads:
            await asyncio.to_thread(self._delete_prefix, f"{UPLOAD_PREFIX}/{upload.token}")
        unsent = await self.stores.attachments.sweep_unsent(now - timedelta(seconds=self.settings.unsent_ttl_s))
        orphans = await self.stores.attachments.sweep_deleted_messages()
        await self._delete_files(unsent + orphans)
        removed = {"upload": len(uploads), "unsent": len(unsent), "orphan": len(orphans)}
        for what, count in removed.items():
            if count:
                metrics.attachment_gc_by_kind[what].inc(count)
        return removed

    async def _collect_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.gc_interval_s)
            try:
                removed = await self.collect_garbage()
                if any(removed.values()):
                    log.info("attachments garbage collected: %s", removed)
            except Exception:   # the store may be away; the next round catches up
                log.exception("attachment garbage collection failed")

    async def _delete_files(self, removed: list[Attachment]) -> None:
        keys = [key for a in removed for key in (a.file_key, a.preview_key) if key]
        await asyncio.to_thread(self._delete_objects, keys)
        metrics.attachment_deleted_bytes.inc(sum(a.stored_bytes for a in removed))

    def _delete_objects(self, keys: list[str]) -> None:
        for key in keys:
            self.storage.delete(key)

    def _delete_prefix(self, prefix: str) -> None:
        for info in list(self.storage.list(prefix)):
            self.storage.delete(info.key)
