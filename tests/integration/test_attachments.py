"""Attachments against real servers, on both backends: uploads (whole and resumable), what is served and how,
who may read it, messages that carry attachments, deletion, search, limits and garbage collection."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest
from PIL import Image

from recordings.storage.signing import UrlSigner
from rooms.attachments import samples
from tests.conftest import FAST, embedded_env, shared_env
from tests.support.client import Api
from tests.support.services import REPO_ROOT, ServerProcess
from tests.support.throttle import ThrottlingProxy

TUS = {"Tus-Resumable": "1.0.0"}
PATCH = {**TUS, "Content-Type": "application/offset+octet-stream"}
FILE_CSP_PARTS = ("sandbox", "default-src 'none'")


def _jpeg_with_gps(tmp: Path) -> bytes:
    return samples.photo(tmp / "field.jpg", 1200, 900, gps=(33.8938, 35.5018), sideways=True).read_bytes()


async def upload(api: Api, room: int, name: str, data: bytes, content_type: str = "application/octet-stream"):
    return await api.http.post(f"/api/rooms/{room}/attachments", files={"file": (name, data, content_type)})


async def uploaded(api: Api, room: int, name: str, data: bytes, content_type: str = "application/octet-stream") -> dict:
    response = await upload(api, room, name, data, content_type)
    assert response.status_code == 201, response.text
    return response.json()["attachment"]


async def tus_create(api: Api, room: int, length: int, name: str = "file.pdf") -> httpx.Response:
    return await api.http.post(f"/api/rooms/{room}/attachments", headers={
        **TUS, "Upload-Length": str(length), "Upload-Metadata": "filename " + base64.b64encode(name.encode()).decode()})


async def send(client, room: int, ids: list[int], body: str = "", client_id: str | None = None) -> dict:
    return await client.request({"type": "send", "room": room, "client_id": client_id or uuid.uuid4().hex,
                                 "body": body, "attachments": ids})


def media_dir(server: ServerProcess) -> Path:
    return Path(server.env["CONVENE_DATA_DIR"]) / "media"


def _files(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


def _error(response: httpx.Response) -> dict:
    return response.json()["error"]


# Uploading and serving.

async def test_a_photo_is_served_without_any_exif_or_gps_and_turned_the_right_way(server, tmp_path):
    amina = await Api.register(server.url)
    room = await amina.create_room("field photos")
    original = _jpeg_with_gps(tmp_path)
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825), "the test photo carries a GPS position"
    attachment = await uploaded(amina, room, "beirut-workshop.jpg", original, "image/jpeg")
    assert attachment["kind"] == "image" and attachment["content_type"] == "image/jpeg"
    assert (attachment["width"], attachment["height"]) == (900, 1200)   # the orientation tag was applied
    assert max(attachment["preview"]["width"], attachment["preview"]["height"]) == 640

    for url, fmt in ((attachment["signed_url"], "JPEG"), (attachment["preview"]["signed_url"], "WEBP")):
        served = await amina.http.get(url)
        assert served.status_code == 200, served.text
        image = Image.open(io.BytesIO(served.content))
        assert image.format == fmt
        assert not image.getexif() and "exif" not in image.info and "xmp" not in image.info
        assert b"Exif" not in served.content and b"Convene test camera" not in served.content
        assert served.headers["x-content-type-options"] == "nosniff"
        assert all(part in served.headers["content-security-policy"] for part in FILE_CSP_PARTS)
        assert served.headers["content-disposition"].startswith("inline;")
    assert int(served.headers["content-length"]) == attachment["preview"]["size"]


async def test_refused_types_are_415_whatever_their_name_and_declared_type(server):
    amina = await Api.register(server.url)
    room = await amina.create_room("refusals")
    hostile = {
        "photo.png": b"<!DOCTYPE html><html><body><script>parent.pwned = 1; alert(1)</script></body></html>",
        "picture.png": b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>',
        "setup.pdf": b"MZ\x90\x00" + b"\x00" * 200,
        "archive.docx": samples.pdf("x", []).replace(b"%PDF-", b"PK\x03\x04"),
    }
    for name, data in hostile.items():
        response = await upload(amina, room, name, data, "image/png")
        assert response.status_code == 415, (name, response.text)
        assert _error(response)["code"] == "unsupported_media_type"


async def test_documents_are_downloads_with_their_size_and_text_is_never_html(server):
    amina = await Api.register(server.url)
    room = await amina.create_room("documents")
    pdf = samples.pdf("Supervision notes", ["one", "two"])
    attachment = await uploaded(amina, room, "notes.pdf", pdf, "text/html")
    assert (attachment["kind"], attachment["content_type"], attachment["size"]) == ("file", "application/pdf", len(pdf))
    served = await amina.http.get(attachment["signed_url"])
    assert served.content == pdf and served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"].startswith("attachment;")

    text = "Follow-up list\n<script>alert('not here')</script>\n".encode()
    attachment = await uploaded(amina, room, "list.html", text, "text/html")
    assert attachment["name"] == "list.txt" and attachment["content_type"] == "text/plain; charset=utf-8"
    served = await amina.http.get(attachment["signed_url"])
    assert served.headers["content-type"] == "text/plain; charset=utf-8"
    assert served.headers["content-disposition"] == "attachment; filename=\"list.txt\"; filename*=UTF-8''list.txt"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]


async def test_a_voice_note_is_remuxed_with_its_duration_and_plays_by_ranges(server, tmp_path):
    amina = await Api.register(server.url)
    room = await amina.create_room("voice")
    voice = samples.voice_note(tmp_path / "note.ogg", seconds=2.0).read_bytes()
    attachment = await uploaded(amina, room, "note.ogg", voice, "audio/ogg")
    assert attachment["kind"] == "audio" and attachment["content_type"] == "audio/ogg"
    assert 1.9 <= attachment["duration_s"] <= 2.1
    part = await amina.http.get(attachment["signed_url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100 and part.content.startswith(b"OggS")
    assert part.headers["content-disposition"].startswith("inline;")


# Messages with attachments.

async def test_a_message_carries_its_attachments_in_events_history_and_search(server):
    amina = await Api.register(server.url)
    bob = await Api.register(server.url)
    room = await amina.create_room("materials")
    await bob.join(room)
    pdf = await uploaded(amina, room, "Flipchart_notes-Kigali.pdf", samples.pdf("Notes", []))
    text = await uploaded(amina, room, "agenda.txt", b"1. welcome\n2. cases\n")
    alice_ws, bob_ws = await amina.connect(server.ws_url), await bob.connect(server.ws_url)
    try:
        await bob_ws.subscribe(room)
        ack = await send(alice_ws, room, [pdf["id"], text["id"]], client_id="files-1")
        assert ack["type"] == "ack" and not ack["duplicate"], ack
        event = await bob_ws.wait_for(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
        assert [a["id"] for a in event["attachments"]] == [pdf["id"], text["id"]]
        assert event["attachments"][0] == {k: v for k, v in pdf.items() if k != "signed_url"}
        again = await send(alice_ws, room, [pdf["id"], text["id"]], client_id="files-1")
        assert again["seq"] == ack["seq"] and again["duplicate"]
        reused = await send(alice_ws, room, [pdf["id"]])
        assert (reused["type"], reused["code"], reused["field"]) == ("error", "not_found", "attachments")
        theirs = await send(bob_ws, room, [text["id"]])
        assert theirs["code"] == "not_found"
        history = await bob_ws.request({"type": "history", "room": room})
        assert history["messages"][-1]["attachments"] == event["attachments"]
        # Bob reads it through the stable link: a fresh signed URL.
        redirect = await bob.http.get(event["attachments"][0]["url"])
        assert redirect.status_code == 303 and redirect.headers["location"].startswith(f"/media/attachments/{pdf['id']}/")
        assert (await bob.http.get(redirect.headers["location"])).content.startswith(b"%PDF-")
        found = (await bob.http.get("/api/search", params={"q": "kigali flipchart"})).json()["results"]
        assert [(hit["seq"], hit["attachments"]) for hit in found] == [(ack["seq"], [pdf["name"], text["name"]])]
    finally:
        await alice_ws.close()
        await bob_ws.close()


async def test_attachments_of_another_room_or_too_many_are_refused(server):
    amina = await Api.register(server.url)
    room, other = await amina.create_room("a"), await amina.create_room("b")
    elsewhere = await uploaded(amina, other, "a.txt", b"text")
    ws = await amina.connect(server.ws_url)
    try:
        wrong_room = await send(ws, room, [elsewhere["id"]])
        assert (wrong_room["code"], wrong_room["field"]) == ("not_found", "attachments")
        too_many = await send(ws, room, list(range(1, 12)))
        assert (too_many["code"], too_many["field"]) == ("bad_request", "attachments")
        empty = await ws.request({"type": "send", "room": room, "client_id": "e", "body": " "})
        assert empty["code"] == "bad_request"
    finally:
        await ws.close()


async def test_deleting_the_message_deletes_the_file_and_its_preview(server, tmp_path):
    amina = await Api.register(server.url)
    room = await amina.create_room("deletion")
    photo = await uploaded(amina, room, "p.jpg", _jpeg_with_gps(tmp_path))
    stored = media_dir(server) / "attachments" / str(room)
    assert len(_files(stored)) == 2   # the file and its preview
    ws = await amina.connect(server.ws_url)
    try:
        ack = await send(ws, room, [photo["id"]], body="workshop")
        deleted = await ws.request({"type": "delete", "room": room, "target": ack["seq"]})
        assert deleted["type"] == "ack"
        history = await ws.request({"type": "history", "room": room})
        assert history["messages"][0]["deleted"] and "attachments" not in history["messages"][0]
    finally:
        await ws.close()
    assert _files(stored) == []
    for url in (photo["signed_url"], photo["preview"]["signed_url"]):
        assert (await amina.http.get(url)).status_code == 404
    assert (await amina.http.get(f"/api/attachments/{photo['id']}")).status_code == 404


# Access.

async def test_a_private_room_s_attachment_is_for_its_members_only(server):
    owner, stranger = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("case supervision", visibility="private")
    attachment = await uploaded(owner, room, "case.txt", b"private notes")
    ws = await owner.connect(server.ws_url)
    try:
        await send(ws, room, [attachment["id"]])
    finally:
        await ws.close()
    for path in (f"/api/attachments/{attachment['id']}", attachment["url"], attachment["url"].replace("file", "preview")):
        assert (await stranger.http.get(path)).status_code == 404, path
        assert (await httpx.AsyncClient(base_url=server.url).get(path)).status_code == 401
    assert (await stranger.http.post(f"/api/rooms/{room}/attachments",
                                     files={"file": ("x.txt", b"x", "text/plain")})).status_code == 404
    assert (await tus_create(stranger, room, 10)).status_code == 404
    assert (await owner.http.get(attachment["url"])).status_code == 303


async def test_a_direct_conversation_s_attachments_are_for_its_two_members_only(server):
    amina, bob, stranger = [await Api.register(server.url) for _ in range(3)]
    dm = (await bob.http.post("/api/dms", json={"members": [amina.id]})).json()["id"]
    note = await uploaded(amina, dm, "between-us.txt", b"just for Bob")
    picture = Image.new("RGB", (40, 30), "teal")
    photo_bytes = io.BytesIO()
    picture.save(photo_bytes, "PNG")
    photo = await uploaded(bob, dm, "whiteboard.png", photo_bytes.getvalue(), "image/png")
    assert (await tus_create(bob, dm, 10)).status_code == 201
    a, b = await amina.connect(server.ws_url), await bob.connect(server.ws_url)
    try:
        assert (await send(a, dm, [note["id"]]))["type"] == "ack"
        assert (await send(b, dm, [photo["id"]]))["type"] == "ack"
    finally:
        await a.close(), await b.close()
    # Each of the two reads what the other sent, through the stable link and its fresh signature.
    assert (await bob.http.get(note["url"], follow_redirects=True)).content == b"just for Bob"
    for path in (photo["url"], photo["url"].replace("file", "preview")):
        downloaded = await amina.http.get(path, follow_redirects=True)
        assert downloaded.status_code == 200 and downloaded.headers["content-type"].startswith("image/"), path
    # Anyone else is told nothing exists, as for a private room.
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        for attachment in (note, photo):
            for path in (f"/api/attachments/{attachment['id']}", attachment["url"],
                         attachment["url"].replace("file", "preview")):
                assert (await stranger.http.get(path)).status_code == 404, path
                assert (await anonymous.get(path)).status_code == 401, path
    assert (await upload(stranger, dm, "x.txt", b"x", "text/plain")).status_code == 404
    assert (await tus_create(stranger, dm, 10)).status_code == 404


async def test_a_forged_or_foreign_signature_is_refused_and_an_expired_one_too(server):
    amina = await Api.register(server.url)
    room = await amina.create_room("signatures")
    first = await uploaded(amina, room, "a.txt", b"first")
    second = await uploaded(amina, room, "b.txt", b"second")
    url = first["signed_url"]
    assert (await amina.http.get(url)).status_code == 200
    tampered = url[:-1] + ("0" if url[-1] != "0" else "1")
    foreign = url.replace(f"/attachments/{first['id']}/", f"/attachments/{second['id']}/")
    unsigned = url.split("?")[0]
    # Signed with the server's key but an hour ago: the way a link looks once it has expired.
    signer = UrlSigner(FAST["SECRET_KEY"], b"convene.attachment", 60)
    expired = f"{unsigned}?{signer.query(str(first['id']), now=time.time() - 3600)}"
    for bad in (tampered, foreign, unsigned, expired):
        response = await httpx.AsyncClient(base_url=server.url).get(bad)
        assert response.status_code == 403, bad
        assert _error(response)["code"] == "forbidden"


# The resumable upload.

async def test_a_20_mb_upload_cut_off_halfway_on_a_slow_link_resumes_without_resending_the_first_half(server):
    amina = await Api.register(server.url)
    room = await amina.create_room("big files")
    data = samples.pdf("Training manual", ["chapter one"], padding=20 * 1024 * 1024)
    created = await tus_create(amina, room, len(data), "manual.pdf")
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    proxy = ThrottlingProxy(server.port, bytes_per_s=8 * 1024 * 1024)   # the slow link (fast enough to test)
    await proxy.start()
    slow = httpx.AsyncClient(base_url=proxy.url, headers=amina.http.headers, timeout=60)
    try:
        proxy.cut_after = len(data) // 2
        with pytest.raises(httpx.TransportError):
            await slow.patch(location, content=data, headers={**PATCH, "Upload-Offset": "0"})
        head = await amina.http.head(location, headers=TUS)
        offset = int(head.headers["upload-offset"])
        assert int(head.headers["upload-length"]) == len(data)
        # What arrived is kept (less at most what the server had buffered when the link went).
        assert 0.45 * len(data) <= offset <= proxy.upstream[0]
        rest = await slow.patch(location, content=data[offset:], headers={**PATCH, "Upload-Offset": str(offset)})
        assert rest.status_code == 204, rest.text
        assert proxy.upstream[1] < len(data) - offset + 4096   # the second half (and headers), nothing more
    finally:
        await slow.aclose()
        await proxy.close()
    attachment = (await amina.http.get(location)).json()["attachment"]
    assert attachment["id"] == int(rest.headers["attachment-id"]) and attachment["size"] == len(data)
    served = await amina.http.get(attachment["signed_url"])
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()
    assert _files(media_dir(server) / "attachment-uploads" / location.rsplit("/", 1)[1]) == []   # parts dropped


async def test_the_tus_protocol_core_creation_termination_and_expiration(server):
    amina, bob = await Api.register(server.url), await Api.register(server.url)
    room = await amina.create_room("tus")
    options = await amina.http.options(f"/api/rooms/{room}/attachments")
    assert options.status_code == 204 and options.headers["tus-version"] == "1.0.0"
    assert set(options.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    created = await tus_create(amina, room, 11, "hello.txt")
    location = created.headers["location"]
    assert created.headers["upload-expires"].endswith("GMT") and created.headers["tus-resumable"] == "1.0.0"
    assert (await amina.http.patch(location, content=b"hello", headers={**PATCH, "Upload-Offset": "1"})).status_code == 409
    assert (await amina.http.patch(location, content=b"hello", headers={**TUS, "Upload-Offset": "0"})).status_code == 415
    assert (await amina.http.patch(location, content=b"hello",
                                   headers={**PATCH, "Tus-Resumable": "0.2.2", "Upload-Offset": "0"})).status_code == 412
    assert (await bob.http.head(location, headers=TUS)).status_code == 404   # someone else's upload
    first = await amina.http.patch(location, content=b"hello", headers={**PATCH, "Upload-Offset": "0"})
    assert first.status_code == 204 and first.headers["upload-offset"] == "5"
    too_much = await amina.http.patch(location, content=b" world!!!", headers={**PATCH, "Upload-Offset": "5"})
    assert too_much.status_code == 413 and _error(too_much)["code"] == "too_large"
    last = await amina.http.patch(location, content=b" world", headers={**PATCH, "Upload-Offset": "5"})
    assert last.status_code == 204 and last.headers["upload-offset"] == "11"
    retried = await amina.http.patch(location, content=b"", headers={**PATCH, "Upload-Offset": "11"})
    assert retried.headers["attachment-id"] == last.headers["attachment-id"]   # a retried last PATCH
    second = (await tus_create(amina, room, 100)).headers["location"]
    assert (await amina.http.delete(second, headers=TUS)).status_code == 204
    assert (await amina.http.head(second, headers=TUS)).status_code == 404
    refused = (await tus_create(amina, room, 5, "page.png")).headers["location"]
    html = await amina.http.patch(refused, content=b"<html", headers={**PATCH, "Upload-Offset": "0"})
    assert html.status_code == 415 and (await amina.http.head(refused, headers=TUS)).status_code == 404


# Two processes.

async def test_an_upload_begun_on_one_process_ends_on_the_other_and_the_message_reaches_both(cluster):
    first, second = cluster
    amina = await Api.register(first.url)
    bob = await Api.register(second.url)
    room = await amina.create_room("across processes")
    await bob.join(room)
    data = samples.pdf("Shared", ["x"], padding=200_000)
    location = (await tus_create(amina, room, len(data))).headers["location"]
    half = len(data) // 2
    assert (await amina.http.patch(location, content=data[:half], headers={**PATCH, "Upload-Offset": "0"})).status_code == 204
    other = httpx.AsyncClient(base_url=second.url, headers=amina.http.headers)
    try:
        assert (await other.head(location, headers=TUS)).headers["upload-offset"] == str(half)
        done = await other.patch(location, content=data[half:], headers={**PATCH, "Upload-Offset": str(half)})
        assert done.status_code == 204
    finally:
        await other.aclose()
    bob_ws, alice_ws = await bob.connect(second.ws_url), await amina.connect(first.ws_url)
    try:
        await bob_ws.subscribe(room)
        ack = await send(alice_ws, room, [int(done.headers["attachment-id"])], body="the manual")
        event = await bob_ws.wait_for(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
        location = (await bob.http.get(event["attachments"][0]["url"])).headers["location"]
        assert (await bob.http.get(location)).content == data
    finally:
        await bob_ws.close()
        await alice_ws.close()


# Limits and garbage collection: a server of their own with small limits, on each backend.

LIMITS = {"ATTACHMENT_MAX_BYTES": "300000", "ATTACHMENT_QUOTA_BYTES": "700000", "ATTACHMENT_UPLOADS_PER_MEMBER": "2",
          "ATTACHMENT_UPLOAD_TTL_S": "3", "ATTACHMENT_UNSENT_TTL_S": "3", "ATTACHMENT_GC_INTERVAL_S": "0.5",
          "ATTACHMENT_URL_TTL_S": "1"}


@pytest.fixture(scope="module", params=["embedded", "postgres"])
def limited(request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    data_dir = Path(tempfile.mkdtemp(prefix="convene-attachment-limits-"))
    if request.param == "embedded":
        env = embedded_env(data_dir, **LIMITS)
    else:
        env = shared_env(request.getfixturevalue("postgres"), request.getfixturevalue("redis_server"), data_dir,
                         **LIMITS)
    process = ServerProcess(env=env)
    process.start()
    yield process
    process.cleanup()


def _pdf(size: int) -> bytes:
    return samples.pdf("Padding", [], padding=size)


async def test_size_refusals_are_typed_413(limited):
    amina = await Api.register(limited.url)
    room = await amina.create_room("sizes")
    whole = await upload(amina, room, "big.pdf", _pdf(400_000))
    assert whole.status_code == 413 and _error(whole)["code"] == "too_large"
    resumable = await tus_create(amina, room, 400_000)
    assert resumable.status_code == 413 and _error(resumable)["code"] == "too_large"


async def test_the_quota_refuses_with_its_own_code_and_deleting_a_message_frees_room(limited):
    amina = await Api.register(limited.url)
    room = await amina.create_room("quota")
    ws = await amina.connect(limited.ws_url)
    try:
        sent = []
        for n in range(2):
            attachment = await uploaded(amina, room, f"part-{n}.pdf", _pdf(250_000))
            sent.append(await send(ws, room, [attachment["id"]]))
        over = await upload(amina, room, "third.pdf", _pdf(250_000))
        assert over.status_code == 413, over.text
        assert _error(over)["code"] == "quota_exceeded" and "delete" in _error(over)["message"]
        assert _error(await tus_create(amina, room, 250_000))["code"] == "quota_exceeded"
        await ws.request({"type": "delete", "room": room, "target": sent[0]["seq"]})
        assert (await upload(amina, room, "third.pdf", _pdf(250_000))).status_code == 201
    finally:
        await ws.close()


async def test_uploads_in_progress_are_bounded_per_member(limited):
    amina = await Api.register(limited.url)
    room = await amina.create_room("bounded")
    first, second = [(await tus_create(amina, room, 1000)).headers["location"] for _ in range(2)]
    third = await tus_create(amina, room, 1000)
    assert third.status_code == 429 and _error(third)["code"] == "too_many_uploads"
    await amina.http.delete(first, headers=TUS)
    assert (await tus_create(amina, room, 1000)).status_code == 201


async def test_expired_links_unfinished_uploads_and_unsent_files_go_away_with_time(limited):
    amina = await Api.register(limited.url)
    room = await amina.create_room("time")
    unsent = await uploaded(amina, room, "forgotten.txt", b"never sent")
    location = (await tus_create(amina, room, 1000)).headers["location"]
    await amina.http.patch(location, content=b"x" * 400, headers={**PATCH, "Upload-Offset": "0"})
    token = location.rsplit("/", 1)[1]
    assert _files(media_dir(limited) / "attachment-uploads" / token)
    await asyncio.sleep(4.5)   # ATTACHMENT_URL_TTL_S, ATTACHMENT_UPLOAD_TTL_S and ATTACHMENT_UNSENT_TTL_S have passed
    expired = await httpx.AsyncClient(base_url=limited.url).get(unsent["signed_url"])
    assert expired.status_code == 403 and "expired" in _error(expired)["message"]
    assert (await amina.http.head(location, headers=TUS)).status_code == 404
    assert (await amina.http.get(f"/api/attachments/{unsent['id']}")).status_code == 404
    assert _files(media_dir(limited) / "attachment-uploads" / token) == []
    assert _files(media_dir(limited) / "attachments" / str(room)) == []


# The demo (`make run` seeds it with rooms.demo).

async def test_the_demo_shows_a_pdf_a_photo_and_a_voice_note(tmp_path):
    env = embedded_env(tmp_path)
    subprocess.run([sys.executable, "-m", "rooms.demo"], cwd=REPO_ROOT, env={**os.environ, **env}, check=True,
                   capture_output=True, timeout=120)
    with ServerProcess(env=env) as demo:
        async with httpx.AsyncClient(base_url=demo.url) as http:
            token = (await http.post("/api/auth/token", json={"username": "priya", "password": "convene-demo"})).json()
            http.headers["Authorization"] = f"Bearer {token['token']}"
            rooms = (await http.get("/api/rooms")).json()["rooms"]
            room = next(r for r in rooms if r["name"] == "Psychological first aid")
            messages = (await http.get(f"/api/rooms/{room['id']}/messages")).json()["messages"]
            files = [a for m in messages for a in m.get("attachments", ())]
            assert [(a["kind"], a["content_type"]) for a in files] == [
                ("file", "application/pdf"), ("image", "image/jpeg"), ("audio", "audio/ogg")]
            for attachment in files:
                signed = (await http.get(attachment["url"])).headers["location"]
                served = await http.get(signed)
                assert served.status_code == 200 and len(served.content) == attachment["size"]
                if attachment["kind"] == "image":
                    assert not Image.open(io.BytesIO(served.content)).getexif()
