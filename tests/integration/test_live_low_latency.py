"""Low-latency HLS on real servers of both backends, while a packager writes the stream: the playlist as RFC 8216bis
wants it, blocking reloads answered when their part exists and not before, parts named by the preload hint, far-future
requests refused, a stalled stream timing out, and signed links a shared cache can keep."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx

from recordings.live.packager import LivePackager
from recordings.live.playlists import edge
from recordings.live.settings import LiveSettings
from recordings.live.streams import live_dir
from tests.support.client import Api
from tests.support.live_media import copy_stream, opus_packets, play, recorded_stream, vp8_packets

STARTS = datetime(2026, 12, 7, 12, 0, tzinfo=timezone.utc)
SECONDS = 7.0


async def new_webinar(server, visibility: str = "public") -> tuple[Api, dict]:
    host = await Api.register(server.url)
    response = await host.http.post("/api/webinars", json={
        "title": "Low latency", "starts_at": STARTS.isoformat(),
        "ends_at": (STARTS + timedelta(hours=1)).isoformat(), "visibility": visibility})
    assert response.status_code == 201, response.text
    return host, response.json()


def attributes(line: str) -> dict[str, str]:
    return {key: value.strip('"') for key, value in re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line.split(":", 1)[1])}


class Publishing:
    """A packager writing webinar `webinar_id`'s stream into the server's data directory, fed in real time."""

    def __init__(self, server, webinar_id: int) -> None:
        self.directory = live_dir(Path(server.env["CONVENE_DATA_DIR"]), webinar_id)
        self.packager = LivePackager(webinar_id, self.directory, LiveSettings())
        packets = vp8_packets(SECONDS, 1) + opus_packets(SECONDS, 1)
        self.thread = threading.Thread(target=play, args=(self.packager, packets), daemon=True)

    def __enter__(self) -> "Publishing":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.thread.join()
        self.packager.close()
        assert self.packager.wait(30) == 0


async def until(condition, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} after {timeout} s"
        await asyncio.sleep(0.02)


def validate(text: str, directory: Path) -> dict:
    """Checks a low-latency media playlist against RFC 8216bis; answers its parts and preload hint."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags = {line.split(":", 1)[0]: line for line in lines if line.startswith("#EXT")}
    assert int(tags["#EXT-X-VERSION"].split(":")[1]) >= 6
    target = int(tags["#EXT-X-TARGETDURATION"].split(":")[1])
    control = attributes(tags["#EXT-X-SERVER-CONTROL"])
    part_target = float(attributes(tags["#EXT-X-PART-INF"])["PART-TARGET"])
    assert control["CAN-BLOCK-RELOAD"] == "YES"
    assert float(control["PART-HOLD-BACK"]) >= 3 * part_target - 0.001   # at least two, should be three (4.4.3.8)
    parts, segments, pending = [], [], []
    for line in lines:
        if line.startswith("#EXT-X-PART:"):
            part = attributes(line)
            assert float(part["DURATION"]) <= part_target   # 4.4.4.9
            pending.append(part)
        elif line.startswith("#EXTINF:"):
            assert round(float(line[8:].split(",")[0])) <= target
        elif line and not line.startswith("#"):
            segments.append((line, pending))
            parts += pending
            pending = []
    parts += pending
    hint = attributes(tags["#EXT-X-PRELOAD-HINT"]) if "#EXT-X-PRELOAD-HINT" in tags else None
    if hint is not None:
        assert hint["TYPE"] == "PART" and lines[-1].startswith("#EXT-X-PRELOAD-HINT")
    # Every segment whose parts are listed is exactly its parts, one after the other; each starts with a picture.
    for name, its_parts in segments:
        if its_parts:
            assert b"".join((directory / p["URI"]).read_bytes() for p in its_parts) == (directory / name).read_bytes()
            assert its_parts[0].get("INDEPENDENT") == "YES"
    return {"parts": parts, "hint": hint, "target": target, "part_target": part_target, "segments": segments}


