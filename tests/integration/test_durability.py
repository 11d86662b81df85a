"""An acknowledgement means "on disk" (issue 20): proved from the system calls of a real server under strace.

On the embedded default every `ack` follows a sync of the SQLite write-ahead log that holds the
message; with SQLITE_SYNCHRONOUS=normal it does not (so the check can fail). An upload is reported
stored, and a recording reported ready, only once each file was synced under a temporary name,
renamed into place, and its directory synced.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import websockets

from tests.conftest import embedded_env
from tests.support.client import Api, ChatClient
from tests.support.recording_sources import synthetic_file
from tests.support.services import REPO_ROOT, ServerProcess
from tests.support.syscalls import READS, WRITES, Call, TracedServer, read_trace

MESSAGES = 6
SYNCS = ("fsync", "fdatasync")


@dataclass
class TracedRun:
    """What a client did against a traced server, and the server's syscalls meanwhile."""

    data_dir: Path
    calls: list[Call]
    client_ids: list[str]
    upload_key: str | None = None
    recording_id: int | None = None
    after_kill: dict | None = None   # what a restarted server answered, when the traced one was killed


async def _send_one_at_a_time(server: TracedServer, api: Api) -> tuple[int, list[str]]:
    room = await api.create_room("durable")
    # No compression, so the acks are readable in the trace; each send waits for its ack and a pause.
    ws = await websockets.connect(server.ws_url, additional_headers={"Authorization": f"Bearer {api.token}"},
                                  compression=None)
    client = ChatClient(ws)
    await client.wait_for(lambda f: f["type"] == "hello")
    client_ids = []
    for n in range(MESSAGES):
        client_id = f"durable{n}x{uuid.uuid4().hex[:8]}"
        ack = await client.say(room, f"message {n}", client_id=client_id)
        assert ack["type"] == "ack", ack
        client_ids.append(client_id)
        await asyncio.sleep(0.05)
    await client.close()
    return room, client_ids


async def _upload_and_wait_until_ready(server: TracedServer, api: Api, media: Path) -> tuple[str, int]:
    with open(media, "rb") as data:
        response = await api.http.post("/api/recordings/import", files={"file": ("talk.mp4", data)},
                                       data={"title": "Durable talk"}, headers={"Accept-Encoding": "identity"})
    assert response.status_code == 202, response.text
    recording_id = response.json()["id"]
    for _ in range(600):
        detail = await api.http.get(f"/api/recordings/{recording_id}", headers={"Accept-Encoding": "identity"})
        if detail.json()["state"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.1)
    assert detail.json()["state"] == "ready", detail.text
    uploads = list((server_data_dir(server) / "media" / "uploads").iterdir())
    assert len(uploads) == 1
    return str(uploads[0]), recording_id


def server_data_dir(server: TracedServer) -> Path:
    return Path(server.env["CONVENE_DATA_DIR"])


async def _traced_run(tmp: Path, synchronous: str, upload: bool) -> TracedRun:
    """With `upload`, the server is then killed (SIGKILL, mid-run) and a fresh one on the same data
    reports what survived; otherwise it stops normally."""
    data_dir = (tmp / f"data-{synchronous}").resolve()
    env = embedded_env(data_dir, SQLITE_SYNCHRONOUS=synchronous)
    server = TracedServer(env=env, trace_path=tmp / f"trace-{synchronous}.txt")
    server.start()
    upload_key = recording_id = after_kill = None
    try:
        api = await Api.register(server.url)
        room, client_ids = await _send_one_at_a_time(server, api)
        if upload:
            media = synthetic_file(tmp / "talk.mp4", seconds=1.0)
            upload_key, recording_id = await _upload_and_wait_until_ready(server, api, media)
            server.kill()
            after_kill = await _what_survived(env, api, room, recording_id)
        await api.aclose()
    finally:
        server.stop()
    calls = read_trace(server.trace_path, REPO_ROOT)
    server.cleanup()
    return TracedRun(data_dir, calls, client_ids, upload_key, recording_id, after_kill)


async def _what_survived(env: dict[str, str], api: Api, room: int, recording_id: int) -> dict:
    restarted = ServerProcess(env=env)
    restarted.start()
    try:
        api.http.base_url = restarted.url
        history = (await api.http.get(f"/api/rooms/{room}/messages", params={"limit": 100})).json()
        detail = (await api.http.get(f"/api/recordings/{recording_id}")).json()
        files = {}
        for download in detail["downloads"]:
            response = await api.http.get(download["url"])
            files[download["name"]] = (response.status_code, len(response.content), download["bytes"])
        return {"client_ids": [m["client_id"] for m in history["messages"]], "state": detail["state"],
                "files": files}
    finally:
        restarted.cleanup()


@pytest_asyncio.fixture(scope="module")
async def full(tmp_path_factory: pytest.TempPathFactory) -> TracedRun:
    return await _traced_run(tmp_path_factory.mktemp("trace-full"), "full", upload=True)


@pytest_asyncio.fixture(scope="module")
async def normal(tmp_path_factory: pytest.TempPathFactory) -> TracedRun:
    return await _traced_run(tmp_path_factory.mktemp("trace-normal"), "normal", upload=False)


