"""The recordings archive over real servers on both backends: imports become web-playable renditions,
live webinars become recordings with their chat replay, media is delivered with signed URLs, ranges and
caching, and every catalogue and media endpoint checks who is asking."""

from __future__ import annotations

import asyncio
import http.client
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator

import av
import httpx
import pytest

from realtime.services import Services
from realtime.settings import Settings
from recordings.archive.signing import MediaSigner
from tests.conftest import FAST, embedded_env, shared_env
from tests.support.client import Api
from tests.support.recording_sources import fake_live_dir, synthetic_file
from tests.support.services import ServerProcess, find_postgres_bin

MAX_UPLOAD = 3_000_000
ARCHIVE_ENV = {"RECORDING_MAX_UPLOAD_BYTES": str(MAX_UPLOAD), "RECORDING_JOB_POLL_S": "0.2"}
STARTS = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def archive(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    """A server per backend with a small upload cap and a quick job poll."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"convene-rec-{request.param}-"))
    if request.param == "embedded":
        env = embedded_env(data_dir, **ARCHIVE_ENV)
    else:
        # A database of its own: servers of other tests over the shared one (other data directories,
        # so other storage) must not claim this module's jobs.
        postgres = request.getfixturevalue("postgres")
        database = f"convene_rec_{uuid.uuid4().hex[:8]}"
        subprocess.run([str(find_postgres_bin() / "createdb"), "-h", "127.0.0.1", "-p", str(postgres.port),
                        "-U", "postgres", database], check=True, capture_output=True, timeout=30)
        env = shared_env(postgres, request.getfixturevalue("redis_server"), data_dir, **ARCHIVE_ENV)
        env["DATABASE_URL"] = postgres.url.rsplit("/", 1)[0] + "/" + database
    process = ServerProcess(env=env)
    process.start()
    process.backend = request.param
    yield process
    process.cleanup()


@pytest.fixture(scope="module")
def media_dir() -> Path:
    """Synthetic sources, made once: an mp4 with video and audio, an audio-only ogg, a live HLS directory."""
    folder = Path(tempfile.mkdtemp(prefix="convene-rec-media-"))
    synthetic_file(folder / "talk.mp4", seconds=4)
    synthetic_file(folder / "voice.ogg", seconds=3, video=False)
    fake_live_dir(folder / "live", seconds=5)
    return folder


async def upload(api: Api, path: Path, **fields: str) -> httpx.Response:
    with open(path, "rb") as data:
        return await api.http.post("/api/recordings/import", files={"file": (path.name, data)},
                                   data={"title": path.stem, "visibility": "members", **fields})


async def ready(api: Api, recording_id: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        detail = (await api.http.get(f"/api/recordings/{recording_id}")).json()
        if detail["state"] in ("ready", "failed") or time.monotonic() > deadline:
            return detail
        await asyncio.sleep(0.2)


async def fetch(http: httpx.AsyncClient, url: str, target: Path) -> Path:
    response = await http.get(url)
    assert response.status_code == 200, response.text
    target.write_bytes(response.content)
    return target


def streams(path: Path) -> tuple[list[str], float]:
    """The stream kinds and the duration, as a player would decode them."""
    with av.open(str(path)) as container:
        kinds = sorted(s.type for s in container.streams)
        end = 0.0
        for frame in container.decode(*container.streams):
            if frame.time is not None:
                end = max(end, frame.time + (float(frame.samples / frame.sample_rate)
                                             if isinstance(frame, av.AudioFrame) else 0.0))
    return kinds, end


async def test_an_import_becomes_a_video_an_audio_only_rendition_a_poster_and_hls(archive, media_dir, tmp_path):
    host = await Api.register(archive.url)
    response = await upload(host, media_dir / "talk.mp4", title="Triage at the gate", tags="triage, intake")
    assert response.status_code == 202, response.text
    recording_id = response.json()["id"]
    assert response.json()["state"] == "queued"
    detail = await ready(host, recording_id)
    assert detail["state"] == "ready", detail
    assert detail["job"]["progress"] == 1.0 and detail["can_edit"] is True
    assert abs(detail["duration_s"] - 4) <= 1 and detail["tags"] == ["intake", "triage"]
    assert detail["presenters"] == [{"id": host.id, "display_name": host.member["display_name"]}]

    downloads = {d["kind"]: d for d in detail["downloads"]}
    video = await fetch(host.http, downloads["video"]["url"], tmp_path / "video.mp4")
    assert video.stat().st_size == downloads["video"]["bytes"]
    kinds, duration = streams(video)
    assert kinds == ["audio", "video"] and abs(duration - 4) <= 1
    audio = await fetch(host.http, downloads["audio"]["url"], tmp_path / "audio.ogg")
    kinds, duration = streams(audio)
    assert kinds == ["audio"] and abs(duration - 4) <= 1
    with av.open(str(audio)) as container:
        assert container.streams.audio[0].codec_context.name == "opus"
        assert container.streams.audio[0].codec_context.channels == 1
    poster = await fetch(host.http, detail["poster_url"], tmp_path / "poster.jpg")
    with av.open(str(poster)) as image:
        assert next(image.decode(video=0)).width == 320

    master = await host.http.get(detail["stream_url"])
    assert master.status_code == 200 and master.headers["content-type"] == "application/vnd.apple.mpegurl"
    variant = next(line for line in master.text.splitlines() if line.startswith("video/"))
    assert "sig=" in variant   # relative URIs carry the signature on
    base = detail["stream_url"].split("master.m3u8")[0]
    playlist = await host.http.get(base + variant)
    segment = next(line for line in playlist.text.splitlines() if line.startswith("seg-"))
    assert 'URI="init.mp4?exp=' in playlist.text
    assert (await host.http.get(base + "video/" + segment)).status_code == 200


async def test_an_audio_only_import_has_only_audio(archive, media_dir, tmp_path):
    host = await Api.register(archive.url)
    response = await upload(host, media_dir / "voice.ogg")
    assert response.status_code == 202, response.text
    detail = await ready(host, response.json()["id"])
    assert detail["state"] == "ready", detail
    assert [d["kind"] for d in detail["downloads"]] == ["audio"] and detail["poster_url"] is None
    kinds, duration = streams(await fetch(host.http, detail["downloads"][0]["url"], tmp_path / "a.ogg"))
    assert kinds == ["audio"] and abs(duration - 3) <= 1
    master = (await host.http.get(detail["stream_url"])).text
    assert "audio/index.m3u8" in master and "video/" not in master
    no_video = detail["downloads"][0]["url"].replace("audio.ogg", "video.mp4")
    assert (await host.http.get(no_video)).status_code == 404


async def test_imports_are_checked_by_content_and_size(archive, tmp_path):
    host = await Api.register(archive.url)
    fake = tmp_path / "notes.mp4"
    fake.write_text("WEBVTT\n\nthis is text with a video name\n" * 50)
    refused = await upload(host, fake)
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "unsupported_media_type"
    big = tmp_path / "big.mp4"
    big.write_bytes(b"\0" * (MAX_UPLOAD + 100_000))
    too_large = await upload(host, big)
    assert too_large.status_code == 413
    anonymous = httpx.AsyncClient(base_url=archive.url)
    assert (await anonymous.post("/api/recordings/import", files={"file": ("x.mp4", b"x")})).status_code == 401
    await anonymous.aclose()
    # Nothing of the refused uploads is listed.
    assert (await host.http.get("/api/recordings")).json()["total"] == 0 or all(
        r["owner_id"] != host.id for r in (await host.http.get("/api/recordings")).json()["recordings"])


async def schedule(host: Api, **fields) -> dict:
    body = {"title": "Psychological first aid", "description": "Look, listen, link.", "language": "en",
            "starts_at": STARTS.isoformat(), "ends_at": (STARTS + timedelta(hours=1)).isoformat(),
            "visibility": "public", **fields}
    response = await host.http.post("/api/webinars", json=body)
    assert response.status_code == 201, response.text
    return response.json()


class Packager:
    """Calls services.recordings.live_finished as the live packager does when a webinar ends, from a
    process of its own over the same database (the server's worker then runs the job)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.services: Services | None = None

    async def __aenter__(self) -> "Packager":
        self.services = Services.build(Settings.from_env({**FAST, **self.server.env}))
        return self

    async def __aexit__(self, *exc) -> None:
        assert self.services is not None
        await self.services.stores.db.dispose()

    async def finished(self, webinar: dict, live_dir: Path):
        assert self.services is not None
        started = datetime.fromisoformat(webinar["started_at"])
        return await self.services.recordings.live_finished(webinar["id"], live_dir, started)


async def test_a_live_webinar_becomes_a_recording_with_its_chat_and_questions(archive, media_dir, tmp_path):
    host, panelist, attendee = [await Api.register(archive.url) for _ in range(3)]
    webinar = await schedule(host, title="Mapping shelters with volunteers")
    base = f"/api/webinars/{webinar['id']}"
    assert (await host.http.post(base + "/panelists", json={"member_id": panelist.id})).status_code == 204
    await attendee.http.post(base + "/register")
    webinar = (await host.http.post(base + "/start")).json()
    chat = await attendee.connect(archive.ws_url)
    await chat.subscribe(webinar["room"])
    said = await chat.say(webinar["room"], "Which map layers do you use?")
    gone = await chat.say(webinar["room"], "oops, wrong room")
    deleted = await chat.request({"type": "delete", "room": webinar["room"], "target": gone["seq"]})
    assert deleted["type"] == "ack", deleted
    asked = await attendee.http.post(base + "/questions", json={"body": "Offline maps?"})
    question = asked.json()
    await host.http.patch(f"{base}/questions/{question['id']}", json={"state": "answered"})
    await chat.close()
    await host.http.post(base + "/end")

    async with Packager(archive) as packager:
        recording = await packager.finished(webinar, media_dir / "live")
        again = await packager.finished(webinar, media_dir / "live")
    assert recording is not None and again is not None and again.id == recording.id   # once per webinar
    detail = await ready(host, recording.id)
    assert detail["state"] == "ready", detail
    assert detail["title"] == "Mapping shelters with volunteers" and detail["visibility"] == "public"
    assert detail["webinar_id"] == webinar["id"] and detail["room_id"] == webinar["room"]
    assert [p["id"] for p in detail["presenters"]] == [host.id, panelist.id]
    assert abs(detail["duration_s"] - 5) <= 1
    video = await fetch(host.http, next(d["url"] for d in detail["downloads"] if d["kind"] == "video"),
                        tmp_path / "live.mp4")
    kinds, duration = streams(video)
    assert kinds == ["audio", "video"] and abs(duration - 5) <= 1

    # Logged out, the public recording's replay has the chat and Q&A, without the deleted message.
    anonymous = httpx.AsyncClient(base_url=archive.url)
    events = (await anonymous.get(f"/api/recordings/{recording.id}/replay")).json()["events"]
    await anonymous.aclose()
    bodies = [(e["kind"], e["body"]) for e in events if e["kind"] in ("message", "question")]
    assert bodies == [("message", "Which map layers do you use?"), ("question", "Offline maps?")]
    message = next(e for e in events if e["kind"] == "message")
    assert message["seq"] == said["seq"] and message["sender"]["id"] == attendee.id and message["t"] >= 0
    assert next(e for e in events if e["kind"] == "question")["data"]["state"] == "answered"
    assert any(e["kind"] == "question.state" and e["data"]["state"] == "answered" for e in events)


async def test_a_host_may_opt_out_of_recording(archive, media_dir):
    host, other = [await Api.register(archive.url) for _ in range(2)]
    webinar = await schedule(host, record=False)
    assert webinar["record"] is False
    base = f"/api/webinars/{webinar['id']}"
    assert (await other.http.put(base + "/record", json={"record": True})).status_code == 403
    async with httpx.AsyncClient(base_url=archive.url) as anonymous:
        assert (await anonymous.put(base + "/record", json={"record": True})).status_code == 401
    assert (await host.http.put(base + "/record", json={"record": True})).json()["record"] is True
    assert (await host.http.get(base)).json()["record"] is True
    assert (await host.http.put(base + "/record", json={"record": False})).status_code == 200
    webinar = (await host.http.post(base + "/start")).json()
    await host.http.post(base + "/end")
    assert (await host.http.put(base + "/record", json={"record": True})).status_code == 409
    async with Packager(archive) as packager:
        assert await packager.finished(webinar, media_dir / "live") is None
    mine = (await host.http.get("/api/recordings", params={"q": "Psychological"})).json()["recordings"]
    assert all(r["webinar_id"] != webinar["id"] for r in mine)


def raw_get(server: ServerProcess, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """A request with its path sent exactly as written (httpx would normalise `..` away)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
async def library(archive, media_dir) -> dict:
    """One ready members-only recording and one ready invite-only one, shared by the delivery tests."""
    host, invited, other = [await Api.register(archive.url) for _ in range(3)]
    members_only = (await upload(host, media_dir / "voice.ogg", title="Members talk")).json()["id"]
    invite_only = (await upload(host, media_dir / "voice.ogg", title="Invited talk",
                                visibility="invite")).json()["id"]
    assert (await host.http.post(f"/api/recordings/{invite_only}/invites",
                                 json={"member_id": invited.id})).status_code == 200
    for recording_id in (members_only, invite_only):
        assert (await ready(host, recording_id))["state"] == "ready"
    return {"host": host, "invited": invited, "other": other, "members": members_only, "invite": invite_only}


async def test_ranges_return_exactly_the_requested_bytes(archive, library):
    host = library["host"]
    url = next(d["url"] for d in (await host.http.get(f"/api/recordings/{library['members']}")).json()["downloads"])
    whole = await host.http.get(url)
    body, size = whole.content, len(whole.content)
    assert whole.headers["accept-ranges"] == "bytes" and int(whole.headers["content-length"]) == size
    head = await host.http.head(url, headers={"Range": "bytes=10-19"})
    assert head.status_code == 206 and head.headers["content-length"] == "10" and head.content == b""
    for header, expected, content_range in [
        ("bytes=0-99", body[:100], f"bytes 0-99/{size}"),
        ("bytes=1000-1999", body[1000:2000], f"bytes 1000-1999/{size}"),   # a seek
        ("bytes=200-", body[200:], f"bytes 200-{size - 1}/{size}"),
        ("bytes=-500", body[-500:], f"bytes {size - 500}-{size - 1}/{size}"),
        (f"bytes={size - 10}-{size + 1000}", body[-10:], f"bytes {size - 10}-{size - 1}/{size}"),
    ]:
        part = await host.http.get(url, headers={"Range": header})
        assert part.status_code == 206, header
        assert part.content == expected and part.headers["content-range"] == content_range
    for bad in (f"bytes={size}-", f"bytes={size + 5}-{size + 10}", "bytes=50-10", "bytes=abc", "bytes=-0"):
        refused = await host.http.get(url, headers={"Range": bad})
        assert refused.status_code == 416, bad
        assert refused.headers["content-range"] == f"bytes */{size}"
    several = await host.http.get(url, headers={"Range": "bytes=0-9, 100-109"})
    assert several.status_code == 206 and several.headers["content-type"].startswith("multipart/byteranges")
    assert body[:10] in several.content and body[100:110] in several.content
    assert f"Content-Range: bytes 100-109/{size}".encode() in several.content


async def test_caching_headers(archive, library, media_dir):
    host = library["host"]
    detail = (await host.http.get(f"/api/recordings/{library['members']}")).json()
    url = detail["downloads"][0]["url"]
    first = await host.http.get(url)
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("private, max-age=")
    assert (await host.http.get(url, headers={"If-None-Match": etag})).status_code == 304
    # A URL issued a moment later is the same URL: a cache can key on it.
    assert (await host.http.get(f"/api/recordings/{library['members']}")).json()["downloads"][0]["url"] == url
    await host.http.patch(f"/api/recordings/{library['members']}", json={"visibility": "public"})
    public = await host.http.get(url.split("?")[0])   # public recordings are served unsigned too
    assert public.status_code == 200 and public.headers["cache-control"] == "public, max-age=86400"
    await host.http.patch(f"/api/recordings/{library['members']}", json={"visibility": "members"})
    assert (await host.http.get(url.split("?")[0])).status_code == 403


async def test_who_may_use_each_catalogue_and_media_endpoint(archive, library):
    host, invited, other = library["host"], library["invited"], library["other"]
    anonymous = httpx.AsyncClient(base_url=archive.url, timeout=15)
    rid = library["invite"]
    base = f"/api/recordings/{rid}"
    vtt = b"WEBVTT\n\n00:00.000 --> 00:01.000\nHello\n"
    detail = (await host.http.get(base)).json()
    media = [detail["downloads"][0]["url"], detail["stream_url"]]
    caption = await host.http.post(base + "/captions", params={"language": "fr", "label": "Français"}, content=vtt,
                                   headers={"Content-Type": "text/vtt"})
    assert caption.status_code == 201, caption.text
    media.append(caption.json()["url"])

    async def status(client: httpx.AsyncClient, method: str, path: str, **kwargs) -> int:
        return (await client.request(method, path, **kwargs)).status_code

    # (method, path, body) → status for anonymous, another member, the invited member, the host.
    matrix = [
        ("GET", base, {}, (401, 403, 200, 200)),
        ("GET", base + "/replay", {}, (401, 403, 200, 200)),
        ("PUT", base + "/position", {"json": {"position_s": 1.5}}, (401, 403, 204, 204)),
        ("PATCH", base, {"json": {"title": "Invited talk, edited"}}, (401, 403, 403, 200)),
        ("POST", base + "/captions", {"content": vtt}, (401, 403, 403, 201)),
        ("POST", base + "/invites", {"json": {"member_id": invited.id}}, (401, 403, 403, 200)),
        ("POST", base + "/retry", {}, (401, 403, 403, 409)),   # the host may, but only a failed job
    ]
    for method, path, kwargs, expected in matrix:
        got = tuple([await status(c, method, path, **kwargs) for c in (anonymous, other.http, invited.http, host.http)])
        assert got == expected, (method, path, got)
    assert (await invited.http.get(base)).json()["resume_s"] == 1.5

    # The catalogue lists the invite-only recording to its host and invitee only.
    for client, listed in ((anonymous, False), (other.http, False), (invited.http, True), (host.http, True)):
        found = (await client.get("/api/recordings", params={"q": "invited"})).json()["recordings"]
        assert (rid in [r["id"] for r in found]) is listed

    # Media: signed URLs work for whoever holds them until they expire; unsigned, expired or forged do not.
    for url in media:
        assert (await anonymous.get(url)).status_code == 200, url
        unsigned = url.split("?")[0]
        assert (await anonymous.get(unsigned)).status_code == 403
        assert (await other.http.get(unsigned)).status_code == 403
        signer = MediaSigner(FAST["SECRET_KEY"], 3600)
        past = int(time.time()) - 5
        expired = f"{unsigned}?exp={past}&sig={signer.signature(rid, past)}"
        assert (await other.http.get(expired)).status_code == 403
        forged = f"{unsigned}?exp={int(time.time()) + 3600}&sig={'0' * 32}"
        assert (await other.http.get(forged)).status_code == 403
        other_recording = f"{unsigned}?exp={past + 7200}&sig={signer.signature(library['members'], past + 7200)}"
        assert (await other.http.get(other_recording)).status_code == 403

    # Paths outside the recording's own names are refused, however they are spelt.
    query = media[0].split("?")[1]
    for path in (f"/media/recordings/{rid}/../../../etc/passwd", f"/media/recordings/{rid}/%2e%2e/%2e%2e/secret_key",
                 f"/media/recordings/{rid}/hls/..%2f..%2fvideo.mp4", f"/media/recordings/{rid}//etc/passwd",
                 f"/media/recordings/{rid}/hls/video/../../audio.ogg", f"/media/recordings/{rid}/convene.db",
                 f"/media/recordings/{rid}/work/spec.json", f"/media/recordings/{rid}/hls/video/seg-1.m4s"):
        code, body = raw_get(archive, f"{path}?{query}")
        assert code in (400, 404), (path, code)
        assert b"root:" not in body and b"SQLite" not in body
    await anonymous.aclose()


async def test_search_filters_and_sorting(archive, media_dir):
    host, viewer = [await Api.register(archive.url) for _ in range(2)]
    created = {}
    async with Packager(archive) as packager:
        for title, language in (("Water purification basics", "en"), ("Purificación del agua", "es"),
                                ("Cold chain for vaccines", "en")):
            webinar = await schedule(host, title=title, language=language, visibility="members")
            base = f"/api/webinars/{webinar['id']}"
            webinar = (await host.http.post(base + "/start")).json()
            await host.http.post(base + "/end")
            # A live directory that never came: the job fails at once, and its host sees it.
            created[title] = (await packager.finished(webinar, media_dir / "missing")).id
    water = created["Water purification basics"]
    detail = await ready(host, water)
    assert detail["state"] == "failed" and detail["job"]["error"] and detail["job"]["state"] == "failed"
    retried = await host.http.post(f"/api/recordings/{water}/retry")
    assert retried.status_code == 202 and (await ready(host, water))["state"] == "failed"
    await host.http.patch(f"/api/recordings/{water}", json={"tags": ["WASH", "field guide"],
                                                             "chapters": [{"t": 2, "title": "Boiling"},
                                                                          {"t": 0, "title": "Intro"}]})
    assert [c["title"] for c in (await host.http.get(f"/api/recordings/{water}")).json()["chapters"]] == [
        "Intro", "Boiling"]
    cold = created["Cold chain for vaccines"]
    for position in (3, 1):   # a member's first saved position counts one view; later ones move it
        assert (await viewer.http.put(f"/api/recordings/{cold}/position", json={"position_s": position})
                ).status_code == 204
    cold_detail = (await viewer.http.get(f"/api/recordings/{cold}")).json()
    assert cold_detail["views"] == 1 and cold_detail["resume_s"] == 1

    async def titles(**params) -> list[str]:
        answer = (await host.http.get("/api/recordings", params={"presenter": host.id, **params})).json()
        assert answer["total"] == len(answer["recordings"])
        return [r["title"] for r in answer["recordings"]]

    assert await titles(q="purification") == ["Water purification basics"]
    assert await titles(q="purif") == ["Purificación del agua", "Water purification basics"]   # prefixes
    assert await titles(q="purif water") == ["Water purification basics"]            # every word
    assert await titles(q="wash") == ["Water purification basics"]                   # tags are searched
    assert await titles(q=host.member["display_name"]) == await titles()             # and presenters
    assert await titles(language="es") == ["Purificación del agua"]
    assert await titles(tag="field guide") == ["Water purification basics"]
    assert await titles(sort="newest") == ["Cold chain for vaccines", "Purificación del agua",
                                           "Water purification basics"]
    assert (await titles(sort="most_watched"))[0] == "Cold chain for vaccines"
    assert await titles(since="2000-01-01", until="2000-12-31") == []
    page = (await host.http.get("/api/recordings", params={"presenter": host.id, "limit": 2})).json()
    assert len(page["recordings"]) == 2 and page["total"] == 3
    assert (await host.http.get("/api/recordings", params={"sort": "loudest"})).status_code == 422
    # Failed recordings are listed to their host only.
    assert await titles() and (await viewer.http.get("/api/recordings", params={"presenter": host.id})).json()[
        "total"] == 0


async def test_each_job_runs_once_across_processes(cluster, tmp_path):
    """Two servers over one Postgres both poll for jobs: each job is claimed by exactly one of them."""
    host = await Api.register(cluster[0].url)
    ids = []
    async with Packager(cluster[0]) as packager:
        for n in range(4):
            webinar = await schedule(host, title=f"Session {n}")
            base = f"/api/webinars/{webinar['id']}"
            webinar = (await host.http.post(base + "/start")).json()
            await host.http.post(base + "/end")
            ids.append((await packager.finished(webinar, tmp_path / "never-written")).id)   # fails at once
    for recording_id in ids:
        detail = await ready(host, recording_id, timeout=30)
        # A second claim, by either process, would have counted a second attempt.
        assert detail["state"] == "failed" and detail["job"]["attempts"] == 1, detail
        assert "no recording" in detail["job"]["error"]


async def test_captions_are_webvtt_within_a_size_limit(archive, library):
    host, invited = library["host"], library["invited"]
    base = f"/api/recordings/{library['members']}/captions"
    vtt = "WEBVTT\n\n00:00.500 --> 00:02.000\nBienvenue à tous\n".encode()
    added = await host.http.post(base, params={"language": "fr", "label": "Français"}, content=vtt)
    assert added.status_code == 201, added.text
    caption = added.json()
    assert caption["language"] == "fr" and caption["label"] == "Français"
    served = await invited.http.get(caption["url"])
    assert served.status_code == 200 and served.content == vtt and served.headers["content-type"].startswith(
        "text/vtt")
    listed = (await invited.http.get(f"/api/recordings/{library['members']}")).json()["captions"]
    assert caption["id"] in [c["id"] for c in listed]
    assert (await host.http.post(base, content=b"1\n00:00:00,000 --> 00:00:01,000\nSRT\n")).status_code == 422
    assert (await host.http.post(base, content=b"WEBVTT\n" + b"x" * (1024 * 1024 + 1))).status_code == 413
    assert (await host.http.post(base, params={"language": "not a language"}, content=vtt)).status_code == 422
