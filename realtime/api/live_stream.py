"""The live HTTP stream of a webinar (HLS, fMP4): playlists and segments, a signed link, and the low-bandwidth page.

Who may fetch it: anyone for a public webinar (so any HTTP cache or CDN may keep and serve
it); for a members-only webinar a registered member (cookie or bearer token) or anyone
holding a signed link (?exp=&sig=, from GET /api/webinars/{id}/stream). Only the names the
packager writes are served (a fixed pattern), so no path can leave the webinar's directory.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from realtime.api.common import json, services_of
from realtime.auth import authenticate
from realtime.pages.rendering import render, page
from recordings.live.playlists import delta, with_server_control
from recordings.live.streams import live_dir
from rooms.errors import Forbidden, NotFound, Unauthenticated
from rooms.models import Member
from rooms.webinars.models import Webinar, WebinarState, WebinarVisibility

NAME = re.compile(r"(?:master\.m3u8|(?P<rendition>video|audio)/(?:index\.m3u8|init\.mp4|seg-\d{1,9}\.m4s))")
SIGNED_LINK_S = 6 * 3600      # long enough for a webinar; the link names one webinar only
# Segments never change once listed. Playlists change every segment while live (a CDN may
# hold one for a second, so a thousand viewers cost the origin one request per second), and
# not at all once the stream has ended. init.mp4 only changes if the encoder settings do.
SEGMENT_CACHE = "max-age=31536000, immutable"
LIVE_PLAYLIST_CACHE = "max-age=1"
ENDED_PLAYLIST_CACHE = "max-age=60"
INIT_CACHE = "max-age=60"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@dataclass(frozen=True)
class Access:
    webinar: Webinar
    query: str    # the signature to carry on to every URI a playlist lists ("" when not signed)

    @property
    def public(self) -> bool:
        return self.webinar.visibility is WebinarVisibility.PUBLIC


def sign(secret: str, webinar_id: int, expires: int) -> str:
    message = f"live:{webinar_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_query(secret: str, webinar_id: int, now: float | None = None) -> str:
    expires = int((now or time.time()) + SIGNED_LINK_S)
    return urlencode({"exp": expires, "sig": sign(secret, webinar_id, expires)})


def _signature_valid(request: Request, webinar_id: int) -> bool:
    expires, signature = request.query_params.get("exp", ""), request.query_params.get("sig", "")
    if not expires.isdigit() or not signature or int(expires) < time.time():
        return False
    expected = sign(services_of(request).settings.secret_key, webinar_id, int(expires))
    return hmac.compare_digest(expected, signature)


async def _member(request: Request) -> Member | None:
    services = services_of(request)
    member, _ = await authenticate(request, services.cookies, services.accounts)
    return member


async def may_watch(request: Request, webinar_id: int) -> Access:
    services = services_of(request)
    webinar = await services.webinars.sessions.store.get(webinar_id)
    if webinar is None:
        raise NotFound("no such webinar")
    if webinar.visibility is WebinarVisibility.PUBLIC:
        return Access(webinar, "")
    if _signature_valid(request, webinar_id):
        return Access(webinar, urlencode({"exp": request.query_params["exp"], "sig": request.query_params["sig"]}))
    member = await _member(request)
    if member is None:
        if request.query_params.get("sig"):
            raise Forbidden("this link has expired or is not valid; open the webinar's page again")
        raise NotFound("no such webinar")   # members-only webinars do not exist for the logged-out world
    standing = await services.webinars.stores.sessions.standing(webinar_id, member.id)
    if standing.removed:
        raise Forbidden("you were removed from this webinar")
    if not standing.registered and standing.role is None:
        raise Forbidden("register for this webinar first")
    return Access(webinar, "")


def _content_type(name: str, rendition: str | None) -> str:
    if name.endswith(".m3u8"):
        return PLAYLIST_TYPE
    if rendition == "audio":
        return "audio/mp4"
    return "video/mp4" if name.endswith(".mp4") else "video/iso.segment"


def _cache_control(name: str, access: Access, ended: bool) -> str:
    if name.endswith(".m4s"):
        policy = SEGMENT_CACHE
    elif name.endswith(".mp4"):
        policy = INIT_CACHE
    else:
        policy = ENDED_PLAYLIST_CACHE if ended else LIVE_PLAYLIST_CACHE
    # Members-only streams stay out of shared caches: only the member's own browser keeps them.
    return ("public, " if access.public else "private, ") + policy


def _with_query(playlist: str, query: str) -> str:
    """Every URI in the playlist carries the same signature, so a signed master link is enough for a player."""
    lines = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            line = f"{line}?{query}"
        elif line.startswith("#EXT-X-MAP:"):
            line = re.sub(r'URI="([^"?]*)"', lambda m: f'URI="{m.group(1)}?{query}"', line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _not_modified(request: Request, etag: str, headers: dict[str, str]) -> Response | None:
    candidates = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in candidates or "*" in candidates:
        return Response(status_code=304, headers={**headers, "etag": etag})
    return None


async def live_file(request: Request) -> Response:
    webinar_id: int = request.path_params["webinar_id"]
    name: str = request.path_params["name"]
    match = NAME.fullmatch(name)
    if match is None:
        raise NotFound("no such file in this stream")
    access = await may_watch(request, webinar_id)
    path = live_dir(services_of(request).settings.data_dir, webinar_id) / name
    try:
        stat = os.stat(path)
    except OSError:
        raise NotFound("no such file" if access.webinar.state is WebinarState.ENDED else "not written yet") from None
    if access.public:
        # The same bytes for everyone: no Vary (it would split a CDN's cache), and other sites' players may read them.
        headers = {"access-control-allow-origin": "*"}
    else:
        headers = {"vary": "Cookie, Authorization"}
    media_type = _content_type(name, match.group("rendition"))
    if name.endswith(".m3u8"):
        text = path.read_text()
        ended = "#EXT-X-ENDLIST" in text or (name == "master.m3u8" and access.webinar.state is WebinarState.ENDED)
        headers["cache-control"] = _cache_control(name, access, ended)
        if name != "master.m3u8":
            # Players that have the start ask for the last few segments only (_HLS_skip=YES).
            text = delta(text) if request.query_params.get("_HLS_skip") == "YES" else with_server_control(text)
        if access.query:
            text = _with_query(text, access.query)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:24] + '"'
        return _not_modified(request, etag, headers) or Response(
            text, media_type=media_type, headers={**headers, "etag": etag})
    headers["cache-control"] = _cache_control(name, access, True)
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    # FileResponse answers Range requests itself (206, 416); its own ETag is replaced by ours.
    return _not_modified(request, etag, headers) or FileResponse(
        path, media_type=media_type, stat_result=stat, headers={**headers, "etag": etag})


async def stream_link(request: Request) -> Response:
    """Where to find the stream: the master playlist URL (signed for members-only webinars) and the page."""
    webinar_id: int = request.path_params["webinar_id"]
    member = await _member(request)
    if member is None and (request.headers.get("authorization") or services_of(request).cookies.token(request)):
        raise Unauthenticated("this session has expired; log in again")
    access = await may_watch(request, webinar_id)
    base = f"/webinars/{webinar_id}/live/master.m3u8"
    if not access.public:
        base += "?" + signed_query(services_of(request).settings.secret_key, webinar_id)
    available = (live_dir(services_of(request).settings.data_dir, webinar_id) / "master.m3u8").exists()
    return json({"webinar": webinar_id, "state": access.webinar.state.value, "available": available,
                 "master_url": base, "audio_url": base.replace("master.m3u8", "audio/index.m3u8", 1),
                 "page_url": f"/webinars/{webinar_id}/stream"})


@page
async def stream_page(request: Request) -> Response:
    """The low-bandwidth way in: audio by default, video on request, no WebRTC."""
    webinar_id: int = request.path_params["webinar_id"]
    access = await may_watch(request, webinar_id)
    return render(request, "webinar_stream.html", {
        "webinar": access.webinar, "master_url": f"/webinars/{webinar_id}/live/master.m3u8",
        "video": request.query_params.get("video") == "1",
    }, member=await _member(request))


_base = "/webinars/{webinar_id:int}"
routes = [
    Route(_base + "/live/{name:path}", live_file, methods=["GET", "HEAD"]),
    Route(_base + "/stream", stream_page, methods=["GET"]),
    Route("/api" + _base + "/stream", stream_link, methods=["GET"]),
]
