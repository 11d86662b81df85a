"""Attachments over HTTP: uploads (a multipart POST, or resumable with the tus 1.0.0 protocol), an attachment's
details and fresh signed URLs, and the files themselves behind those URLs (docs/attachments.md).

Served files are the server's own re-encoded or checked copies, with the type the server chose,
`nosniff`, a sandboxing CSP and, unless they are images or audio, `Content-Disposition: attachment`:
an uploaded file can never run script in the site's origin.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import secrets
import shutil
import time
from email.utils import format_datetime
from pathlib import Path
from typing import AsyncIterator
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from realtime.api.common import capped_stream, current_member, json, services_of
from realtime.api.file_responses import stored_object
from rooms import metrics
from rooms.attachments.models import FILE, PREVIEW, Attachment, Upload
from rooms.attachments.service import AttachmentService
from rooms.attachments.sniffing import Kind
from rooms.errors import BadRequest, Conflict, ConveneError, NotFound, TooLarge, UnsupportedMedia

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,termination,expiration"
FORM_OVERHEAD = 64 * 1024          # multipart boundaries and headers around the file
REDIRECT_MAX_AGE_S = 300           # a browser may reuse a redirect to a signed URL this long
TAKEOVER_WAIT_S = 10.0
# Served files: nothing in them may run, load or frame anything, whatever a browser makes of them.
FILE_CSP = ("default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'; sandbox; "
            "frame-ancestors 'none'")


class TusVersionMismatch(ConveneError):
    code = "tus_version"
    http_status = 412


def _attachments(request: Request) -> AttachmentService:
    return services_of(request).attachments


def _tus_headers(request: Request) -> dict[str, str]:
    return {"Tus-Resumable": TUS_VERSION, "Tus-Version": TUS_VERSION, "Tus-Extension": TUS_EXTENSIONS,
            "Tus-Max-Size": str(_attachments(request).settings.max_bytes)}


def _http_date(upload: Upload) -> str:
    return format_datetime(upload.expires_at, usegmt=True)


def _upload_headers(upload: Upload, *, length: bool = False) -> dict[str, str]:
    headers = {"Tus-Resumable": TUS_VERSION, "Upload-Offset": str(upload.received),
               "Upload-Expires": _http_date(upload), "Cache-Control": "no-store"}
    if length:
        headers["Upload-Length"] = str(upload.length)
    if upload.attachment_id is not None:
        headers["Attachment-Id"] = str(upload.attachment_id)
    return headers


def _require_tus(request: Request) -> None:
    if request.headers.get("tus-resumable") != TUS_VERSION:
        raise TusVersionMismatch(f"this server speaks tus {TUS_VERSION}")


def _header_number(request: Request, name: str) -> int:
    raw = request.headers.get(name, "")
    if not raw.isdigit() or len(raw) > 15:
        raise BadRequest("a whole number of bytes", field=name)
    return int(raw)


def _metadata_name(header: str) -> str:
    """tus Upload-Metadata: comma-separated `key base64value` pairs; the name is `filename` (or `name`)."""
    for pair in header.split(",")[:20]:
        key, _, value = pair.strip().partition(" ")
        if key in ("filename", "name") and value:
            try:
                return base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")[:255]
            except (binascii.Error, ValueError):
                raise BadRequest("Upload-Metadata values are base64", field="Upload-Metadata") from None
    return ""


def descriptor(service: AttachmentService, attachment: Attachment) -> dict:
    """The stable descriptor, with signed URLs valid for at least ATTACHMENT_URL_TTL_S."""
    data = attachment.descriptor()
    data["signed_url"] = service.signed_url(attachment, FILE)
    if "preview" in data:
        data["preview"]["signed_url"] = service.signed_url(attachment, PREVIEW)
    return data


# Uploading.

async def room_attachments(request: Request) -> Response:
    """POST /api/rooms/{id}/attachments: a tus creation (with Tus-Resumable) or a multipart upload.
    OPTIONS: tus discovery."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=_tus_headers(request))
    member = await current_member(request)
    service = _attachments(request)
    room_id = request.path_params["room_id"]
    if "tus-resumable" in request.headers:
        _require_tus(request)
        upload = await service.start_upload(member, room_id, _header_number(request, "upload-length"),
                                            _metadata_name(request.headers.get("upload-metadata", "")))
        return Response(status_code=201, headers={**_upload_headers(upload), "Location": f"/api/uploads/{upload.token}"})
    await service.check_new(member, room_id, None)   # a stranger's body is not read at all
    path, name = await _receive_form_file(request, service)
    try:
        attachment = await service.upload_file(member, room_id, path, name)
    finally:
        path.unlink(missing_ok=True)
    return json({"attachment": descriptor(service, attachment)}, status=201)


