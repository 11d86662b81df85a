"""nginx (Debian's package) on loopback with the shipped docs/nginx-live-cache.conf in front of a real server of each
backend: what a reverse-proxy cache or CDN saves the origin, and that access control still holds through it."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest

from recordings.live.playlists import edge
from tests.integration.test_live_low_latency import Publishing, new_webinar, until
from tests.support.live_media import copy_stream, recorded_stream
from tests.support.nginx import NginxCache


@pytest.fixture(scope="module")
def recording():
    return recorded_stream()


@pytest.fixture
def nginx(server):
    with NginxCache(int(server.url.rsplit(":", 1)[1])) as cache:
        yield cache


def first_segment(playlist: str) -> str:
    return re.search(r"^(seg-\d+\.m4s)", playlist, re.M).group(1)


async def test_the_second_fetch_of_a_segment_comes_from_the_cache(server, nginx, recording):
    _, webinar = await new_webinar(server)
    copy_stream(recording, Path(server.env["CONVENE_DATA_DIR"]), webinar["id"])
    base = f"/webinars/{webinar['id']}/live"
    async with httpx.AsyncClient(base_url=nginx.url, timeout=20) as viewer:
        playlist = await viewer.get(base + "/video/index.m3u8")
        assert playlist.status_code == 200
        name = first_segment(playlist.text)
        first = await viewer.get(f"{base}/video/{name}")
        second = await viewer.get(f"{base}/video/{name}")
        assert first.status_code == second.status_code == 200 and first.content == second.content
        assert (first.headers["x-cache-status"], second.headers["x-cache-status"]) == ("MISS", "HIT")
        assert nginx.origin_requests(f"/video/{name}") == 1
        # The ended stream's playlist is kept for a minute: the second poll does not reach the origin either.
        assert (await viewer.get(base + "/video/index.m3u8")).headers["x-cache-status"] == "HIT"


async def test_access_control_holds_through_the_cache(server, nginx, recording):
    host, webinar = await new_webinar(server, "members")
    copy_stream(recording, Path(server.env["CONVENE_DATA_DIR"]), webinar["id"])
    base = f"/webinars/{webinar['id']}/live"
    link = (await host.http.get(f"/api/webinars/{webinar['id']}/stream")).json()
    query = link["master_url"].split("?", 1)[1]
    async with httpx.AsyncClient(base_url=nginx.url, timeout=20) as anyone:
        name = first_segment((await anyone.get(f"{base}/video/index.m3u8?{query}")).text)
        # The member's own answer (by token here; a cookie is the same) is private: nginx passes it on and keeps nothing ...
        member = httpx.AsyncClient(base_url=nginx.url, timeout=20, headers={"authorization": f"Bearer {host.token}"})
        async with member:
            for _ in range(2):
                mine = await member.get(f"{base}/video/{name}")
                assert mine.status_code == 200 and mine.headers["cache-control"].startswith("private, ")
                assert mine.headers["x-cache-status"] != "HIT"
        assert nginx.origin_requests(f"/video/{name}") == 2
        # ... so the logged-out world still gets nothing for that URL.
        for _ in range(2):
            refused = await anyone.get(f"{base}/video/{name}")
            assert refused.status_code == 404 and refused.headers.get("x-cache-status") != "HIT"
        # A signed link is one URL for everyone who got it this hour: cached once, for everyone holding it.
        signed = [await anyone.get(f"{base}/video/{name}?{query}") for _ in range(2)]
        assert [r.status_code for r in signed] == [200, 200]
        assert [r.headers["x-cache-status"] for r in signed] == ["MISS", "HIT"]
        # A forged or expired signature is a different URL: it reaches the origin, which refuses it, every time.
        forged = re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, query)
        expired = re.sub(r"exp=\d+", "exp=1000", query)
        for bad in (forged, forged, expired):
            response = await anyone.get(f"{base}/video/{name}?{bad}")
            assert response.status_code == 403 and response.headers.get("x-cache-status") != "HIT"


async def test_viewers_waiting_for_the_same_new_part_cost_the_origin_one_request(server, nginx):
    """proxy_cache_lock: blocking reloads for the next part from many viewers at once are one request upstream."""
    _, webinar = await new_webinar(server)
    base = f"/webinars/{webinar['id']}/live"
    with Publishing(server, webinar["id"]) as stream:
        playlist = stream.directory / "video" / "ll.m3u8"
        await until(lambda: playlist.exists() and edge(playlist.read_text()).parts >= 1, "the first parts")
        async with httpx.AsyncClient(base_url=nginx.url, timeout=20) as viewers:
            at = edge(playlist.read_text())
            wanted = {"_HLS_msn": at.msn, "_HLS_part": at.parts + 1}
            answers = await asyncio.gather(*(viewers.get(f"{base}/video/ll.m3u8", params=wanted) for _ in range(30)))
            assert all(a.status_code == 200 for a in answers)
            assert len({a.text for a in answers}) == 1   # the same answer, from one origin request
            upstream = nginx.origin_requests(f"_HLS_msn={at.msn}&_HLS_part={at.parts + 1}")
            assert upstream == 1, upstream
            hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="([^"]+)"', answers[0].text).group(1)
            parts = await asyncio.gather(*(viewers.get(f"{base}/video/{hint}") for _ in range(30)))
            assert all(p.status_code == 200 and p.content == parts[0].content for p in parts)
            assert nginx.origin_requests(hint) == 1
