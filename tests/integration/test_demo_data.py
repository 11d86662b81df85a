"""What `make run` seeds (python -m rooms.demo) shows a newcomer moderation and an emergency room at work,
and the top navigation offers Emergencies to members of one, Admin to site admins."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from rooms.demo import PASSWORD
from tests.conftest import embedded_env
from tests.support.services import REPO_ROOT, ServerProcess


@pytest.fixture(scope="module")
def demo() -> Iterator[ServerProcess]:
    env = embedded_env(Path(tempfile.mkdtemp(prefix="convene-demo-")))
    seeded = subprocess.run([sys.executable, "-m", "rooms.demo"], cwd=REPO_ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    process = ServerProcess(env=env)
    process.start()
    yield process
    process.cleanup()


async def logged_in(server: ServerProcess, username: str) -> httpx.AsyncClient:
    http = httpx.AsyncClient(base_url=server.url, timeout=15)
    token = await http.post("/api/auth/token", json={"username": username, "password": PASSWORD})
    assert token.status_code == 201, token.text
    http.headers["Authorization"] = f"Bearer {token.json()['token']}"
    return http


async def test_the_demo_has_a_moderator_with_a_report_waiting(demo):
    kofi = await logged_in(demo, "kofi")
    welcome = next(r for r in (await kofi.get("/api/rooms")).json()["rooms"] if r["name"] == "Welcome")
    assert welcome["role"] == "moderator"
    queue = (await kofi.get(f"/api/rooms/{welcome['id']}/reports")).json()["reports"]
    assert len(queue) == 1 and queue[0]["message"]["sender"]["display_name"] == "Quick Cure Offers"
    page = await kofi.get(f"/rooms/{welcome['id']}/moderation")
    assert page.status_code == 200 and "herbal drops" in page.text
    trail = (await kofi.get(f"/api/rooms/{welcome['id']}/audit")).json()["entries"]
    assert [e["action"] for e in trail] == ["moderation.role"]
    amina = await logged_in(demo, "amina")
    assert len((await amina.get("/api/admin/reports")).json()["reports"]) == 1
    await kofi.aclose(), await amina.aclose()


async def test_the_demo_has_an_emergency_room_with_an_alert_a_sitrep_and_4w_rows(demo):
    tomas = await logged_in(demo, "tomas")
    (emergency,) = (await tomas.get("/api/emergencies")).json()["emergencies"]
    base = f"/api/emergencies/{emergency['id']}"
    assert [a["body"][:20] for a in (await tomas.get(base + "/alerts/pending")).json()["alerts"]] == [
        "Road to the Dadu cam"]
    assert (await tomas.get(base + "/sitrep")).json()["sitrep"]["title"] == "Situation report 1"
    assert len((await tomas.get(base + "/fourw")).json()["entries"]) == 3
    dashboard = await tomas.get(f"/emergencies/{emergency['id']}")
    assert dashboard.status_code == 200 and "Peer support groups" in dashboard.text
    await tomas.aclose()


async def test_the_navigation_shows_emergencies_and_admin_to_those_they_concern(demo):
    amina, kofi, quickcure = [await logged_in(demo, name) for name in ("amina", "kofi", "quickcure")]
    for client, emergencies, admin in ((amina, True, True), (kofi, True, False), (quickcure, False, False)):
        page = (await client.get("/rooms")).text
        nav = page[page.index('class="tabs"'):page.index("</nav>", page.index('class="tabs"'))]
        assert ('href="/emergencies"' in nav) is emergencies
        assert ('href="/admin"' in nav) is admin
        await client.aclose()
