"""`make run` on a checkout: the service comes up with the embedded default and the demo rooms."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from tests.support.services import REPO_ROOT, free_port


def test_make_run_serves_health_and_the_demo_rooms(tmp_path):
    port = free_port()
    env = {**os.environ, "PORT": str(port), "CONVENE_DATA_DIR": str(tmp_path / "data"),
           "DATABASE_URL": "", "REDIS_URL": ""}
    log = open(tmp_path / "make-run.log", "wb")
    process = subprocess.Popen(["make", "run"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "make-run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "make run did not serve /healthz in time"
            time.sleep(0.3)
        token = httpx.post(base + "/api/auth/token", json={"username": "amina", "password": "convene-demo"})
        assert token.status_code == 201, token.text
        headers = {"Authorization": f"Bearer {token.json()['token']}"}
        rooms = httpx.get(base + "/api/rooms", headers=headers).json()["rooms"]
        names = {room["name"] for room in rooms}
        assert "Welcome" in names
        welcome = next(room for room in rooms if room["name"] == "Welcome")
        messages = httpx.get(f"{base}/api/rooms/{welcome['id']}/messages", headers=headers).json()["messages"]
        assert messages, "the demo rooms should hold a few messages"
        assert httpx.get(base + "/login").status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