async def _receive_form_file(request: Request, service: AttachmentService) -> tuple[Path, str]:
    """The multipart `file` field, copied to the work directory; and the name it was sent with."""
    limit = service.settings.max_bytes + FORM_OVERHEAD
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"files are limited to {service.settings.max_bytes} bytes")
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise BadRequest("send multipart/form-data with a file field, or use the resumable protocol", field="file")
    try:
        form = await MultiPartParser(request.headers, capped_stream(request, limit, "files (with the form)"), max_files=1, max_fields=5,
                                     max_part_size=16 * 1024).parse()
    except MultiPartException as error:
        raise BadRequest(f"not a readable form: {error.message}") from None
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise BadRequest("attach the file as the file field", field="file")
        service.work_dir.mkdir(parents=True, exist_ok=True)
        path = service.work_dir / f"form-{secrets.token_hex(8)}"
        await asyncio.to_thread(_copy, upload, path)
        return path, upload.filename or ""
    finally:
        await form.close()


def _copy(upload: UploadFile, path: Path) -> None:
    upload.file.seek(0)
    with open(path, "wb") as out:
        shutil.copyfileobj(upload.file, out, 1024 * 1024)


class Writer:
    """One PATCH request reading a body: its idle deadline (set while the body streams) and when it is done."""

    def __init__(self) -> None:
        self.deadline: asyncio.Timeout | None = None
        self.done = asyncio.Event()


class Writers:
    """This process's PATCH requests still reading a body, by upload token. When the client comes back (HEAD
    or PATCH) while its old request still waits on a dead link, the old request is ended at once and keeps
    what it received, so the client resumes after those bytes instead of sending them again."""

    def __init__(self) -> None:
        self._active: dict[str, Writer] = {}

    @contextlib.asynccontextmanager
    async def writing(self, token: str) -> AsyncIterator[Writer]:
        await self.settle(token)
        writer = self._active[token] = Writer()
        try:
            yield writer
        finally:
            if self._active.get(token) is writer:
                del self._active[token]
            writer.done.set()

    async def settle(self, token: str) -> None:
        """Ends the upload's request in progress on this process, if any, and waits until its bytes are kept."""
        writer = self._active.get(token)
        if writer is None:
            return
        if writer.deadline is not None:
            writer.deadline.reschedule(asyncio.get_running_loop().time())
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(writer.done.wait(), TAKEOVER_WAIT_S)


def _writers(request: Request) -> Writers:
    return request.app.state.upload_writers


async def upload_resource(request: Request) -> Response:
    """/api/uploads/{token}: tus HEAD (offset), PATCH (bytes), DELETE (termination), OPTIONS; GET answers
    the upload's state and, once complete, its attachment as JSON."""
    if request.method == "OPTIONS":
        return Response(status_code=204, headers=_tus_headers(request))
    member = await current_member(request)
    service = _attachments(request)
    token = request.path_params["token"]
    upload = await service.upload_of(member, token)   # only its owner may act on it, or end its request
    if request.method == "PATCH":
        return await _patch(request, service, upload)
    await _writers(request).settle(token)
    if request.method == "DELETE":
        _require_tus(request)
        await service.terminate(member, token)
        return Response(status_code=204, headers={"Tus-Resumable": TUS_VERSION})
    upload = await service.upload_again(upload)
    if request.method == "HEAD":
        return Response(status_code=200, headers=_upload_headers(upload, length=True))
    attachment = await service.finished_attachment(upload)
    return json({"upload": {"offset": upload.received, "length": upload.length,
                            "expires": upload.expires_at.isoformat()},
                 "attachment": descriptor(service, attachment) if attachment else None})