async def test_blocking_reloads_are_answered_when_their_part_exists_and_not_before(server):
    _, webinar = await new_webinar(server)
    base = f"/webinars/{webinar['id']}/live"
    with Publishing(server, webinar["id"]) as stream:
        video = stream.directory / "video"
        await until(lambda: (video / "seg-00000.m4s").exists(), "first segment")
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as player:
            master = await player.get(base + "/master-ll.m3u8")
            assert master.status_code == 200
            assert re.findall(r"^\S+\.m3u8$", master.text, re.M) == ["video/ll.m3u8", "audio/ll.m3u8"]

            playlist = await player.get(base + "/video/ll.m3u8")
            assert playlist.status_code == 200 and playlist.headers["cache-control"] == "public, max-age=1"
            found = validate(playlist.text, video)
            assert found["parts"] and found["hint"] is not None
            part = await player.get(f"{base}/video/{found['parts'][-1]['URI']}")
            assert part.status_code == 200 and part.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert part.headers["content-type"] == "video/iso.segment"

            # The next part: not there when asked for, listed (and on disk) when the answer comes.
            at = edge(playlist.text)
            name = f"part-{at.msn:05d}.{at.parts}.m4s"
            if (video / name).exists():   # written meanwhile: ask for the one after
                at = edge((video / "ll.m3u8").read_text())
                name = f"part-{at.msn:05d}.{at.parts}.m4s"
            assert not (video / name).exists()
            asked = time.monotonic()
            held = await player.get(f"{base}/video/ll.m3u8", params={"_HLS_msn": at.msn, "_HLS_part": at.parts})
            answered = time.monotonic()
            assert held.status_code == 200 and f'URI="{name}"' in held.text
            assert (video / name).exists()
            assert 0.05 < answered - asked < 1.5   # held for the part (a third of a second), not for a timeout
            assert held.headers["cache-control"] == "public, max-age=6"
            validate(held.text, video)

            # The preload hint names a part before it exists; asking for it gets it the moment it is written.
            hint = validate(held.text, video)["hint"]["URI"]
            early = await player.get(f"{base}/video/{hint}")
            assert early.status_code == 200 and early.content == (video / hint).read_bytes()

            # Far ahead: refused at once, and never cached.
            now = edge((video / "ll.m3u8").read_text())
            started = time.monotonic()
            far = await player.get(f"{base}/video/ll.m3u8", params={"_HLS_msn": now.msn + 10, "_HLS_part": 0})
            assert far.status_code == 400 and far.json()["error"]["code"] == "too_far_ahead"
            assert time.monotonic() - started < 0.5 and far.headers["cache-control"] == "no-store"
            assert (await player.get(f"{base}/video/part-{now.msn + 10:05d}.0.m4s")).status_code == 400
            bad = await player.get(f"{base}/video/ll.m3u8", params={"_HLS_msn": "-1"})
            assert bad.status_code == 400

            # The audio-only rendition has its own parts, cut at the same instants.
            audio = await player.get(base + "/audio/ll.m3u8")
            assert validate(audio.text, stream.directory / "audio")["parts"]
    # At the end both playlists say so, and a blocking request for anything is answered at once.
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as player:
        ended = await player.get(f"{base}/video/ll.m3u8", params={"_HLS_msn": 999, "_HLS_part": 0})
        assert ended.status_code == 200 and "#EXT-X-ENDLIST" in ended.text and "PRELOAD-HINT" not in ended.text


STALLED = """#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=0.600
#EXT-X-PART-INF:PART-TARGET=0.200
#EXT-X-MEDIA-SEQUENCE:40
#EXT-X-MAP:URI="init.mp4"
#EXT-X-PART:DURATION=0.20000,URI="part-00040.0.m4s",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part-00040.1.m4s"
"""


async def test_a_request_for_a_part_that_never_comes_times_out_with_503(server):
    """A stream whose worker stalled: the held request gives up after three target durations (here 1 s each)."""
    _, webinar = await new_webinar(server)
    directory = live_dir(Path(server.env["CONVENE_DATA_DIR"]), webinar["id"]) / "video"
    directory.mkdir(parents=True)
    (directory / "ll.m3u8").write_text(STALLED)
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as player:
        started = time.monotonic()
        held = await player.get(f"/webinars/{webinar['id']}/live/video/ll.m3u8",
                                params={"_HLS_msn": 40, "_HLS_part": 1})
        waited = time.monotonic() - started
        assert held.status_code == 503 and held.json()["error"]["code"] == "not_produced_yet"
        assert held.headers["cache-control"] == "no-store"
        assert 2.9 <= waited < 5.0, waited
        listed = await player.get(f"/webinars/{webinar['id']}/live/video/ll.m3u8",
                                  params={"_HLS_msn": 40, "_HLS_part": 0})
        assert listed.status_code == 200   # what exists is answered at once


