"""Recordings over HTTP: the catalogue, a recording's details and signed media URLs, editing, captions,
invites, resume positions, chat replay, imports, retries, and a webinar's recording opt-out."""

from __future__ import annotations

import asyncio
import re
from datetime import date, datetime, time, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import (capped_stream, current_member, int_param, json, read_body, require_same_origin,
                                  services_of)
from realtime.auth import authenticate
from recordings.archive.media_probe import probe_in_child
from recordings.archive.models import Chapter, Recording, RecordingVisibility
from recordings.archive.service import RecordingServices, Seat
from recordings.archive.store import Filters
from rooms.errors import BadRequest, TooLarge, Unauthenticated, UnsupportedMedia
from rooms.models import Member

LANGUAGE_PATTERN = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
Language = Annotated[StrictStr, Field(pattern=LANGUAGE_PATTERN, max_length=16)]


class ChapterBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    t: Annotated[float, Field(ge=0)]
    title: Annotated[StrictStr, Field(min_length=1, max_length=200)]


class RecordingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: Annotated[StrictStr, Field(min_length=1, max_length=200)] | None = None
    description: Annotated[StrictStr, Field(max_length=5000)] | None = None
    language: Language | None = None
    tags: Annotated[list[Annotated[StrictStr, Field(max_length=40)]], Field(max_length=20)] | None = None
    visibility: Literal["public", "members", "invite"] | None = None
    chapters: Annotated[list[ChapterBody], Field(max_length=200)] | None = None


class PositionBody(BaseModel):
    position_s: Annotated[float, Field(ge=0, le=7 * 24 * 3600)]


class InviteBody(BaseModel):
    member_id: Annotated[StrictInt, Field(gt=0)]


class RecordBody(BaseModel):
    record: StrictBool


def _archive(request: Request) -> RecordingServices:
    return services_of(request).recordings


def _id(request: Request) -> int:
    return request.path_params["recording_id"]


async def _maybe_member(request: Request) -> Member | None:
    """Public recordings are readable without logging in."""
    services = services_of(request)
    member, how = await authenticate(request, services.cookies, services.accounts)
    if member is not None and how == "cookie" and request.method != "GET":
        require_same_origin(request)
    if member is None and (request.headers.get("authorization") or services.cookies.token(request)):
        raise Unauthenticated("this session has expired; log in again")
    return member


def media_url(archive: RecordingServices, recording_id: int, name: str) -> str:
    return f"/media/recordings/{recording_id}/{name}?{archive.signer.query(recording_id)}"


def summary(archive: RecordingServices, recording: Recording) -> dict:
    ready = archive.is_ready(recording)
    return {**recording.summary(),
            "poster_url": media_url(archive, recording.id, "poster.jpg") if ready and recording.has_video else None}


# The catalogue.

async def catalogue(request: Request) -> Response:
    archive = _archive(request)
    member = await _maybe_member(request)
    found, total = await archive.find(member, catalogue_filters(request))
    return json({"recordings": [summary(archive, r) for r in found], "total": total})


def catalogue_filters(request: Request) -> Filters:
    params = request.query_params
    q = params.get("q", "")
    if len(q) > 200:
        raise BadRequest("at most 200 characters", field="q")
    language = params.get("language") or None
    if language is not None and not _matches(LANGUAGE_PATTERN, language):
        raise BadRequest("a BCP 47 language tag", field="language")
    tag = (params.get("tag") or "").strip().lower() or None
    presenter = params.get("presenter") or None
    if presenter is not None and not presenter.isdigit():
        raise BadRequest("a member id", field="presenter")
    sort = params.get("sort") or "newest"
    if sort not in ("newest", "most_watched"):
        raise BadRequest("newest or most_watched", field="sort")
    return Filters(q=q, language=language, tag=tag[:40] if tag else None,
                   presenter=int(presenter) if presenter else None,
                   since=_instant(params.get("since"), "since"), until=_instant(params.get("until"), "until", end=True),
                   sort=sort, limit=int_param(request, "limit", 20, 1, 100),
                   offset=int_param(request, "offset", 0, 0, 100_000))


def _matches(pattern: str, value: str) -> bool:
    return re.match(pattern, value) is not None and len(value) <= 16


def _instant(raw: str | None, name: str, end: bool = False) -> datetime | None:
    """A date (the whole day, in UTC) or an ISO 8601 instant."""
    if not raw:
        return None
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            moment = datetime.combine(day, time.max if end else time.min, tzinfo=timezone.utc)
            return moment
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest("an ISO 8601 date or time", field=name) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


# One recording.

async def recording_detail(request: Request) -> Response:
    archive = _archive(request)
    if request.method == "PATCH":
        member = await current_member(request)
        body = await read_body(request, RecordingChange)
        await archive.edit(member, _id(request), title=body.title, description=body.description,
                           language=body.language, tags=body.tags,
                           visibility=RecordingVisibility(body.visibility) if body.visibility else None,
                           chapters=[Chapter(c.t, c.title) for c in body.chapters] if body.chapters is not None
                           else None)
        return json(await detail_json(archive, await archive.seat(member, _id(request))))
    member = await _maybe_member(request)
    return json(await detail_json(archive, await archive.seat(member, _id(request))))


