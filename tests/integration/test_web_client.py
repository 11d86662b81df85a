"""What the web client's screens need from the server (issue 19), on both backends and across two processes:
the hosts' live audience (`audience` frames), the count of alerts awaiting a member's acknowledgement, the
theme and time zone a member chose, the top navigation and the room page's "new messages" line."""

from __future__ import annotations

import asyncio
import json
import re
import uuid

import httpx
from websockets.sync.client import connect

from tests.integration.test_pages import register, send_message
from tests.support.client import Api, ChatClient
from tests.support.services import ServerProcess

QUIET_S = 0.5   # how long a socket is watched to show that a frame did not come

# Who may use the routes this adds is in the authorization matrix (tests/integration/test_authorization_matrix.py:
# GET /keyboard, GET /api/emergencies/awaiting, the theme in POST /settings); the `audience` frame is a
# server frame, and who receives it is checked here.


async def live_webinar(host: Api, *attendees: Api, panelist: Api | None = None) -> dict:
    response = await host.http.post("/api/webinars", json={
        "title": "Supervision for lay counsellors", "starts_at": "2030-01-15T10:00:00Z",
        "ends_at": "2030-01-15T11:00:00Z"})
    assert response.status_code == 201, response.text
    webinar = response.json()
    base = f"/api/webinars/{webinar['id']}"
    if panelist is not None:
        assert (await host.http.post(base + "/panelists", json={"member_id": panelist.id})).status_code == 204
    assert (await host.http.post(base + "/start")).status_code == 200
    for attendee in attendees:
        assert (await attendee.http.post(base + "/register")).status_code == 200
    return webinar


def audience(client: ChatClient, member: int, present: bool, start: int = 0):
    return client.wait_for(lambda f: f["type"] == "audience" and f["member"]["id"] == member
                           and f["present"] is present, start=start)


async def nothing_more(client: ChatClient, kind: str, start: int) -> None:
    await asyncio.sleep(QUIET_S)
    assert [f for f in client.frames[start:] if f["type"] == kind] == []


async def test_hosts_and_panelists_hear_who_arrives_on_the_live_page_and_leaves_it(server):
    host, panelist, kofi, amina = [await Api.register(server.url) for _ in range(4)]
    webinar = await live_webinar(host, kofi, amina, panelist=panelist)
    base = f"/api/webinars/{webinar['id']}"
    watching = {name: await who.connect(server.ws_url)
                for name, who in (("host", host), ("panelist", panelist), ("amina", amina))}

    assert (await kofi.http.post(base + "/join")).status_code == 200
    for name in ("host", "panelist"):
        frame = await audience(watching[name], kofi.id, True)
        assert frame == {"type": "audience", "room": webinar["room"], "webinar": webinar["id"],
                         "member": {"id": kofi.id, "username": kofi.member["username"],
                                    "display_name": kofi.member["display_name"]}, "present": True}
    # A second tab (a visit already open) says nothing new; attendees hear nothing of each other.
    seen = len(watching["host"].frames)
    assert (await kofi.http.post(base + "/join")).status_code == 200
    await nothing_more(watching["host"], "audience", seen)
    await nothing_more(watching["amina"], "audience", 0)

    assert (await kofi.http.post(base + "/leave")).status_code == 200
    await audience(watching["host"], kofi.id, False)
    await audience(watching["panelist"], kofi.id, False)
    # Leaving twice closes nothing twice.
    seen = len(watching["host"].frames)
    assert (await kofi.http.post(base + "/leave")).json() == {"left": False}
    await nothing_more(watching["host"], "audience", seen)
    for client in watching.values():
        await client.close()


async def test_the_audience_reaches_a_host_on_another_process(cluster):
    first, second = cluster
    host = await Api.register(first.url)
    kofi = await Api.register(second.url, password="correct horse")
    webinar = await live_webinar(host, kofi)
    watching = await host.connect(second.ws_url)   # the host's socket on the other process
    assert (await kofi.http.post(f"/api/webinars/{webinar['id']}/join")).status_code == 200
    await audience(watching, kofi.id, True)
    await watching.close()


