"""The live stream over HTTP, on real servers of both backends: what a player, a CDN and an attacker see."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

from tests.support.client import Api
from tests.support.live_media import copy_stream, recorded_stream

STARTS = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def recording():
    return recorded_stream()


async def webinar_with_stream(server, recording, visibility: str) -> tuple[Api, dict]:
    host = await Api.register(server.url)
    response = await host.http.post("/api/webinars", json={
        "title": "Stress and coping", "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(hours=1)).isoformat(), "visibility": visibility})
    assert response.status_code == 201, response.text
    webinar = response.json()
    copy_stream(recording, Path(server.env["CONVENE_DATA_DIR"]), webinar["id"])
    return host, webinar


def first_segment(playlist: str) -> str:
    return re.search(r"^(seg-\d+\.m4s)", playlist, re.M).group(1)


async def test_a_public_stream_is_served_to_anyone_with_cache_friendly_headers(server, recording):
    _, webinar = await webinar_with_stream(server, recording, "public")
    base = f"/webinars/{webinar['id']}/live"
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as anyone:
        master = await anyone.get(base + "/master.m3u8")
        assert master.status_code == 200
        assert master.headers["content-type"].startswith("application/vnd.apple.mpegurl")
        assert master.headers["cache-control"].startswith("public, max-age=")
        assert "video/index.m3u8" in master.text and "audio/index.m3u8" in master.text

        playlist = await anyone.get(base + "/video/index.m3u8")
        assert playlist.status_code == 200 and "#EXT-X-ENDLIST" in playlist.text
        assert playlist.headers["cache-control"] == "public, max-age=60"   # ended: it will not change
        again = await anyone.get(base + "/video/index.m3u8", headers={"If-None-Match": playlist.headers["etag"]})
        assert again.status_code == 304

        segment_name = first_segment(playlist.text)
        segment = await anyone.get(f"{base}/video/{segment_name}")
        on_disk = (Path(server.env["CONVENE_DATA_DIR"]) / "live" / str(webinar["id"]) / "video" / segment_name)
        assert segment.status_code == 200 and segment.content == on_disk.read_bytes()
        assert segment.headers["content-type"] == "video/iso.segment"
        assert segment.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert segment.headers["access-control-allow-origin"] == "*"
        assert "content-encoding" not in segment.headers   # media is not gzipped
        etag = segment.headers["etag"]
        assert (await anyone.get(f"{base}/video/{segment_name}", headers={"If-None-Match": etag})).status_code == 304

        part = await anyone.get(f"{base}/video/{segment_name}", headers={"Range": "bytes=0-99"})
        assert part.status_code == 206 and part.content == on_disk.read_bytes()[:100]
        assert part.headers["content-range"] == f"bytes 0-99/{on_disk.stat().st_size}"

        init = await anyone.get(base + "/audio/init.mp4")
        assert init.status_code == 200 and init.headers["content-type"] == "audio/mp4"
        audio = await anyone.get(base + "/audio/" + first_segment((await anyone.get(base + "/audio/index.m3u8")).text))
        assert audio.status_code == 200 and audio.headers["content-type"] == "audio/mp4"

        assert (await anyone.get(base + "/video/seg-99999.m4s")).status_code == 404


async def test_paths_outside_the_stream_are_refused(server, recording):
    _, webinar = await webinar_with_stream(server, recording, "public")
    secret = (Path(server.env["CONVENE_DATA_DIR"]) / "secret_key")
    base = f"{server.url}/webinars/{webinar['id']}/live/"
    attempts = ["..%2f..%2fsecret_key", "..%2F..%2F..%2Fetc%2Fpasswd", "%2fetc%2fpasswd", "/etc/passwd",
                "video/..%2f..%2f..%2fconvene.db", "video/%2e%2e/%2e%2e/convene.db", "video/seg-00000.m4s.tmp",
                "video/index.m3u8.tmp", "other/index.m3u8", "video/seg-00000.m4s%00.txt", "master.m3u8/"]
    async with httpx.AsyncClient(timeout=15) as anyone:
        for attempt in attempts:
            # Sent byte for byte: httpx would otherwise tidy the dots away before the server saw them.
            request = anyone.build_request("GET", base)
            request.url = request.url.copy_with(raw_path=(request.url.raw_path.decode() + attempt).encode())
            response = await anyone.send(request)
            # A NUL anywhere in a request is refused before routing (422 disallowed_characters, rooms/text_rules.py).
            assert response.status_code in (404, 400, 422), (attempt, response.status_code)
            assert b"root:" not in response.content
            if secret.exists():
                assert secret.read_bytes().strip() not in response.content


async def test_a_members_only_stream_needs_a_registered_member_or_a_signed_link(server, recording):
    host, webinar = await webinar_with_stream(server, recording, "members")
    base = f"/webinars/{webinar['id']}/live"
    outsider = await Api.register(server.url)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as anyone:
        assert (await anyone.get(base + "/master.m3u8")).status_code == 404      # it does not exist for them
        assert (await outsider.http.get(base + "/master.m3u8")).status_code == 403
        assert (await outsider.http.get("/api/webinars/%d/stream" % webinar["id"])).status_code == 403

        member = await host.http.get(base + "/video/index.m3u8")
        assert member.status_code == 200 and member.headers["cache-control"].startswith("private, ")
        segment = await host.http.get(f"{base}/video/{first_segment(member.text)}")
        assert segment.status_code == 200 and segment.headers["cache-control"].startswith("private, ")
        assert "access-control-allow-origin" not in segment.headers

        link = (await host.http.get("/api/webinars/%d/stream" % webinar["id"])).json()
        assert link["available"] is True and "sig=" in link["master_url"]
        signed = await anyone.get(link["master_url"])
        assert signed.status_code == 200
        query = link["master_url"].split("?", 1)[1]
        assert f"video/index.m3u8?{query}" in signed.text   # the signature travels with every URI
        playlist = await anyone.get(f"{base}/video/index.m3u8?{query}")
        assert f'URI="init.mp4?{query}"' in playlist.text
        assert (await anyone.get(f"{base}/video/{first_segment(playlist.text)}?{query}")).status_code == 200

        forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, link["master_url"])
        assert (await anyone.get(forged)).status_code == 403
        expired = re.sub(r"exp=\d+", "exp=1000", link["master_url"])
        assert (await anyone.get(expired)).status_code == 403


async def test_the_stream_page_offers_audio_first(server, recording):
    _, webinar = await webinar_with_stream(server, recording, "public")
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as anyone:
        page = await anyone.get(f"/webinars/{webinar['id']}/stream")
        assert page.status_code == 200
        assert f'data-convene-hls="/webinars/{webinar["id"]}/live/master.m3u8"' in page.text
        assert "hls-player.js" in page.text and 'data-hls-mode="audio"' in page.text
        player = await anyone.get("/static/hls-player.js")
        assert player.status_code == 200 and len(player.content) < 20_000   # small: no library (hls.js is 400 KB)


async def test_players_poll_only_the_end_of_a_long_playlist(server, recording):
    """Playlists keep every segment (they are the recording); a delta update (_HLS_skip=YES) keeps polls small."""
    _, webinar = await webinar_with_stream(server, recording, "public")
    directory = Path(server.env["CONVENE_DATA_DIR"]) / "live" / str(webinar["id"]) / "audio"
    hour = "".join(f"#EXTINF:2.005333,\nseg-{n:05d}.m4s\n" for n in range(1800))
    (directory / "index.m3u8").write_text(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n"
        '#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI="init.mp4"\n' + hour)
    base = f"/webinars/{webinar['id']}/live/audio/index.m3u8"
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as player:
        full = await player.get(base)
        assert "#EXT-X-SERVER-CONTROL:CAN-SKIP-UNTIL=12.0" in full.text and full.text.count("#EXTINF") == 1800
        update = await player.get(base + "?_HLS_skip=YES")
        assert update.status_code == 200 and update.headers["cache-control"] == "public, max-age=1"
        assert "#EXT-X-VERSION:9" in update.text and '#EXT-X-MAP:URI="init.mp4"' in update.text
        skipped = int(re.search(r"#EXT-X-SKIP:SKIPPED-SEGMENTS=(\d+)", update.text).group(1))
        listed = re.findall(r"^seg-(\d+)\.m4s$", update.text, re.M)
        # The last 12 s or so, numbered on from the skipped ones: nothing lost, nothing repeated.
        assert skipped + len(listed) == 1800 and int(listed[0]) == skipped and 6 <= len(listed) <= 7
        assert len(update.content) < 600 < len(full.content) // 50
