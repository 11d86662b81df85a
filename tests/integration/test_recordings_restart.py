"""An archive job survives its server being killed in the middle: the job table keeps it, the lease lapses,
the restarted server takes it over and completes it — once."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import av

from tests.conftest import embedded_env
from tests.support.client import Api
from tests.support.recording_sources import synthetic_file
from tests.support.services import ServerProcess

# Slow steps so the kill lands mid-job; a short lease so the takeover comes soon after the restart.
SLOW = {"RECORDING_JOB_STEP_DELAY_S": "0.5", "RECORDING_JOB_LEASE_S": "1.5", "RECORDING_JOB_POLL_S": "0.2"}


async def job_of(api: Api, recording_id: int) -> dict:
    detail = (await api.http.get(f"/api/recordings/{recording_id}")).json()
    return {**detail["job"], "recording_state": detail["state"]}


async def wait_for(api: Api, recording_id: int, done, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = await job_of(api, recording_id)
        if done(job) or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.1)


async def test_a_job_killed_with_its_server_is_taken_over_after_a_restart_and_completes_once(tmp_path):
    data_dir = Path(tempfile.mkdtemp(prefix="convene-rec-restart-"))
    env = embedded_env(data_dir, **SLOW)
    first = ServerProcess(env=env)
    first.start()
    source = synthetic_file(tmp_path / "talk.mp4", seconds=2)
    host = await Api.register(first.url)
    with open(source, "rb") as data:
        response = await host.http.post("/api/recordings/import", files={"file": ("talk.mp4", data)},
                                        data={"title": "Restart me"})
    assert response.status_code == 202, response.text
    recording_id = response.json()["id"]

    # The host sees the job under way, with progress.
    running = await wait_for(host, recording_id, lambda job: job["state"] == "processing" and job["progress"] > 0)
    assert running["state"] == "processing" and 0 < running["progress"] < 1 and running["attempts"] == 1
    first.kill()
    first_log = first.log_tail(500)
    await host.aclose()

    second = ServerProcess(env=env, port=first.port)
    second.start()
    try:
        host = Api(second.url, host.token, host.member)
        finished = await wait_for(host, recording_id, lambda job: job["state"] in ("ready", "failed"))
        assert finished["state"] == "ready" and finished["recording_state"] == "ready", finished
        assert finished["attempts"] == 2 and finished["error"] is None
        detail = (await host.http.get(f"/api/recordings/{recording_id}")).json()
        video = await host.http.get(next(d["url"] for d in detail["downloads"] if d["kind"] == "video"))
        (tmp_path / "out.mp4").write_bytes(video.content)
        with av.open(str(tmp_path / "out.mp4")) as container:
            assert sorted(s.type for s in container.streams) == ["audio", "video"]
            assert abs(float(container.duration / av.time_base) - 2) <= 1
        second_log = second.log_tail(500)
        both = first_log + second_log
        assert both.count(f"recording {recording_id}: job") - both.count("completed") == 2   # two claims
        assert "completed" not in first_log and second_log.count("completed (attempt 2)") == 1
        await host.aclose()
    finally:
        second.cleanup()
        first.cleanup()