async def test_the_alerts_awaiting_a_members_acknowledgement_are_counted_over_their_emergency_rooms(server):
    coordinator, member, outsider = [await Api.register(server.url) for _ in range(3)]
    rooms = []
    for name in ("Cyclone response", "Cholera response"):
        response = await coordinator.http.post("/api/emergencies", json={
            "name": name, "region": "Sofala", "started_on": "2026-11-01", "areas": []})
        assert response.status_code == 201, response.text
        rooms.append(response.json()["id"])
        added = await coordinator.http.post(f"/api/emergencies/{rooms[-1]}/members", json={"member_id": member.id})
        assert added.status_code in (200, 201, 204), added.text

    async def awaiting(who: Api):
        response = await who.http.get("/api/emergencies/awaiting")
        assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
        return response.json()["awaiting"]

    assert await awaiting(outsider) is None   # no Emergencies link for them
    assert await awaiting(member) == 0
    seqs = []
    for room in rooms + rooms[:1]:
        posted = await coordinator.http.post(f"/api/emergencies/{room}/alerts",
                                             json={"client_id": uuid.uuid4().hex, "body": "Use the northern route"})
        assert posted.status_code in (200, 201), posted.text
        seqs.append((room, posted.json()["seq"]))
    assert await awaiting(member) == 3
    assert await awaiting(coordinator) == 0   # their own alerts wait for others
    room, seq = seqs[0]
    assert (await member.http.post(f"/api/emergencies/{room}/alerts/{seq}/ack")).status_code in (200, 201)
    assert await awaiting(member) == 2
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        assert (await anonymous.get("/api/emergencies/awaiting")).status_code == 401


async def test_the_theme_is_a_preference_of_the_member(server):
    member = await Api.register(server.url)
    assert (await member.http.get("/api/me/preferences")).json()["theme"] == ""
    saved = await member.http.put("/api/me/preferences", json={"theme": "dark"})
    assert saved.status_code == 200 and saved.json()["theme"] == "dark"
    assert (await member.http.put("/api/me/preferences", json={"theme": "purple"})).status_code == 422
    assert (await member.http.get("/api/me/preferences")).json()["theme"] == "dark"


def test_pages_carry_the_members_theme_time_zone_and_navigation(server: ServerProcess):
    client = register(server, "Amina")
    page = client.get("/rooms").text
    assert "data-theme" not in page.split("<head>")[0]                      # the device decides
    assert 'content="light dark"' in page
    assert 'aria-current="page">Rooms' in page
    assert 'href="/recordings"' in page and 'href="/emergencies"' not in page
    # The settings page saves the theme in the profile and in a cookie for this device's login page.
    saved = client.post("/settings", data={"display_name": "Amina", "theme": "dark", "language": ""})
    assert saved.status_code == 303 and client.cookies.get("convene_theme") == "dark"
    assert re.search(r'<html lang="en" dir="ltr" data-theme="dark">', client.get("/rooms").text)
    assert client.put("/api/me/preferences", json={"time_zone": "America/Bogota"}).status_code == 200
    page = client.get("/keyboard").text
    assert 'data-tz="America/Bogota"' in page and "Keyboard shortcuts" in page
    client.post("/logout")
    login = client.get("/login").text
    assert 'data-theme="dark"' in login                                     # the cookie, before log-in


def test_the_room_page_draws_the_new_messages_line_at_the_read_marker(server: ServerProcess):
    writer, reader = register(server, "Tomás"), register(server, "Priya")
    room = int(writer.post("/rooms/new", data={"name": "Notes", "visibility": "public", "topic": ""})
               .headers["location"].rsplit("/", 1)[1])
    assert reader.post(f"/rooms/{room}/join").status_code == 303
    first = send_message(server, writer, room, "before")
    page = reader.get(f"/rooms/{room}").text
    assert page.count('class="unread-line"') == 1 and page.index('id="unread"') < page.index(f'id="m-{first}"')
    # Read up to the first message; another arrives: the line sits between them.
    cookie = "; ".join(f"{k}={v}" for k, v in reader.cookies.items())
    with connect(server.ws_url, origin=server.url, additional_headers={"Cookie": cookie}, proxy=None) as ws:
        json.loads(ws.recv(timeout=10))
        ws.send(json.dumps({"type": "read", "room": room, "seq": first, "ref": "r"}))
        assert json.loads(ws.recv(timeout=10))["type"] == "read"
    second = send_message(server, writer, room, "after")
    page = reader.get(f"/rooms/{room}").text
    line = page.index('id="unread"')
    assert page.index(f'id="m-{first}"') < line < page.index(f'id="m-{second}"')
    assert 'href="#unread"' in page
    # The writer's own page has no line: their own messages are not news to them.
    assert 'id="unread"' not in writer.get(f"/rooms/{room}").text
