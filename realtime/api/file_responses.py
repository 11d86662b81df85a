"""Answering a GET or HEAD for one stored object: ETag and 304, byte ranges (single and multipart), streaming.

Shared by the recordings' media (realtime/api/media_files.py) and chat attachments
(realtime/api/attachments.py); each decides access, content type and headers, this module only delivers.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import AsyncIterator, BinaryIO

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from recordings.storage import MediaStorage, ObjectInfo

CHUNK = 256 * 1024
MAX_RANGES = 16


def stored_object(request: Request, storage: MediaStorage, info: ObjectInfo, content_type: str,
                  headers: dict[str, str]) -> Response:
    """The object as 200, 206 (one or several ranges), 304 or 416; a HEAD gets the same headers and no body."""
    etag = f'"{info.etag}"'
    headers = {**headers, "ETag": etag, "Accept-Ranges": "bytes",
               # Files are served as stored; identity keeps the gzip middleware off byte ranges.
               "Content-Encoding": "identity"}
    if not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    ranges = byte_ranges(request, etag, info.size)
    if ranges is None:
        response = _stream(storage, info.key, [(0, info.size - 1)] if info.size else [], 200, content_type, headers)
    elif not ranges:
        return Response(status_code=416, headers={**headers, "Content-Range": f"bytes */{info.size}"})
    elif len(ranges) == 1:
        start, end = ranges[0]
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
        response = _stream(storage, info.key, ranges, 206, content_type, headers)
    else:
        response = _multipart(storage, info.key, ranges, content_type, headers, info.size)
    return without_body(request, response)


def without_body(request: Request, response: Response) -> Response:
    if request.method == "HEAD" and isinstance(response, StreamingResponse):
        # The same headers (Content-Length included), and the file is not read at all.
        return Response(status_code=response.status_code, headers=dict(response.headers))
    return response


def not_modified(request: Request, etag: str) -> bool:
    wanted = request.headers.get("if-none-match")
    if not wanted:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    return "*" in tags or etag in tags


def byte_ranges(request: Request, etag: str, size: int) -> list[tuple[int, int]] | None:
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


def _stream(storage: MediaStorage, key: str, ranges: list[tuple[int, int]], status: int, content_type: str,
            headers: dict) -> Response:
    length = sum(end - start + 1 for start, end in ranges)
    return StreamingResponse(read_ranges(storage, key, ranges), status_code=status, media_type=content_type,
                             headers={**headers, "Content-Length": str(length)})


def _multipart(storage: MediaStorage, key: str, ranges: list[tuple[int, int]], content_type: str, headers: dict,
               size: int) -> Response:
    boundary = secrets.token_hex(12)
    heads = [(f"\r\n--{boundary}\r\nContent-Type: {content_type}\r\n"
              f"Content-Range: bytes {start}-{end}/{size}\r\n\r\n").encode() for start, end in ranges]
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = sum(len(h) for h in heads) + sum(end - start + 1 for start, end in ranges) + len(tail)

    async def parts() -> AsyncIterator[bytes]:
        for head, span in zip(heads, ranges):
            yield head
            async for chunk in read_ranges(storage, key, [span]):
                yield chunk
        yield tail

    return StreamingResponse(parts(), status_code=206, media_type=f"multipart/byteranges; boundary={boundary}",
                             headers={**headers, "Content-Length": str(length)})


async def read_ranges(storage: MediaStorage, key: str, ranges: list[tuple[int, int]]) -> AsyncIterator[bytes]:
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
