"""The hosts' summary, with viewers on two processes (Postgres + Redis): registrations, attendance, peak concurrent
viewers added up across processes, questions and poll results; as JSON and as CSV that parses."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta, timezone

import asyncpg
import httpx

from tests.support.client import Api


async def _exports(url: str) -> float:
    async with httpx.AsyncClient(base_url=url) as http:
        text = (await http.get("/metrics")).text
    line = next(line for line in text.splitlines() if line.startswith("convene_webinar_summaries_exported_total "))
    return float(line.split()[1])


async def test_the_summary_counts_what_happened_with_viewers_on_two_processes(cluster, postgres):
    first, second = cluster
    host = await Api.register(first.url)
    starts = datetime.now(timezone.utc)
    created = await host.http.post("/api/webinars", json={
        "title": "=HYPERLINK(\"x\") day", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "members"})
    wid, room = created.json()["id"], created.json()["room"]
    base = f"/api/webinars/{wid}"
    people = [await Api.register(first.url) for _ in range(7)]
    for person in people:
        assert (await person.http.post(base + "/register")).status_code == 200
    assert (await host.http.post(base + "/start")).status_code == 200
    for person in people[:6]:
        assert (await person.http.post(base + "/join")).status_code == 200
    assert (await people[5].http.post(base + "/leave")).json() == {"left": True}

    # Five people have the live page open at once: three on one process, two on the other.
    viewers = []
    for person, process in zip(people[:5], (first, first, first, second, second)):
        client = await person.connect(process.ws_url)
        assert (await client.subscribe(room))["type"] == "subscribed"
        viewers.append(client)
    await asyncio.sleep(1.6)   # WEBINAR_VIEWERS_SAMPLE_S is 0.5 in tests: a few instants with all five
    for client in viewers[:3]:
        await client.close()
    await asyncio.sleep(1.1)

    asked = [await people[i].http.post(base + "/questions", json={"body": f"Question {i}"}) for i in range(3)]
    for question in asked[:2]:
        assert (await host.http.patch(f"{base}/questions/{question.json()['id']}",
                                      json={"state": "answered"})).status_code == 200
    poll = (await host.http.post(base + "/polls", json={"question": "Will you use it?",
                                                        "options": ["yes", "no", "=maybe"]})).json()
    for person, option in zip(people[:4], (0, 0, 0, 1)):
        assert (await person.http.post(f"{base}/polls/{poll['id']}/vote", json={"option": option})).status_code == 200
    assert (await host.http.post(base + "/end")).status_code == 200

    summary = (await host.http.get(base + "/summary")).json()
    assert summary["registrations"] == 8 and summary["removed"] == 0   # the host is registered too
    attendance = summary["attendance"]
    assert attendance["joined"] == 6
    assert attendance["peak_concurrent_viewers"] == 5, attendance["concurrency"]
    assert [c["viewers"] for c in attendance["concurrency"]][-1] == 2
    assert summary["questions"] == {"asked": 3, "open": 1, "answered": 2, "dismissed": 0}
    assert summary["polls"] == [{"id": poll["id"], "question": "Will you use it?", "state": "open", "votes": 4,
                                 "results": [{"option": "yes", "votes": 3}, {"option": "no", "votes": 1},
                                             {"option": "=maybe", "votes": 0}]}]
    # The peak adds up two processes' samples of the same instant.
    conn = await asyncpg.connect(postgres.url)
    try:
        rows = await conn.fetch("SELECT at, process, viewers FROM webinar_viewer_samples WHERE webinar_id = $1", wid)
    finally:
        await conn.close()
    by_instant: dict = {}
    for row in rows:
        by_instant.setdefault(row["at"], {})[row["process"]] = row["viewers"]
    assert {3, 2} in [set(samples.values()) for samples in by_instant.values() if len(samples) == 2]

    # The CSV: four columns, the same numbers, cells a spreadsheet would run defused.
    exported = await _exports(first.url)
    download = await host.http.get(base + "/summary.csv")
    assert download.headers["content-disposition"] == f'attachment; filename="webinar-{wid}-summary.csv"'
    rows = list(csv.reader(io.StringIO(download.text)))
    assert rows[0] == ["section", "item", "detail", "value"] and all(len(r) == 4 for r in rows)
    cells = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
    assert cells[("webinar", "title", "")] == "'=HYPERLINK(\"x\") day"
    assert cells[("registrations", "registered", "")] == "8"
    assert cells[("attendance", "joined", "")] == "6"
    assert [v for (s, i, _), v in cells.items() if (s, i) == ("attendance", "peak_concurrent_viewers")] == ["5"]
    assert cells[("questions", "asked", "")] == "3" and cells[("questions", "answered", "")] == "2"
    assert cells[("poll", "Will you use it?", "yes")] == "3" and cells[("poll", "Will you use it?", "'=maybe")] == "0"
    assert cells[("poll_votes", "Will you use it?", "")] == "4"
    assert max(int(v) for (s, _, _), v in cells.items() if s == "viewers") == 5
    # Only hosts see it; each download is counted.
    assert (await people[0].http.get(base + "/summary.csv")).status_code == 403
    assert await _exports(first.url) == exported + 1
    for client in viewers[3:]:
        await client.close()
