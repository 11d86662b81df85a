"""GET /media/recordings/{id}/{name}: a recording's files, with signed URLs, ranges and caching.

Only names the archive produces are served (anything else, `..` included, is 404). Public recordings
may be fetched unsigned; the others need `?exp=&sig=` from GET /api/recordings/{id}. HLS playlists are
rewritten on the way out so that every URI in them carries the same signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
import time
from typing import AsyncIterator, BinaryIO

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from realtime.api.common import services_of
from recordings.archive.models import RecordingVisibility
from recordings.archive.worker import media_key
from rooms.errors import NotFound

NAMES = re.compile(r"^(video\.mp4|audio\.ogg|poster\.jpg|hls/master\.m3u8"
                   r"|hls/(video|audio)/(index\.m3u8|init\.mp4|seg-\d{5,6}\.m4s)|captions/\d{1,12}\.vtt)$")
TYPES = {".mp4": "video/mp4", ".ogg": "audio/ogg", ".jpg": "image/jpeg", ".m3u8": "application/vnd.apple.mpegurl",
         ".m4s": "video/iso.segment", ".vtt": "text/vtt; charset=utf-8"}
CHUNK = 256 * 1024
MAX_RANGES = 16
PUBLIC_MAX_AGE = 86_400
_URI_ATTRIBUTE = re.compile(r'URI="([^"?]+)"')


async def media_file(request: Request) -> Response:
    response = await _media_file(request)
    if request.method == "HEAD" and isinstance(response, StreamingResponse):
        # The same headers (Content-Length included), and the file is not read at all.
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


async def _media_file(request: Request) -> Response:
    recording_id, name = request.path_params["recording_id"], request.path_params["name"]
    if not NAMES.match(name):
        raise NotFound("no such file")
    archive = services_of(request).recordings
    exp, sig = request.query_params.get("exp"), request.query_params.get("sig")
    recording = await archive.media_allowed(recording_id, exp, sig)
    key = media_key(recording_id, name)
    info = await asyncio.to_thread(archive.storage.stat, key)
    if info is None:
        raise NotFound("no such file")
    headers = {"Cache-Control": _cache_control(recording.visibility, exp), "Accept-Ranges": "bytes",
               # Media is already compressed; identity keeps the gzip middleware off byte ranges.
               "Content-Encoding": "identity"}
    if request.query_params.get("download") == "1" and "/" not in name:
        headers["Content-Disposition"] = f'attachment; filename="recording-{recording_id}-{name}"'
    content_type = TYPES[name[name.rfind("."):]]
    if name.endswith(".m3u8"):
        body = await asyncio.to_thread(_read_all, archive.storage, key)
        body = _sign_playlist(body, f"exp={exp}&sig={sig}" if exp and sig else "")
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return _whole(request, body, etag, content_type, headers)
    etag = f'"{info.etag}"'
    headers["ETag"] = etag
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    ranges = _ranges(request, etag, info.size)
    if ranges is None:
        return _stream(archive.storage, key, [(0, info.size - 1)] if info.size else [], 200, content_type,
                       headers, info.size)
    if not ranges:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    if len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        return _stream(archive.storage, key, ranges, 206, content_type, headers, info.size)
    return _multipart(archive.storage, key, ranges, content_type, headers, info.size)


def _cache_control(visibility: RecordingVisibility, exp: str | None) -> str:
    """Public recordings: shared caches may keep them a day. Others: the browser only, and not past
    the signature's expiry."""
    if visibility is RecordingVisibility.PUBLIC:
        return f"public, max-age={PUBLIC_MAX_AGE}"
    left = max(0, int(exp) - int(time.time())) if exp and exp.isdigit() else 0
    return f"private, max-age={min(left, PUBLIC_MAX_AGE)}"


def _not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match")
    if not wanted:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return "*" in tags or etag in tags


def _ranges(request: Request, etag: str, size: int) -> list[tuple[int, int]] | None:
    """None: send the whole file. []: nothing satisfiable (416). Otherwise inclusive (start, end) pairs."""
    header = request.headers.get("range")
    if not header:
        return None
    if_range = request.headers.get("if-range")
    if if_range is not None and if_range.strip() != etag:
        return None   # the client's partial copy is of another version: send it all
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes":
        return None
    parts = [part.strip() for part in spec.split(",")]
    if len(parts) > MAX_RANGES:
        return []
    found = []
    for part in parts:
        first, dash, last = part.partition("-")
        if not dash or (first and not first.isdigit()) or (last and not last.isdigit()) or not (first or last):
            return []
        if first:
            start, end = int(first), int(last) if last else size - 1
            if start > end or start >= size:
                return []
            found.append((start, min(end, size - 1)))
        else:
            length = int(last)
            if length == 0 or size == 0:
                return []
            found.append((max(0, size - length), size - 1))
    return found


def _stream(storage, key: str, ranges: list[tuple[int, int]], status: int, content_type: str,
            headers: dict, size: int) -> Response:
    length = sum(end - start + 1 for start, end in ranges)
    return StreamingResponse(_read_ranges(storage, key, ranges), status_code=status, media_type=content_type,
                             headers={**headers, "Content-Length": str(length)})


def _multipart(storage, key: str, ranges: list[tuple[int, int]], content_type: str, headers: dict,
               size: int) -> Response:
    boundary = secrets.token_hex(12)
    heads = [(f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
              f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n").encode() for start, end in ranges]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(end - start + 1 for start, end in ranges) + len(tail)

    async def parts() -> AsyncIterator[bytes]:
        for head, span in zip(heads, ranges):
            yield head
            async for chunk in _read_ranges(storage, key, [span]):
                yield chunk
        yield tail

    return StreamingResponse(parts(), status_code=206, media_type=f"multipart/byteranges; boundary={boundary}",
                             headers={**headers, "Content-Length": str(length)})


async def _read_ranges(storage, key: str, ranges: list[tuple[int, int]]) -> AsyncIterator[bytes]:
    data: BinaryIO = await asyncio.to_thread(storage.open, key)
    try:
        for start, end in ranges:
            await asyncio.to_thread(data.seek, start)
            left = end - start + 1
            while left > 0:
                chunk = await asyncio.to_thread(data.read, min(CHUNK, left))
                if not chunk:
                    return
                left -= len(chunk)
                yield chunk
    finally:
        data.close()


def _whole(request: Request, body: bytes, etag: str, content_type: str, headers: dict) -> Response:
    headers = {**headers, "ETag": etag}
    headers.pop("Accept-Ranges", None)
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)


def _read_all(storage, key: str) -> bytes:
    with storage.open(key) as data:
        return data.read(4 * 1024 * 1024)


def _sign_playlist(body: bytes, query: str) -> bytes:
    """Appends the signature to every URI line and URI="..." attribute (relative URIs lose the query)."""
    if not query:
        return body
    lines = []
    for line in body.decode("utf-8", "replace").splitlines():
        if line and not line.startswith("#"):
            line = f"{line}?{query}" if "?" not in line else line
        elif "URI=" in line:
            line = _URI_ATTRIBUTE.sub(lambda m: f'URI="{m.group(1)}?{query}"', line)
        lines.append(line)
    return ("\n".join(lines) + "\n").encode()


routes = [
    Route("/media/recordings/{recording_id:int}/{name:path}", media_file, methods=["GET", "HEAD"]),
]