async def _patch(request: Request, service: AttachmentService, upload: Upload) -> Response:
    _require_tus(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/offset+octet-stream":
        raise UnsupportedMedia("PATCH bodies are application/offset+octet-stream")
    offset = _header_number(request, "upload-offset")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > upload.length - offset:
        raise TooLarge("more bytes than the upload's length")
    service.work_dir.mkdir(parents=True, exist_ok=True)
    part = service.work_dir / f"part-{upload.token}-{secrets.token_hex(4)}"
    try:
        async with _writers(request).writing(upload.token) as writer:
            upload = await service.upload_again(upload)   # a request it just ended may have kept bytes
            if upload.attachment_id is not None and offset == upload.length:
                return Response(status_code=204, headers=_upload_headers(upload))   # a retried last PATCH
            if offset != upload.received:
                raise Conflict(f"the upload is at byte {upload.received}; continue from there")
            idle_s = service.settings.upload_idle_s
            try:
                async with asyncio.timeout(idle_s) as writer.deadline:
                    cut = await _receive_body(request, part, upload.length - offset, writer.deadline, idle_s)
            except TimeoutError:
                cut = True   # nothing came for idle_s, or the client came back on another request
            writer.deadline = None
            upload = await service.add_part(upload, offset, part)
    finally:
        part.unlink(missing_ok=True)
    if cut:
        metrics.attachment_cut_parts.inc()
    if upload.complete and upload.attachment_id is None:
        attachment = await service.finish(upload)
        return Response(status_code=204, headers={**_upload_headers(upload), "Attachment-Id": str(attachment.id)})
    return Response(status_code=204, headers=_upload_headers(upload))


async def _receive_body(request: Request, target: Path, limit: int, deadline: asyncio.Timeout,
                        idle_s: float) -> bool:
    """Writes the PATCH body to `target` as it arrives; answers whether it was cut off (the link lost).
    The deadline moves with every chunk, so only silence ends it."""
    loop = asyncio.get_running_loop()
    received = 0
    with open(target, "wb") as out:
        while True:
            message = await request.receive()
            if message["type"] == "http.disconnect":
                return True
            body = message.get("body", b"")
            received += len(body)
            if received > limit:
                raise TooLarge("more bytes than the upload's length")
            out.write(body)
            deadline.reschedule(loop.time() + idle_s)
            if not message.get("more_body", False):
                return False


# Reading.

async def attachment_detail(request: Request) -> Response:
    """GET: the descriptor with fresh signed URLs. DELETE: removes one's own attachment not yet sent."""
    member = await current_member(request)
    service = _attachments(request)
    if request.method == "DELETE":
        await service.remove_unsent(member, request.path_params["attachment_id"])
        return Response(status_code=204)
    attachment = await service.readable(member, request.path_params["attachment_id"])
    response = json({"attachment": descriptor(service, attachment)})
    response.headers["cache-control"] = "no-store"
    return response


async def attachment_redirect(request: Request) -> Response:
    """GET /api/attachments/{id}/file|preview: 303 to a fresh signed URL, for whoever may read it now.
    Messages carry these stable links, so a page or a history read long after still works."""
    member = await current_member(request)
    service = _attachments(request)
    variant = _variant_of(request)
    attachment = await service.readable(member, request.path_params["attachment_id"])
    if attachment.key(variant) is None:
        raise NotFound("no such file")
    return RedirectResponse(service.signed_url(attachment, variant), status_code=303,
                            headers={"Cache-Control": f"private, max-age={REDIRECT_MAX_AGE_S}"})


async def attachment_file(request: Request) -> Response:
    """GET|HEAD /media/attachments/{id}/file|preview?exp=&sig=: the bytes, for a valid signature only."""
    service = _attachments(request)
    exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
    variant = _variant_of(request)
    attachment, info = await service.served(request.path_params["attachment_id"], variant, exp, sig)
    left = max(0, int(exp or 0) - int(time.time()))
    if variant == PREVIEW:
        content_type = attachment.meta["preview"]["content_type"]
        name, inline = attachment.name.rpartition(".")[0] + ".webp", True
    else:
        content_type, name = attachment.content_type, attachment.name
        inline = attachment.kind in (Kind.IMAGE, Kind.AUDIO)
    headers = {"Cache-Control": f"private, max-age={left}, immutable",
               "Content-Disposition": content_disposition(name, inline),
               "Content-Security-Policy": FILE_CSP, "X-Content-Type-Options": "nosniff",
               "Cross-Origin-Resource-Policy": "same-origin"}
    return stored_object(request, service.storage, info, content_type, headers)


def _variant_of(request: Request) -> str:
    variant = request.path_params["variant"]
    if variant not in (FILE, PREVIEW):
        raise NotFound("no such file")
    return variant


def content_disposition(name: str, inline: bool) -> str:
    """RFC 6266: an ASCII fallback and the UTF-8 name."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in name)
    return f"{'inline' if inline else 'attachment'}; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


_variant = "{variant:str}"
routes = [
    Route("/api/rooms/{room_id:int}/attachments", room_attachments, methods=["POST", "OPTIONS"]),
    Route("/api/uploads/{token:str}", upload_resource, methods=["GET", "HEAD", "PATCH", "DELETE", "OPTIONS"]),
    Route("/api/attachments/{attachment_id:int}", attachment_detail, methods=["GET", "DELETE"]),
    Route("/api/attachments/{attachment_id:int}/" + _variant, attachment_redirect, methods=["GET"]),
    Route("/media/attachments/{attachment_id:int}/" + _variant, attachment_file, methods=["GET", "HEAD"]),
]
