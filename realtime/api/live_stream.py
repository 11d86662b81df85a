"""The live HTTP stream of a webinar (HLS, fMP4): playlists, segments and parts, a signed link, and the low-bandwidth page.

Who may fetch it: anyone for a public webinar (so any HTTP cache or CDN may keep and serve
it); for a members-only webinar a registered member (cookie or bearer token) or anyone
holding a signed link (?exp=&sig=, from GET /api/webinars/{id}/stream). A signed link is the
same for everyone who got one within the same hour, so a shared cache keeps one copy for all of
them, for no longer than the signature lasts. Only the names the packager writes are served (a
fixed pattern), so no path can leave the webinar's directory.

Low-latency HLS: `ll.m3u8?_HLS_msn=M&_HLS_part=P` (a blocking playlist reload) and a part that
is not written yet (the preload hint) are held until the packager writes what they ask for,
three target durations at most (then 503); asking for more than about three seconds ahead is
refused at once (400), as RFC 8216bis 6.2.5.2 says.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from realtime.api.common import error_response, json, services_of
from realtime.auth import authenticate
from realtime.pages.rendering import render, page
from recordings.live.hls import LL_MASTER
from recordings.live.playlists import Edge, delta, edge, part_position, with_server_control
from recordings.live.segments import LL_PLAYLIST
from recordings.live.streams import LiveStreams, live_dir
from rooms.errors import ConveneError, Forbidden, NotFound, Unauthenticated
from rooms.models import Member
from rooms.webinars.models import Webinar, WebinarState, WebinarVisibility

NAME = re.compile(r"(?:master(?:-ll)?\.m3u8|(?P<rendition>video|audio)/(?P<file>index\.m3u8|ll\.m3u8|init\.mp4"
                  r"|seg-\d{1,9}\.m4s|part-\d{1,9}\.\d{1,3}\.m4s))")
SIGNED_LINK_S = 6 * 3600      # long enough for a webinar; the link names one webinar only
SIGNED_STEP_S = 3600          # expiries are rounded up to this: links issued within the hour are the same URL
# Segments never change once listed. Playlists change every segment while live (a CDN may
# hold one for a second, so a thousand viewers cost the origin one request per second), and
# not at all once the stream has ended. init.mp4 only changes if the encoder settings do.
SEGMENT_CACHE = "max-age=31536000, immutable"
LIVE_PLAYLIST_CACHE = "max-age=1"
# The answer to a blocking reload lists the part it asked for, whenever it is read: anyone asking
# for the same part may have it. After three target durations nobody asks for that part any more.
BLOCKING_PLAYLIST_CACHE = "max-age=6"
ENDED_PLAYLIST_CACHE = "max-age=60"
INIT_CACHE = "max-age=60"
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"
WHOLE_FILE_BYTES = 1024 * 1024   # media files up to this size are read and sent in one go


@dataclass(frozen=True)
class Access:
    webinar: Webinar
    query: str    # the signature to carry on to every URI a playlist lists ("" when not signed)
    expires: int | None = None   # when that signature ends

    @property
    def public(self) -> bool:
        return self.webinar.visibility is WebinarVisibility.PUBLIC

    @property
    def shared(self) -> bool:
        """May a shared cache keep the answer? Yes when the URL alone grants it: public, or a signed link."""
        return self.public or self.expires is not None


class TooFarAhead(ConveneError):
    code = "too_far_ahead"
    http_status = 400


class NotProducedYet(ConveneError):
    code = "not_produced_yet"
    http_status = 503
    retryable = True


def sign(secret: str, webinar_id: int, expires: int) -> str:
    message = f"live:{webinar_id}:{expires}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def signed_query(secret: str, webinar_id: int, now: float | None = None) -> str:
    expires = -(-int((now or time.time()) + SIGNED_LINK_S) // SIGNED_STEP_S) * SIGNED_STEP_S
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
        expires = int(request.query_params["exp"])
        return Access(webinar, urlencode({"exp": expires, "sig": request.query_params["sig"]}), expires)
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


def _cache_control(name: str, access: Access, ended: bool, blocking: bool = False) -> str:
    if name.endswith(".m4s"):
        policy = SEGMENT_CACHE
    elif name.endswith(".mp4"):
        policy = INIT_CACHE
    elif ended:
        policy = ENDED_PLAYLIST_CACHE
    else:
        policy = BLOCKING_PLAYLIST_CACHE if blocking else LIVE_PLAYLIST_CACHE
    if access.expires is not None:
        # A signed link: any cache may keep it, but never past the signature (then the origin says 403).
        left = max(0, access.expires - int(time.time()))
        age = min(int(re.search(r"max-age=(\d+)", policy).group(1)), left)
        return f"public, max-age={age}" + (", immutable" if "immutable" in policy and age else "")
    # Members by cookie or token stay out of shared caches: only the member's own browser keeps them.
    return ("public, " if access.public else "private, ") + policy


def _with_query(playlist: str, query: str) -> str:
    """Every URI in the playlist (segments, init, parts, the preload hint) carries the same signature, so a
    signed master link is enough for a player."""
    lines = []
    for line in playlist.splitlines():
        if line and not line.startswith("#"):
            line = f"{line}?{query}"
        elif line.startswith("#") and 'URI="' in line:
            line = re.sub(r'URI="([^"?]*)"', lambda m: f'URI="{m.group(1)}?{query}"', line)
        lines.append(line)
    return "\n".join(lines) + "\n"


def _not_modified(request: Request, etag: str, headers: dict[str, str]) -> Response | None:
    candidates = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if etag in candidates or "*" in candidates:
        return Response(status_code=304, headers={**headers, "etag": etag})
    return None


def _directive(request: Request, name: str) -> int | None:
    value = request.query_params.get(name)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise TooFarAhead(f"{name} must be a media sequence or part number", field=name)
    return int(value)


async def _wait_for(live: LiveStreams, playlist: Path, msn: int, part: int | None) -> Edge:
    """Holds a blocking request until the low-latency playlist lists segment `msn` (its part `part`)."""
    try:
        current = edge(playlist.read_text())
    except OSError:
        current = None
    if current is None:
        raise NotFound("not written yet")
    if current.too_far(msn, part):
        raise TooFarAhead("that part is too far ahead of the live stream")
    found = await live.watch.wait(playlist, lambda at: at.has(msn, part))
    if found is None:
        raise NotProducedYet("that part was not produced in time; ask again")
    return found[1]


async def live_file(request: Request) -> Response:
    try:
        return await _live_file(request)
    except ConveneError as error:
        # Never cached: a part that does not exist now will exist in a moment.
        response = error_response(error)
        response.headers["cache-control"] = "no-store"
        return response


async def _live_file(request: Request) -> Response:
    webinar_id: int = request.path_params["webinar_id"]
    name: str = request.path_params["name"]
    match = NAME.fullmatch(name)
    if match is None:
        raise NotFound("no such file in this stream")
    access = await may_watch(request, webinar_id)
    services = services_of(request)
    path = live_dir(services.settings.data_dir, webinar_id) / name
    file = match.group("file") or ""
    msn, part = _directive(request, "_HLS_msn"), _directive(request, "_HLS_part")
    blocking = file == LL_PLAYLIST and msn is not None
    if blocking:
        await _wait_for(services.live, path, msn, part)
    elif file.startswith("part-") and not path.exists():
        # The preload hint: a player asks for the next part before it exists, and gets it the moment it does.
        segment, index = part_position(file) or (0, 0)
        await _wait_for(services.live, path.with_name(LL_PLAYLIST), segment, index)
    try:
        stat = os.stat(path)
    except OSError:
        raise NotFound("no such file" if access.webinar.state is WebinarState.ENDED else "not written yet") from None
    if access.shared:
        # The same bytes for everyone: no Vary (it would split a CDN's cache), and other sites' players may read them.
        headers = {"access-control-allow-origin": "*"}
    else:
        headers = {"vary": "Cookie, Authorization"}
    media_type = _content_type(name, match.group("rendition"))
    if name.endswith(".m3u8"):
        text = path.read_text()
        ended = "#EXT-X-ENDLIST" in text or (name.startswith("master") and access.webinar.state is WebinarState.ENDED)
        headers["cache-control"] = _cache_control(name, access, ended, blocking)
        if file == "index.m3u8":
            services.live.audience.saw("standard")
            # Players that have the start ask for the last few segments only (_HLS_skip=YES).
            text = delta(text) if request.query_params.get("_HLS_skip") == "YES" else with_server_control(text)
        elif file == LL_PLAYLIST:
            services.live.audience.saw("low")
        if access.query:
            text = _with_query(text, access.query)
        etag = '"' + hashlib.sha256(text.encode()).hexdigest()[:24] + '"'
        return _not_modified(request, etag, headers) or Response(
            text, media_type=media_type, headers={**headers, "etag": etag})
    headers["cache-control"] = _cache_control(name, access, True)
    etag = f'"{stat.st_size:x}-{stat.st_mtime_ns:x}"'
    cached = _not_modified(request, etag, headers)
    if cached is not None:
        return cached
    if "range" in request.headers or stat.st_size > WHOLE_FILE_BYTES or request.method == "HEAD":
        # FileResponse answers Range requests itself (206, 416); its own ETag is replaced by ours.
        return FileResponse(path, media_type=media_type, stat_result=stat, headers={**headers, "etag": etag})
    # A part or segment is tens of kilobytes, in the page cache: one read costs far less than FileResponse's
    # thread hops (measured: 0.9 instead of 1.8 ms of the server's CPU per segment), and there are many requests.
    try:
        data = path.read_bytes()
    except OSError:
        raise NotFound("no such file") from None   # a part deleted since (it left the playlist)
    return Response(data, media_type=media_type, headers={**headers, "etag": etag})


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
                 "low_latency_url": base.replace("master.m3u8", LL_MASTER, 1),
                 "page_url": f"/webinars/{webinar_id}/stream"})


@page
async def stream_page(request: Request) -> Response:
    """The low-bandwidth way in: audio by default, video on request, no WebRTC."""
    webinar_id: int = request.path_params["webinar_id"]
    access = await may_watch(request, webinar_id)
    return render(request, "webinar_stream.html", {
        "webinar": access.webinar, "master_url": f"/webinars/{webinar_id}/live/master.m3u8",
        "video": request.query_params.get("video") == "1",
        # The player picks low latency on a good link by itself; ?latency=standard|low overrides it.
        "latency": request.query_params.get("latency") if request.query_params.get("latency") in ("low", "standard")
        else "auto",
    }, member=await _member(request))


_base = "/webinars/{webinar_id:int}"
routes = [
    Route(_base + "/live/{name:path}", live_file, methods=["GET", "HEAD"]),
    Route(_base + "/stream", stream_page, methods=["GET"]),
    Route("/api" + _base + "/stream", stream_link, methods=["GET"]),
]
