"""A webinar whose media process died before the end is still archived: the recovery sweep closes the
stream it left behind and hands it to the archive, once."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import embedded_env
from tests.integration.test_recordings import schedule
from tests.support.client import Api
from tests.support.recording_sources import fake_live_dir
from tests.support.services import ServerProcess


@pytest.fixture(scope="module")
def sweeping_server() -> Iterator[ServerProcess]:
    data_dir = Path(tempfile.mkdtemp(prefix="convene-live-recovery-"))
    env = embedded_env(data_dir, LIVE_RECOVERY_SETTLE_S="0", LIVE_RECOVERY_INTERVAL_S="0.3",
                       RECORDING_JOB_POLL_S="0.2")
    process = ServerProcess(env=env)
    process.start()
    yield process
    process.cleanup()


def abandon_stream(live_dir: Path, started_at: str) -> None:
    """What a process killed mid-webinar leaves: segments and playlists, but no #EXT-X-ENDLIST."""
    fake_live_dir(live_dir, seconds=3)
    for rendition in ("video", "audio"):
        playlist = live_dir / rendition / "index.m3u8"
        playlist.write_text(playlist.read_text().replace("#EXT-X-ENDLIST\n", ""))
    (live_dir / "stream.json").write_text(json.dumps({"started_at": started_at}))


async def recordings_of(host: Api, webinar_id: int) -> list[dict]:
    listing = (await host.http.get("/api/recordings", params={"limit": 100})).json()["recordings"]
    return [r for r in listing if r["webinar_id"] == webinar_id]


async def test_an_abandoned_stream_of_an_ended_webinar_is_archived_once(sweeping_server):
    host = await Api.register(sweeping_server.url)
    webinar = await schedule(host, title="Stream left behind")
    base = f"/api/webinars/{webinar['id']}"
    webinar = (await host.http.post(base + "/start")).json()
    live_dir = Path(sweeping_server.env["CONVENE_DATA_DIR"]) / "live" / str(webinar["id"])
    abandon_stream(live_dir, webinar["started_at"])

    # While the webinar is live the stream may still be continued: the sweep leaves it alone.
    await asyncio.sleep(1.0)
    assert await recordings_of(host, webinar["id"]) == []

    assert (await host.http.post(base + "/end")).status_code == 200
    deadline = time.monotonic() + 60
    found: list[dict] = []
    while time.monotonic() < deadline:
        found = await recordings_of(host, webinar["id"])
        if found and found[0]["state"] in ("ready", "failed"):
            break
        await asyncio.sleep(0.3)
    assert [r["state"] for r in found] == ["ready"], found
    assert abs(found[0]["duration_s"] - 3.0) <= 1.0
    for rendition in ("video", "audio"):
        assert (live_dir / rendition / "index.m3u8").read_text().rstrip().endswith("#EXT-X-ENDLIST")
    assert (live_dir / "archived").exists()

    # Later sweeps do not hand it over again.
    await asyncio.sleep(1.0)
    assert len(await recordings_of(host, webinar["id"])) == 1
