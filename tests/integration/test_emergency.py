"""Emergency rooms over real sockets on both backends: alerts and acknowledgements, sitreps, 4Ws, audit, access."""

from __future__ import annotations

import csv
import io

from tests.support.client import Api
from tests.support.elements import Elements
from tests.support.emergency import open_emergency, responders

ORGS = ["IFRC", "WHO", "Local NGO"]


def rows_of(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


async def test_alert_is_acknowledged_and_the_coordinator_sees_it_live(server):
    coordinator, bob, carol = await responders([server.url], ORGS)
    room = await open_emergency(coordinator, [bob, carol])
    c, b = await coordinator.connect(server.ws_url), await bob.connect(server.ws_url)
    await c.subscribe(room), await b.subscribe(room)

    refused = await b.request({"type": "alert", "room": room, "client_id": "x1", "body": "I am no coordinator"})
    assert refused["code"] == "forbidden"
    posted = await c.request({"type": "alert", "room": room, "client_id": "al-1", "body": "Evacuate zone B"})
    again = await c.request({"type": "alert", "room": room, "client_id": "al-1", "body": "Evacuate zone B"})
    assert posted["type"] == "ack" and again["seq"] == posted["seq"] and again["duplicate"] is True
    alert = await b.wait_for(lambda f: f["type"] == "alert")
    assert alert["seq"] == posted["seq"] and alert["priority"] == "urgent" and alert["body"] == "Evacuate zone B"

    pending = await b.request({"type": "alerts", "room": room})
    assert [a["seq"] for a in pending["alerts"]] == [posted["seq"]]
    acked = await b.request({"type": "alert.ack", "room": room, "alert": posted["seq"]})
    assert acked["type"] == "ack" and acked["alert"] == posted["seq"] and acked["duplicate"] is False
    twice = await b.request({"type": "alert.ack", "room": room, "alert": posted["seq"]})
    assert twice["duplicate"] is True and twice["seq"] == acked["seq"]
    live = await c.wait_for(lambda f: f["type"] == "alert.ack")
    assert live["alert"] == posted["seq"] and live["sender"]["id"] == bob.id
    assert (await b.request({"type": "alerts", "room": room}))["alerts"] == []

    view = (await coordinator.http.get(f"/api/emergencies/{room}/alerts/{posted['seq']}")).json()
    assert [a["member"]["id"] for a in view["acknowledged"]] == [bob.id]
    assert view["acknowledged"][0]["member"]["organisation"] == "WHO"
    assert [m["id"] for m in view["pending"]] == [carol.id]
    # Members see their own pending alerts, but not the coordinator's view.
    assert (await bob.http.get(f"/api/emergencies/{room}/alerts/{posted['seq']}")).status_code == 403
    carol_pending = (await carol.http.get(f"/api/emergencies/{room}/alerts/pending")).json()["alerts"]
    assert [a["seq"] for a in carol_pending] == [posted["seq"]]
    assert (await carol.http.post(f"/api/emergencies/{room}/alerts/{posted['seq']}/ack")).status_code == 201
    view = (await coordinator.http.get(f"/api/emergencies/{room}/alerts/{posted['seq']}")).json()
    assert view["pending"] == [] and len(view["acknowledged"]) == 2
    await c.close(), await b.close()


async def test_a_member_who_was_away_gets_the_alert_on_resume(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    room = await open_emergency(coordinator, [bob])
    b = await bob.connect(server.ws_url)
    seen = (await b.subscribe(room))["last_seq"]
    await b.close()
    posted = (await coordinator.http.post(f"/api/emergencies/{room}/alerts",
                                          json={"client_id": "while-away", "body": "Road to Tacloban closed"})).json()
    await coordinator.connect(server.ws_url)
    b = await bob.connect(server.ws_url)
    pending = await b.request({"type": "alerts", "room": room})   # before the replay: alerts first
    assert [a["body"] for a in pending["alerts"]] == ["Road to Tacloban closed"]
    await b.subscribe(room, since=seen)
    replayed = [f for f in b.frames if f.get("type") == "alert"]
    assert [f["seq"] for f in replayed] == [posted["seq"]]
    await b.close()


async def test_sitreps_are_versioned_with_history_and_rendered_safely(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    room = await open_emergency(coordinator, [bob])
    b = await bob.connect(server.ws_url)
    await b.subscribe(room)
    url = f"/api/emergencies/{room}/sitrep"
    hostile = ("# Day 1\n<script>alert('x')</script>\n\n<img src=x onerror=alert(1)>\n\n"
               "[click](javascript:alert(1)) and [the plan](https://example.org/plan)\n\n| Area | Needs |\n|---|---|\n| Leyte | PFA |")
    first = await coordinator.http.post(url, json={"title": "Day 1", "body": hostile, "base_version": 0})
    assert first.status_code == 201
    html = first.json()["html"]
    elements = Elements.of(html)
    assert {"script", "img"}.isdisjoint(elements.tags) and {"h1", "table", "a"} <= elements.tags
    assert not [name for _, name, _ in elements.attributes if name.startswith("on") or name == "style"]
    assert [value for tag, name, value in elements.attributes if name == "href"] == ["https://example.org/plan"]
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in html   # shown as text, never run
    event = await b.wait_for(lambda f: f["type"] == "sitrep")
    assert event["version"] == 1 and event["title"] == "Day 1"

    assert (await bob.http.post(url, json={"title": "Mine", "body": "x", "base_version": 1})).status_code == 403
    second = await coordinator.http.post(url, json={"title": "Day 2", "body": "Two teams in Leyte.", "base_version": 1})
    assert second.status_code == 201 and second.json()["version"] == 2
    stale = await coordinator.http.post(url, json={"title": "Late", "body": "from version 1", "base_version": 1})
    assert stale.status_code == 409
    current = (await bob.http.get(url)).json()["sitrep"]
    assert current["version"] == 2 and current["author"]["id"] == coordinator.id
    history = (await bob.http.get(f"/api/emergencies/{room}/sitreps")).json()["versions"]
    assert [v["version"] for v in history] == [2, 1]
    assert "+Two teams in Leyte." in history[0]["changes"] and "-# Day 1" in history[0]["changes"]
    assert (await bob.http.get(f"/api/emergencies/{room}/sitreps/1")).json()["title"] == "Day 1"
    await b.close()


async def test_members_keep_their_own_4w_entries_live_and_coordinators_see_gaps(server):
    coordinator, bob, carol = await responders([server.url], ORGS)
    room = await open_emergency(coordinator, [bob, carol], areas=[{"country": "PH", "admin_area": "Leyte"},
                                                                   {"country": "PH", "admin_area": "Samar"}])
    c = await coordinator.connect(server.ws_url)
    await c.subscribe(room)
    url = f"/api/emergencies/{room}/fourw"
    entry = {"activity": "Psychological first aid", "layer": "Focused, non-specialised supports",
             "country": "ph", "admin_area": "Leyte", "start_date": "2026-11-02"}
    added = await bob.http.post(url, json=entry)
    assert added.status_code == 201, added.text
    mine = added.json()
    assert mine["organisation"] == "WHO" and mine["layer"] == "focused_non_specialised" and mine["country"] == "PH"
    live = await c.wait_for(lambda f: f["type"] == "fourw")
    assert live["action"] == "added" and live["entry"]["id"] == mine["id"]
    await carol.http.post(url, json={**entry, "activity": "Child friendly spaces", "layer": "community_family"})

    assert (await carol.http.patch(f"{url}/{mine['id']}", json={"end_date": "2026-12-01"})).status_code == 403
    changed = await bob.http.patch(f"{url}/{mine['id']}", json={"end_date": "2026-12-01"})
    assert changed.status_code == 200 and changed.json()["end_date"] == "2026-12-01"
    bad = await bob.http.patch(f"{url}/{mine['id']}", json={"end_date": "2026-10-01"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "end_date"
    updated = await c.wait_for(lambda f: f["type"] == "fourw" and f["action"] == "updated")
    assert updated["entry"]["end_date"] == "2026-12-01"

    only_who = (await carol.http.get(url, params={"organisation": "who"})).json()["entries"]
    assert [e["id"] for e in only_who] == [mine["id"]]
    by_layer = (await carol.http.get(url, params={"layer": "community_family"})).json()["entries"]
    assert [e["organisation"] for e in by_layer] == ["Local NGO"]
    on_date = (await carol.http.get(url, params={"active_on": "2026-12-15"})).json()["entries"]
    assert [e["organisation"] for e in on_date] == ["Local NGO"]

    gaps = {(g["country"], g["admin_area"]): g for g in (await carol.http.get(f"{url}/gaps")).json()["areas"]}
    assert gaps[("PH", "Leyte")]["missing_layers"] == ["basic_services", "specialised"]
    assert gaps[("PH", "Samar")]["actors"] == 0 and len(gaps[("PH", "Samar")]["missing_layers"]) == 4
    assert gaps[("PH", "Samar")]["missing_activities"] == ["Child friendly spaces", "Psychological first aid"]
    await c.close()


async def test_4w_csv_export_imports_into_a_fresh_room_as_the_same_table(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    first = await open_emergency(coordinator, [bob])
    url = f"/api/emergencies/{first}/fourw"
    tricky = [
        {"organisation": "=HYPERLINK(\"x\")", "activity": "Helpline, 24/7", "layer": "specialised",
         "country": "PH", "admin_area": "Leyte", "start_date": "2026-11-03", "end_date": "2027-01-31"},
        {"activity": "Community \"safe\" spaces", "layer": "community_family", "country": "PH",
         "admin_area": "Eastern Samar", "start_date": "2026-11-04"},
        {"organisation": "Ospital ng Bayan", "activity": "Mobile clinics; café", "layer": "basic_services",
         "country": "PH", "admin_area": "Biliran", "start_date": "2026-11-05"},
    ]
    for entry in tricky:
        assert (await bob.http.post(url, json=entry)).status_code == 201
    exported = (await coordinator.http.get(f"/api/emergencies/{first}/fourw.csv")).text
    assert exported.splitlines()[0] == "organisation,activity,layer,country,admin_area,start_date,end_date"

    fresh = await open_emergency(coordinator, [], name="Fresh room")
    assert (await bob.http.get(f"/api/emergencies/{fresh}/fourw")).status_code == 404   # not a member
    imported = await coordinator.http.post(f"/api/emergencies/{fresh}/fourw/import", content=exported.encode(),
                                           headers={"content-type": "text/csv"})
    assert imported.status_code == 201 and imported.json() == {"imported": 3}
    again = (await coordinator.http.get(f"/api/emergencies/{fresh}/fourw.csv")).text
    assert rows_of(again) == rows_of(exported) and again == exported
    table = (await coordinator.http.get(f"/api/emergencies/{fresh}/fourw")).json()["entries"]
    assert {e["organisation"] for e in table} == {"=HYPERLINK(\"x\")", "WHO", "Ospital ng Bayan"}


async def test_a_4w_import_with_bad_rows_names_them_and_imports_nothing(server):
    coordinator, = await responders([server.url], ORGS[:1])
    room = await open_emergency(coordinator, [])
    c = await coordinator.connect(server.ws_url)
    head = (await c.subscribe(room))["last_seq"]
    text = ("organisation,activity,layer,country,admin_area,start_date,end_date\r\n"
            "IFRC,PFA,focused_non_specialised,PH,Leyte,2026-11-02,\r\n"
            "WHO,Clinics,layer 9,Philippines,Leyte,02/11/2026,\r\n"
            ",Helpline,specialised,PH,,2026-11-05,2026-11-01\r\n"
            "too,few,cells\r\n")
    response = await coordinator.http.post(f"/api/emergencies/{room}/fourw/import", content=text.encode())
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "csv" and "nothing was imported" in error["message"]
    problems = {(p["row"], p["field"]) for p in error["rows"]}
    assert problems == {(3, "layer"), (3, "country"), (3, "start_date"), (4, "organisation"),
                        (4, "admin_area"), (4, "end_date"), (5, None)}
    assert (await coordinator.http.get(f"/api/emergencies/{room}/fourw")).json()["entries"] == []
    assert (await coordinator.http.get(f"/api/emergencies/{room}")).json()["last_seq"] == head   # no event either
    header = await coordinator.http.post(f"/api/emergencies/{room}/fourw/import", content=b"who,what\r\nx,y\r\n")
    assert header.status_code == 422 and header.json()["error"]["rows"][0]["row"] == 1
    await c.close()


async def test_non_members_see_nothing_over_http_or_the_socket(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    outsider = await Api.register(server.url)
    room = await open_emergency(coordinator, [bob])
    await coordinator.http.post(f"/api/emergencies/{room}/alerts", json={"client_id": "a", "body": "secret"})
    await coordinator.http.post(f"/api/emergencies/{room}/sitrep", json={"title": "t", "body": "b", "base_version": 0})
    base = f"/api/emergencies/{room}"
    for path in ("", "/members", "/alerts", "/alerts/pending", "/alerts/1", "/sitrep", "/sitreps", "/sitreps/1",
                 "/fourw", "/fourw.csv", "/fourw/gaps", "/digest", "/audit.json", "/audit.csv"):
        response = await outsider.http.get(base + path)
        assert response.status_code == 404, (path, response.status_code)
        assert "secret" not in response.text
    for path, body in (("/alerts", {"client_id": "b", "body": "x"}), ("/alerts/1/ack", None),
                       ("/fourw", {"activity": "x"}), ("/members", {"member_id": outsider.id})):
        assert (await outsider.http.post(base + path, json=body)).status_code == 404, path
    assert (await outsider.http.get(f"/api/rooms/{room}")).status_code == 404
    assert (await outsider.join(room)).status_code == 404
    assert room not in [e["id"] for e in (await outsider.http.get("/api/emergencies")).json()["emergencies"]]
    assert room not in [r["id"] for r in (await outsider.http.get("/api/rooms?scope=public")).json()["rooms"]]
    o = await outsider.connect(server.ws_url)
    for frame in ({"type": "subscribe", "room": room}, {"type": "alerts", "room": room},
                  {"type": "alert", "room": room, "client_id": "z", "body": "x"},
                  {"type": "alert.ack", "room": room, "alert": 1}):
        reply = await o.request(frame)
        assert reply["type"] == "error" and reply["code"] == "not_found", reply
    assert not [f for f in o.frames if f.get("type") in ("alert", "sitrep")]
    assert (await outsider.http.get(f"/emergencies/{room}")).status_code == 404
    await o.close()


async def test_the_audit_trail_of_a_closed_room_is_exported_by_coordinators(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    room = await open_emergency(coordinator, [bob])
    b = await bob.connect(server.ws_url)
    await b.subscribe(room)
    said = await b.say(room, "Team 2 arrived in Palo")
    await b.request({"type": "edit", "room": room, "target": said["seq"], "body": "Team 2 arrived in Palo, Leyte"})
    alert = (await coordinator.http.post(f"/api/emergencies/{room}/alerts",
                                         json={"client_id": "a1", "body": "Aftershock expected"})).json()
    await b.request({"type": "alert.ack", "room": room, "alert": alert["seq"]})
    await coordinator.http.post(f"/api/emergencies/{room}/sitrep", json={"title": "D1", "body": "ok", "base_version": 0})
    await bob.http.post(f"/api/emergencies/{room}/fourw", json={"activity": "PFA", "layer": "specialised",
                                                                "country": "PH", "admin_area": "Leyte",
                                                                "start_date": "2026-11-02"})
    assert (await bob.http.post(f"/api/rooms/{room}/leave")).status_code == 204
    closed = await coordinator.http.patch(f"/api/emergencies/{room}", json={"status": "closed"})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    refused = await coordinator.http.post(f"/api/emergencies/{room}/alerts", json={"client_id": "a2", "body": "late"})
    assert refused.status_code == 403
    c = await coordinator.connect(server.ws_url)
    assert (await c.say(room, "after closing"))["code"] == "forbidden"   # the chat is read-only too
    await c.close()

    exported = (await coordinator.http.get(f"/api/emergencies/{room}/audit.json")).json()
    entries = exported["entries"]
    assert exported["emergency"]["status"] == "closed"
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))   # gap-free: nothing missing
    assert [e["action"] for e in entries] == [
        "membership.added", "message", "message.edited", "alert", "alert.ack", "sitrep", "fourw",
        "membership.left", "emergency"]
    assert entries[1]["details"]["body"] == "Team 2 arrived in Palo, Leyte" and entries[1]["actor_id"] == bob.id
    assert entries[4]["details"] == {"alert": alert["seq"]} and entries[4]["actor"] == bob.member["display_name"]
    assert entries[8]["details"]["status"] == "closed"
    as_csv = rows_of((await coordinator.http.get(f"/api/emergencies/{room}/audit.csv")).text)
    assert [row["action"] for row in as_csv] == [e["action"] for e in entries]
    assert [int(row["seq"]) for row in as_csv] == [e["seq"] for e in entries]
    # Bob left: he sees nothing now; while a member he could not export either.
    assert (await bob.http.get(f"/api/emergencies/{room}/audit.json")).status_code == 404
    await b.close()


async def test_only_coordinators_export_the_audit_trail(server):
    coordinator, bob = await responders([server.url], ORGS[:2])
    room = await open_emergency(coordinator, [bob])
    assert (await bob.http.get(f"/api/emergencies/{room}/audit.csv")).status_code == 403
    await coordinator.http.post(f"/api/emergencies/{room}/members", json={"member_id": bob.id, "coordinator": True})
    assert (await bob.http.get(f"/api/emergencies/{room}/audit.csv")).status_code == 200
    members = (await bob.http.get(f"/api/emergencies/{room}/members")).json()["members"]
    assert {m["organisation"]: m["coordinator"] for m in members} == {"IFRC": True, "WHO": True}
