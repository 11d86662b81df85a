"""`python -m rooms.demo` on a fresh data directory: an upcoming webinar with registrations, and a past one whose
recording plays (a range request on its media, decoded with PyAV), with its chat replay and captions."""

from __future__ import annotations

import os
import subprocess
import sys

import av
import httpx

from tests.conftest import embedded_env
from tests.support.services import REPO_ROOT, ServerProcess


def test_the_demo_has_an_upcoming_webinar_and_a_past_one_whose_recording_plays(tmp_path):
    env = embedded_env(tmp_path / "data")
    seeded = subprocess.run([sys.executable, "-m", "rooms.demo"], cwd=REPO_ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=180)
    assert seeded.returncode == 0 and "Demo data created." in seeded.stdout, seeded.stderr[-3000:]
    server = ServerProcess(env=env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=15) as anonymous:
            token = anonymous.post("/api/auth/token", json={"username": "amina", "password": "convene-demo"})
            assert token.status_code == 201, token.text
        with httpx.Client(base_url=server.url, timeout=30,
                          headers={"Authorization": f"Bearer {token.json()['token']}"}) as http:
            webinars = http.get("/api/webinars").json()["webinars"]
            upcoming = [w for w in webinars if w["state"] == "scheduled"]
            past = [w for w in webinars if w["state"] == "ended"]
            assert len(upcoming) == 1 and len(past) == 1, webinars
            # The upcoming one: co-hosts, a panelist and registrations (amina is one of its hosts).
            ahead = http.get(f"/api/webinars/{upcoming[0]['id']}/summary").json()
            assert ahead["registrations"] == 4
            hosts = http.get(f"/api/webinars/{upcoming[0]['id']}/hosts").json()["hosts"]
            assert {h["username"] for h in hosts} == {"amina", "priya"}
            # The past one: its summary, and its recording.
            done = http.get(f"/api/webinars/{past[0]['id']}/summary").json()
            assert done["attendance"]["peak_concurrent_viewers"] == 4 and done["attendance"]["joined"] == 4
            assert done["questions"]["answered"] == 1 and done["polls"][0]["votes"] == 3
            found = http.get("/api/recordings").json()["recordings"]
            recording = next(r for r in found if r["webinar_id"] == past[0]["id"])
            assert recording["state"] == "ready" and recording["has_video"] is True
            detail = http.get(f"/api/recordings/{recording['id']}").json()
            video = next(d for d in detail["downloads"] if d["name"] == "video.mp4")
            part = http.get(video["url"], headers={"Range": "bytes=0-1023"})
            assert part.status_code == 206 and len(part.content) == 1024
            assert part.headers["content-range"] == f"bytes 0-1023/{video['bytes']}"
            whole = http.get(video["url"])
            assert whole.status_code == 200 and len(whole.content) == video["bytes"]
            (tmp_path / "video.mp4").write_bytes(whole.content)
            with av.open(str(tmp_path / "video.mp4")) as container:
                pictures = sum(1 for _ in container.decode(video=0))
            with av.open(str(tmp_path / "video.mp4")) as container:
                sound = sum(1 for _ in container.decode(audio=0))
            assert pictures >= 100 and sound > 0 and 7 <= detail["duration_s"] <= 9   # an 8 s clip at 25 fps
            # Captions (WebVTT) in two languages, and the chat replay beside the recording.
            assert {c["language"] for c in detail["captions"]} == {"en", "fr"}
            vtt = http.get(detail["captions"][0]["url"])
            assert vtt.status_code == 200 and vtt.text.startswith("WEBVTT")
            replay = http.get(f"/api/recordings/{recording['id']}/replay").json()["events"]
            said = [e for e in replay if e["kind"] == "message"]
            assert len(said) == 3 and all(0 < e["t"] < 8 for e in said), replay
            assert any(e["kind"] == "question" for e in replay)
            assert http.get(f"/recordings/{recording['id']}").status_code == 200   # the player page
    finally:
        server.cleanup()