async def test_signed_links_are_one_url_per_hour_and_a_shared_cache_keeps_them_no_longer_than_they_last(server):
    host, webinar = await new_webinar(server, "members")
    with Publishing(server, webinar["id"]) as stream:
        await until(lambda: (stream.directory / "video" / "ll.m3u8").exists(), "the low-latency playlist")
        first = (await host.http.get(f"/api/webinars/{webinar['id']}/stream")).json()
        second = (await host.http.get(f"/api/webinars/{webinar['id']}/stream")).json()
        assert first["low_latency_url"] == second["low_latency_url"]   # one cache entry for everyone this hour
        query = first["low_latency_url"].split("?", 1)[1]
        expires = int(re.search(r"exp=(\d+)", query).group(1))
        assert expires % 3600 == 0
        async with httpx.AsyncClient(base_url=server.url, timeout=20) as anyone:
            playlist = await anyone.get(first["low_latency_url"].replace("master-ll.m3u8", "video/ll.m3u8"))
            assert playlist.status_code == 200
            # Every URI carries the signature: parts and the preload hint too.
            uris = re.findall(r'URI="([^"]+)"', playlist.text) + re.findall(r"^seg-\S+$", playlist.text, re.M)
            assert uris and all(uri.endswith("?" + query) for uri in uris)
            control = playlist.headers["cache-control"]
            assert control.startswith("public, max-age=") and "cookie" not in playlist.headers.get("vary", "").lower()
            part = await anyone.get(f"/webinars/{webinar['id']}/live/video/{uris[1]}")
            age = int(re.search(r"max-age=(\d+)", part.headers["cache-control"]).group(1))
            assert part.status_code == 200 and 0 < age <= expires - time.time() + 1
            # Without the signature the same file is not for the logged-out world.
            unsigned = await anyone.get(f"/webinars/{webinar['id']}/live/video/{uris[1].split('?')[0]}")
            assert unsigned.status_code == 404
            # A member's own session is private: no shared cache may keep it.
            own = await host.http.get(f"/webinars/{webinar['id']}/live/video/ll.m3u8")
            assert own.headers["cache-control"].startswith("private, ")


# The authorization matrix's rows for the live stream's low-latency files (a members-only webinar whose stream
# has ended), by caller: not logged in, logged in but not registered, registered, the host.
LIVE_ROLES = ("anonymous", "outsider", "registrant", "host")


def _roles(*statuses: int) -> dict[str, int]:
    return dict(zip(LIVE_ROLES, statuses))


AUTHZ_ROWS: list[tuple[str, str, dict[str, int]]] = [
    ("GET", "/webinars/{webinar}/live/master-ll.m3u8", _roles(404, 403, 200, 200)),
    ("GET", "/webinars/{webinar}/live/video/ll.m3u8", _roles(404, 403, 200, 200)),
    ("GET", "/webinars/{webinar}/live/video/ll.m3u8?_HLS_msn=0&_HLS_part=0", _roles(404, 403, 200, 200)),
    ("GET", "/webinars/{webinar}/live/audio/{part}", _roles(404, 403, 200, 200)),
    ("GET", "/webinars/{webinar}/live/audio/{part}?{signature}", _roles(200, 200, 200, 200)),   # a capability
    ("GET", "/webinars/{webinar}/live/audio/{part}?{forged}", _roles(403, 403, 200, 200)),   # then as if unsigned
]


async def test_who_may_fetch_the_low_latency_files(server):
    host, webinar = await new_webinar(server, "members")
    registrant, outsider = await Api.register(server.url), await Api.register(server.url)
    assert (await registrant.http.post(f"/api/webinars/{webinar['id']}/register")).status_code == 200
    directory = copy_stream(recorded_stream(), Path(server.env["CONVENE_DATA_DIR"]), webinar["id"])
    part = sorted(p.name for p in (directory / "audio").glob("part-*.m4s"))[0]
    signature = (await host.http.get(f"/api/webinars/{webinar['id']}/stream")).json()["master_url"].split("?")[1]
    values = {"webinar": webinar["id"], "part": part, "signature": signature,
              "forged": re.sub(r"sig=[0-9a-f]+", "sig=" + "0" * 32, signature)}
    callers = {"anonymous": None, "outsider": outsider, "registrant": registrant, "host": host}
    seen = []
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as anonymous:
        for method, template, expected in AUTHZ_ROWS:
            path = template.format(**values)
            for role, api in callers.items():
                response = await (api.http if api else anonymous).request(method, path)
                seen.append((template, role, response.status_code, expected[role]))
    assert [row for row in seen if row[2] != row[3]] == []