async def detail_json(archive: RecordingServices, seat: Seat) -> dict:
    job = await archive.job(seat.recording.id) if seat.can_edit else None
    if job is not None and job.state is not seat.recording.state:
        # The job moved on between the two reads (job and recording change in one transaction):
        # read the recording again so the host never sees "ready" beside a recording still processing.
        seat = await archive.seat(seat.member, seat.recording.id)
    recording = seat.recording
    ready = archive.is_ready(recording)
    downloads = []
    if ready:
        for kind, name, mime in (("video", "video.mp4", "video/mp4"), ("audio", "audio.ogg", "audio/ogg; codecs=opus")):
            size = await asyncio.to_thread(archive.media_size, recording.id, name)
            if size is not None:
                downloads.append({"kind": kind, "name": name, "mime": mime, "bytes": size,
                                  "url": media_url(archive, recording.id, name)})
    captions = [{"id": c.id, "language": c.language, "label": c.label,
                 "url": media_url(archive, recording.id, c.name)} for c in await archive.captions(recording.id)]
    detail = {**summary(archive, recording), "chapters": [c.public() for c in recording.chapters],
              "captions": captions, "downloads": downloads,
              "stream_url": media_url(archive, recording.id, "hls/master.m3u8") if ready else None,
              "resume_s": await archive.resume(seat.member, recording.id), "can_edit": seat.can_edit}
    if seat.can_edit:
        detail["job"] = job.public() if job else None
    return detail


async def captions(request: Request) -> Response:
    member = await current_member(request)
    archive = _archive(request)
    language = request.query_params.get("language") or "en"
    if not _matches(LANGUAGE_PATTERN, language):
        raise BadRequest("a BCP 47 language tag", field="language")
    body = await _read_capped(request, archive.settings.caption_max_bytes)
    caption = await archive.add_caption(member, _id(request), language, request.query_params.get("label", ""), body)
    return json({"id": caption.id, "language": caption.language, "label": caption.label,
                 "url": media_url(archive, _id(request), caption.name)}, status=201)


async def _read_capped(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise TooLarge(f"at most {limit} bytes")
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > limit:
            raise TooLarge(f"at most {limit} bytes")
    return bytes(data)


async def position(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, PositionBody)
    await _archive(request).save_position(member, _id(request), body.position_s)
    return Response(status_code=204)


async def replay(request: Request) -> Response:
    member = await _maybe_member(request)
    return json({"events": await _archive(request).replay(member, _id(request))})


async def invites(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, InviteBody)
    added = await _archive(request).invite(member, _id(request), body.member_id)
    return json({"member_id": body.member_id, "invited": True, "added": added})


async def retry(request: Request) -> Response:
    member = await current_member(request)
    job = await _archive(request).retry(member, _id(request))
    return json({"id": _id(request), "job": job.public()}, status=202)


async def webinar_record(request: Request) -> Response:
    member = await current_member(request)
    body = await read_body(request, RecordBody)
    await _archive(request).set_webinar_records(member, request.path_params["webinar_id"], body.record)
    return json({"webinar_id": request.path_params["webinar_id"], "record": body.record})


# Imports.

async def import_recording(request: Request) -> Response:
    """Streams the upload into storage with a size cap, checks by decoding it that it is media, then
    queues the same job as a live recording's. 413 too large, 415 not audio or video."""
    member = await current_member(request)
    archive = _archive(request)
    limit = archive.settings.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit + 64 * 1024:
        raise TooLarge(f"uploads are limited to {limit} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send multipart/form-data with a file field", field="file")
    try:
        form = await MultiPartParser(request.headers, capped_stream(request, limit + 64 * 1024), max_files=1,
                                     max_fields=10, max_part_size=16 * 1024).parse()
    except MultiPartException as error:
        raise BadRequest(f"not a readable form: {error.message}") from None
    upload = form.get("file")
    try:
        if not isinstance(upload, UploadFile):
            raise BadRequest("attach the recording as the file field", field="file")
        fields = {name: value for name, value in form.items() if isinstance(value, str)}
        visibility = fields.get("visibility") or "members"
        if visibility not in ("public", "members", "invite"):
            raise BadRequest("public, members or invite", field="visibility")
        language = fields.get("language") or "en"
        if not _matches(LANGUAGE_PATTERN, language):
            raise BadRequest("a BCP 47 language tag", field="language")
        if upload.size is not None and upload.size > limit:
            raise TooLarge(f"uploads are limited to {limit} bytes")
        key = archive.new_upload_key()
        await asyncio.to_thread(archive.store_upload, key, upload.file)
    finally:
        await form.close()
    try:
        local = archive.local_upload(key)
        if local is None or not await probe_in_child(local):
            raise UnsupportedMedia("the file is not audio or video we can read")
        recording = await archive.imported(
            member, key, title=fields.get("title") or upload.filename or "Imported recording",
            description=fields.get("description", ""), language=language,
            tags=[t for t in (fields.get("tags") or "").split(",") if t.strip()],
            visibility=RecordingVisibility(visibility))
    except BaseException:
        await asyncio.to_thread(archive.discard_upload, key)
        raise
    return json({"id": recording.id, "state": recording.state.value}, status=202)


_base = "/api/recordings/{recording_id:int}"
routes = [
    Route("/api/recordings", catalogue, methods=["GET"]),
    Route("/api/recordings/import", import_recording, methods=["POST"]),
    Route(_base, recording_detail, methods=["GET", "PATCH"], name="recording_detail"),
    Route(_base + "/captions", captions, methods=["POST"]),
    Route(_base + "/position", position, methods=["PUT"]),
    Route(_base + "/replay", replay, methods=["GET"]),
    Route(_base + "/invites", invites, methods=["POST"]),
    Route(_base + "/retry", retry, methods=["POST"]),
    Route("/api/webinars/{webinar_id:int}/record", webinar_record, methods=["PUT"]),
]
