"""GET /media/recordings/{id}/{name}: a recording's files, with signed URLs, ranges and caching.

Only names the archive produces are served (anything else, `..` included, is 404). Public recordings
may be fetched unsigned; the others need `?exp=&sig=` from GET /api/recordings/{id}. HLS playlists are
rewritten on the way out so that every URI in them carries the same signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from realtime.api.common import services_of
from realtime.api.file_responses import not_modified, stored_object
from recordings.archive.models import RecordingVisibility
from recordings.archive.worker import media_key
from rooms.errors import NotFound

NAMES = re.compile(r"^(video\.mp4|audio\.ogg|poster\.jpg|hls/master\.m3u8"
                   r"|hls/(video|audio)/(index\.m3u8|init\.mp4|seg-\d{5,6}\.m4s)|captions/\d{1,12}\.vtt)$")
TYPES = {".mp4": "video/mp4", ".ogg": "audio/ogg", ".jpg": "image/jpeg", ".m3u8": "application/vnd.apple.mpegurl",
         ".m4s": "video/iso.segment", ".vtt": "text/vtt; charset=utf-8"}
PUBLIC_MAX_AGE = 86_400
_URI_ATTRIBUTE = re.compile(r'URI="([^"?]+)"')


async def media_file(request: Request) -> Response:
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
    headers = {"Cache-Control": _cache_control(recording.visibility, exp)}
    if request.query_params.get("download") == "1" and "/" not in name:
        headers["Content-Disposition"] = f'attachment; filename="recording-{recording_id}-{name}"'
    content_type = TYPES[name[name.rfind("."):]]
    if name.endswith(".m3u8"):
        body = await asyncio.to_thread(_read_all, archive.storage, key)
        body = _sign_playlist(body, f"exp={exp}&sig={sig}" if exp and sig else "")
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        return _whole(request, body, etag, content_type, headers)
    return stored_object(request, archive.storage, info, content_type, headers)


def _cache_control(visibility: RecordingVisibility, exp: str | None) -> str:
    """Public recordings: shared caches may keep them a day. Others: the browser only, and not past
    the signature's expiry."""
    if visibility is RecordingVisibility.PUBLIC:
        return f"public, max-age={PUBLIC_MAX_AGE}"
    left = max(0, int(exp) - int(time.time())) if exp and exp.isdigit() else 0
    return f"private, max-age={min(left, PUBLIC_MAX_AGE)}"


def _whole(request: Request, body: bytes, etag: str, content_type: str, headers: dict) -> Response:
    headers = {**headers, "ETag": etag, "Content-Encoding": "identity"}
    if not_modified(request, etag):
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