def _is_wal(call: Call, run: TracedRun) -> bool:
    return call.path == str(run.data_dir / "convene.db-wal")


def _sends_and_acks(run: TracedRun) -> list[dict]:
    """For each message: its frame's arrival (the last read on its socket before the ack), its
    WAL writes, the WAL syncs after the first of them, and the ack's write, all in trace order."""
    found = []
    for client_id in run.client_ids:
        ack = next(c for c in run.calls if c.name in WRITES and client_id in c.data()
                   and '\\"type\\":\\"ack\\"' in c.data())
        arrival = max((c for c in run.calls if c.name in READS and c.space == ack.space
                       and c.fd == ack.fd and (c.result or 0) > 0 and c.exit < ack.entry), key=lambda c: c.exit)
        between = [c for c in run.calls if arrival.exit < c.exit < ack.entry and _is_wal(c, run)]
        writes = [c for c in between if c.name in ("pwrite64", "write")]
        syncs = [c for c in between if c.name in SYNCS and writes and c.entry > writes[0].exit]
        found.append({"client_id": client_id, "writes": writes, "syncs": syncs,
                      "unsynced_at_ack": [w for w in writes if not any(s.entry > w.exit for s in syncs)]})
    return found


def test_each_ack_on_the_embedded_default_follows_a_sync_of_the_write_ahead_log(full: TracedRun) -> None:
    assert any(_is_wal(c, full) for c in full.calls), "the trace never touched convene.db-wal"
    for message in _sends_and_acks(full):
        assert message["writes"], f"{message['client_id']}: no WAL write between its arrival and its ack"
        assert message["syncs"], f"{message['client_id']}: acknowledged before its WAL write was synced"
        assert not message["unsynced_at_ack"], f"{message['client_id']}: a WAL write not synced before the ack"


def test_with_sqlite_synchronous_normal_the_same_check_fails(normal: TracedRun) -> None:
    """The trade SQLITE_SYNCHRONOUS=normal makes, seen by the same check: the WAL is written, and
    acknowledged, without a sync (a power cut could take these messages back)."""
    for message in _sends_and_acks(normal):
        assert message["writes"], f"{message['client_id']}: no WAL write between its arrival and its ack"
        assert not message["syncs"] and message["unsynced_at_ack"], message["client_id"]


def _stored_properly(run: TracedRun, target: str, reported: Call) -> None:
    """`target` was renamed into place from a temporary name whose descriptor was synced first, and its
    directory was synced after the rename — all before `reported` (the response saying it is stored)."""
    rename = next((c for c in run.calls if c.name.startswith("rename") and c.paths[1:] == (target,)), None)
    assert rename is not None, f"{target} was not renamed into place"
    temporary = rename.paths[0]
    assert Path(temporary).parent == Path(target).parent and Path(temporary).name.startswith(".part-")
    synced = [c for c in run.calls if c.name in SYNCS and c.path == temporary and c.exit < rename.entry]
    assert synced, f"{target}: renamed before its content was synced"
    directory = str(Path(target).parent)
    dir_synced = [c for c in run.calls if c.name in SYNCS and c.path == directory and c.entry > rename.exit]
    assert dir_synced, f"{target}: its directory was not synced after the rename"
    assert rename.exit < reported.entry and dir_synced[0].exit < reported.entry, \
        f"{target}: reported stored before it was synced and renamed"


def test_an_upload_is_reported_stored_only_after_it_was_synced_and_renamed(full: TracedRun) -> None:
    assert full.upload_key is not None
    accepted = next(c for c in full.calls if c.name in WRITES and c.data().startswith("HTTP/1.1 202"))
    _stored_properly(full, full.upload_key, accepted)


def test_a_recording_is_reported_ready_only_after_its_files_were_synced_and_renamed(full: TracedRun) -> None:
    ready = next(c for c in full.calls if c.name in WRITES and '\\"state\\":\\"ready\\"' in c.data())
    folder = full.data_dir / "media" / "recordings" / str(full.recording_id)
    published = sorted({c.paths[1] for c in full.calls if c.name.startswith("rename") and len(c.paths) == 2
                        and c.paths[1].startswith(str(folder) + "/")})
    assert any(p.endswith("/video.mp4") for p in published) and any(p.endswith("/audio.ogg") for p in published)
    assert any(p.endswith("/hls/master.m3u8") for p in published)
    for target in published:
        _stored_properly(full, target, ready)


def test_acknowledged_messages_and_stored_files_survive_the_process_being_killed(full: TracedRun) -> None:
    """SIGKILL right after the acks and the upload: a new process on the same data has every message
    (in order) and the recording with every file whole."""
    assert full.after_kill is not None
    assert full.after_kill["client_ids"] == full.client_ids
    assert full.after_kill["state"] == "ready"
    assert {"video.mp4", "audio.ogg"} <= set(full.after_kill["files"])
    for name, (status, size, listed) in full.after_kill["files"].items():
        assert status == 200 and size == listed > 0, name
