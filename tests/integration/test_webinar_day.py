"""The host's day on both backends: several hosts, breakout groups (by hand, at random, their chat rooms,
broadcasts, the timer, calling everyone back), and who may do each of these (HOST_DAY_ROWS)."""

from __future__ import annotations

import asyncio
import csv
import io
import time
from datetime import datetime, timedelta, timezone

import httpx

from tests.support.client import Api, ChatClient

# Who may do what in the host's day, with the parts the authorization matrix (tests/integration/
# test_authorization_matrix.py, which has a row for every new route and frame) does not play: a co-host, the
# members of breakout groups, a group's chat room. By who calls, what they get (an HTTP status, or a reply frame
# type or error code).
# "host" is the creator; "co-host" a host the creator added. Rows marked with an open round run while breakout
# groups are open (the runner opens and closes them around each row as needed).
HOST_DAY_ROWS: list[tuple[str, str, int | str]] = [
    ("GET /api/webinars/{id}/hosts", "registrant", 200),
    ("GET /api/webinars/{id}/hosts", "not registered", 200),
    ("GET /api/webinars/{id}/hosts", "logged out", 401),
    ("POST /api/webinars/{id}/hosts", "host", 200),
    ("POST /api/webinars/{id}/hosts", "co-host", 403),
    ("POST /api/webinars/{id}/hosts", "panelist", 403),
    ("POST /api/webinars/{id}/hosts", "registrant", 403),
    ("POST /api/webinars/{id}/hosts", "logged out", 401),
    ("DELETE /api/webinars/{id}/hosts/{member}", "co-host", 403),
    ("DELETE /api/webinars/{id}/hosts/{member}", "registrant", 403),
    ("DELETE /api/webinars/{id}/hosts/{member}", "host", 200),
    ("GET /api/webinars/{id}/summary", "host", 200),
    ("GET /api/webinars/{id}/summary", "co-host", 200),
    ("GET /api/webinars/{id}/summary", "panelist", 403),
    ("GET /api/webinars/{id}/summary", "registrant", 403),
    ("GET /api/webinars/{id}/summary", "logged out", 401),
    ("GET /api/webinars/{id}/summary.csv", "co-host", 200),
    ("GET /api/webinars/{id}/summary.csv", "registrant", 403),
    ("GET /api/webinars/{id}/breakouts", "registrant", 200),
    ("GET /api/webinars/{id}/breakouts", "not registered", 403),
    ("GET /api/webinars/{id}/breakouts", "logged out", 401),
    ("POST /api/webinars/{id}/breakouts", "co-host", 201),
    ("POST /api/webinars/{id}/breakouts", "panelist", 403),
    ("POST /api/webinars/{id}/breakouts", "registrant", 403),
    ("POST /api/webinars/{id}/breakouts", "not registered", 403),
    ("POST /api/webinars/{id}/breakouts", "logged out", 401),
    ("POST /api/webinars/{id}/breakouts (open round)", "host", 409),
    ("POST /api/webinars/{id}/breakouts/broadcast (open round)", "co-host", 200),
    ("POST /api/webinars/{id}/breakouts/broadcast (open round)", "panelist", 403),
    ("POST /api/webinars/{id}/breakouts/broadcast (open round)", "registrant", 403),
    ("POST /api/webinars/{id}/breakouts/broadcast", "host", 409),
    ("POST /api/webinars/{id}/breakouts/close (open round)", "panelist", 403),
    ("POST /api/webinars/{id}/breakouts/close (open round)", "registrant", 403),
    ("POST /api/webinars/{id}/breakouts/close (open round)", "co-host", 200),
    ("POST /api/webinars/{id}/breakouts/close", "host", 409),
    ("breakout.open", "host", "breakout.opened"),
    ("breakout.open", "panelist", "forbidden"),
    ("breakout.open", "registrant", "forbidden"),
    ("breakout.open", "not registered", "forbidden"),
    ("breakout.broadcast (open round)", "host", "breakout.sent"),
    ("breakout.broadcast (open round)", "panelist", "forbidden"),
    ("breakout.broadcast (open round)", "registrant", "forbidden"),
    ("breakout.close (open round)", "registrant", "forbidden"),
    ("breakout.close (open round)", "host", "breakout.closed"),
    ("subscribe to a group's room (open round)", "member of the group", "subscribed"),
    ("subscribe to a group's room (open round)", "host", "subscribed"),
    ("subscribe to a group's room (open round)", "member of another group", "not_found"),
    ("subscribe to a group's room (open round)", "registrant", "not_found"),
    ("send to a group's room (open round)", "member of the group", "ack"),
    ("send to a group's room, after the round", "member of the group", "forbidden"),
]


def _times(minutes: int = 60) -> dict:
    starts = datetime.now(timezone.utc)
    return {"starts_at": starts.isoformat(), "ends_at": (starts + timedelta(minutes=minutes)).isoformat()}


async def _webinar(server, attendees: int, *, start: bool = True) -> tuple[Api, int, list[Api]]:
    host = await Api.register(server.url)
    response = await host.http.post("/api/webinars", json={"title": "Practice groups", "visibility": "public",
                                                           **_times()})
    assert response.status_code == 201, response.text
    wid = response.json()["id"]
    people = [await Api.register(server.url) for _ in range(attendees)]
    for person in people:
        assert (await person.http.post(f"/api/webinars/{wid}/register")).status_code == 200
    if start:
        assert (await host.http.post(f"/api/webinars/{wid}/start")).status_code == 200
    return host, wid, people


async def test_a_co_host_does_what_the_host_does_and_the_last_host_stays(server):
    creator, wid, (cohost, panelist, attendee, other) = await _webinar(server, 4, start=False)
    base = f"/api/webinars/{wid}"
    added = await creator.http.post(base + "/hosts", json={"member_id": cohost.id})
    assert added.json() == {"member_id": cohost.id, "host": True, "changed": True}
    again = await creator.http.post(base + "/hosts", json={"member_id": cohost.id})
    assert again.json()["changed"] is False
    listed = (await attendee.http.get(base + "/hosts")).json()
    assert [h["id"] for h in listed["hosts"]] == [creator.id, cohost.id] and listed["can_manage"] is False
    assert (await creator.http.get(base + "/hosts")).json()["can_manage"] is True
    detail = (await cohost.http.get(base)).json()
    assert detail["role"] == "host" and detail["creator"] is False

    # Everything a host does, the co-host does: panelists, start, speakers, polls, mute, removal, end, summary.
    assert (await cohost.http.post(base + "/panelists", json={"member_id": panelist.id})).status_code == 204
    assert (await cohost.http.post(base + "/start")).status_code == 200
    assert (await cohost.http.post(base + "/speakers", json={"member_id": attendee.id})).status_code == 204
    assert (await cohost.http.post(base + "/mute", json={"member_id": attendee.id, "muted": True})).status_code == 200
    poll = await cohost.http.post(base + "/polls", json={"question": "Useful?", "options": ["yes", "no"]})
    assert poll.status_code == 201
    assert (await cohost.http.post(base + "/remove", json={"member_id": other.id})).json()["changed"] is True
    # A co-host cannot be removed from the webinar like an attendee, and does not manage hosts.
    assert (await panelist.http.post(base + "/remove", json={"member_id": cohost.id})).status_code == 403
    assert (await cohost.http.post(base + "/hosts", json={"member_id": attendee.id})).status_code == 403
    assert (await cohost.http.delete(f"{base}/hosts/{creator.id}")).status_code == 403

    # The creator takes the co-host's role back; they stay registered, in the audience.
    client = await attendee.connect(server.ws_url)
    room = detail["room"]
    await client.subscribe(room)
    removed = await creator.http.delete(f"{base}/hosts/{cohost.id}")
    assert removed.json() == {"member_id": cohost.id, "host": False, "changed": True}
    event = await client.wait_for(lambda f: f["type"] == "host" and f["room"] == room)
    assert event["member"]["id"] == cohost.id and event["host"] is False
    after = (await cohost.http.get(base)).json()
    assert after["role"] is None and after["registered"] is True
    assert (await cohost.http.post(base + "/end")).status_code == 403
    # The last host cannot be removed, whoever asks — not even the creator removing themselves.
    last = await creator.http.delete(f"{base}/hosts/{creator.id}")
    assert last.status_code == 409 and last.json()["error"]["field"] == "member_id"
    assert [h["id"] for h in (await creator.http.get(base + "/hosts")).json()["hosts"]] == [creator.id]
    # With a second host, the creator may step back to the audience, and still manages the hosts.
    assert (await creator.http.post(base + "/hosts", json={"member_id": panelist.id})).status_code == 200
    assert (await creator.http.delete(f"{base}/hosts/{creator.id}")).json()["changed"] is True
    assert (await creator.http.post(base + "/hosts", json={"member_id": creator.id})).json()["changed"] is True
    # Two removals at once leave one host, never none.
    results = await asyncio.gather(creator.http.delete(f"{base}/hosts/{creator.id}"),
                                   creator.http.delete(f"{base}/hosts/{panelist.id}"))
    assert sorted(r.status_code for r in results) == [200, 409]
    assert len((await creator.http.get(base + "/hosts")).json()["hosts"]) == 1
    await client.close()


async def test_breakout_groups_by_hand_have_their_own_chat_rooms_and_broadcasts_and_end_on_call_back(server):
    host, wid, people = await _webinar(server, 4)
    base = f"/api/webinars/{wid}"
    a1, a2, b1, b2 = people
    opened = await host.http.post(base + "/breakouts", json={"groups": [[a1.id, a2.id], [b1.id, b2.id]],
                                                             "duration_s": 600, "warning_s": 60})
    assert opened.status_code == 201, opened.text
    breakout = opened.json()
    group_a, group_b = breakout["groups"]
    assert group_a["members"] == sorted([a1.id, a2.id]) and group_b["members"] == sorted([b1.id, b2.id])
    assert breakout["state"] == "open" and group_a["room"] != group_b["room"]
    # Everyone taking part sees the round; the room's event names the groups.
    assert (await b1.http.get(base + "/breakouts")).json()["breakout"]["id"] == breakout["id"]
    room = (await host.http.get(base)).json()["room"]
    # A group's chat is a room like any other: its members and the hosts, private, resumable.
    rooms_of_a1 = {r["id"]: r for r in (await a1.http.get("/api/rooms")).json()["rooms"]}
    assert rooms_of_a1[group_a["room"]]["kind"] == "breakout" and group_b["room"] not in rooms_of_a1
    members = {m["id"] for m in (await host.http.get(f"/api/rooms/{group_a['room']}/members")).json()["members"]}
    assert members == {a1.id, a2.id, host.id}
    a1_ws, a2_ws, b1_ws = [await p.connect(server.ws_url) for p in (a1, a2, b1)]
    for client, group in ((a1_ws, group_a), (a2_ws, group_a), (b1_ws, group_b)):
        assert (await client.subscribe(group["room"]))["type"] == "subscribed"
    said = await a1_ws.say(group_a["room"], "Let us start with the case")
    assert said["type"] == "ack"
    await a2_ws.wait_for(lambda f: f["type"] == "message" and f.get("room") == group_a["room"])
    # A host's broadcast reaches every group's chat, as a durable event.
    sent = await host.http.post(base + "/breakouts/broadcast", json={"body": "Five minutes left"})
    assert sent.json() == {"groups": 2}
    for client, group in ((a2_ws, group_a), (b1_ws, group_b)):
        got = await client.wait_for(lambda f, g=group: f["type"] == "breakout.broadcast" and f["room"] == g["room"])
        assert got["body"] == "Five minutes left" and got["sender"]["id"] == host.id
    # A member removed from the webinar leaves their group's chat too, at once.
    b2_ws = await b2.connect(server.ws_url)
    await b2_ws.subscribe(group_b["room"])
    assert (await host.http.post(base + "/remove", json={"member_id": b2.id})).json()["changed"] is True
    gone = await b2_ws.wait_for(lambda f: f["type"] == "unsubscribed" and f["room"] == group_b["room"])
    assert gone["reason"] == "removed"
    assert (await b2_ws.say(group_b["room"], "still here?"))["code"] == "not_found"
    await b2_ws.close()
    # A member who reconnects resumes the group's chat from their last sequence number.
    last_seen = max(f["seq"] for f in b1_ws.frames if f.get("room") == group_b["room"] and "seq" in f)
    await b1_ws.close()
    b1_ws = await b1.connect(server.ws_url)
    called = await host.http.post(base + "/breakouts/close")
    assert called.json()["state"] == "closed" and called.json()["reason"] == "called_back"
    resumed = await b1_ws.subscribe(group_b["room"], since=last_seen)
    assert resumed["type"] == "subscribed"
    replayed = [f for f in b1_ws.frames if f.get("room") == group_b["room"] and "seq" in f]
    assert [(f["seq"], f["type"], f.get("state")) for f in replayed] == [(last_seen + 1, "breakout", "closed")]
    assert replayed[0]["reason"] == "called_back"
    # The group's chat stays readable, takes no more messages; the webinar's room says the round closed.
    refused = await a1_ws.say(group_a["room"], "one more thing")
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    fresh = await a1.connect(server.ws_url)
    await fresh.subscribe(room, since=0)
    kinds = [(e["type"], e.get("state")) for e in fresh.frames if e.get("room") == room and e["type"] == "breakout"]
    assert kinds == [("breakout", "open"), ("breakout", "closed")]
    await fresh.close()
    assert (await b1.http.get(base + "/breakouts")).json()["breakout"] is None
    for client in (a1_ws, a2_ws, b1_ws):
        await client.close()
    assert (await host.http.post(base + "/end")).status_code == 200


async def test_breakout_groups_at_random_take_the_audience_present_in_groups_of_at_most_the_size(server):
    host, wid, people = await _webinar(server, 8)
    base = f"/api/webinars/{wid}"
    for person in people[:6]:   # two never open the live page: they are not split
        assert (await person.http.post(base + "/join")).status_code == 200
    assert (await host.http.post(base + "/join")).status_code == 200
    # One is banned from the webinar's room: they take no part, so they join no group either.
    banned = people.pop(5)
    room = (await host.http.get(base)).json()["room"]
    assert (await host.http.post(f"/api/rooms/{room}/bans", json={"member_id": banned.id})).status_code == 201
    refused = await host.http.post(base + "/breakouts", json={"groups": [[banned.id]], "duration_s": 60})
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "groups"
    too_big = await host.http.post(base + "/breakouts", json={"size": 9, "duration_s": 60})
    assert too_big.status_code == 422 and too_big.json()["error"]["field"] == "size"
    both = await host.http.post(base + "/breakouts", json={"size": 2, "groups": [[people[0].id]], "duration_s": 60})
    assert both.status_code == 422
    opened = (await host.http.post(base + "/breakouts", json={"size": 2, "duration_s": 60})).json()
    sizes = sorted(len(g["members"]) for g in opened["groups"])
    assert sizes == [1, 2, 2]   # five people in groups of at most two: dealt evenly
    split = sorted(m for g in opened["groups"] for m in g["members"])
    assert split == sorted(p.id for p in people[:5])   # the host stays in the main session
    # By hand: nobody twice, at most eight per group, registrants only.
    twice = await host.http.post(base + "/breakouts/close")
    assert twice.status_code == 200
    dup = await host.http.post(base + "/breakouts", json={"groups": [[people[0].id], [people[0].id]],
                                                          "duration_s": 60})
    assert dup.status_code == 422
    stranger = await Api.register(server.url)
    outside = await host.http.post(base + "/breakouts", json={"groups": [[stranger.id]], "duration_s": 60})
    assert outside.status_code == 404 and outside.json()["error"]["field"] == "groups"
    nine = await host.http.post(base + "/breakouts", json={
        "groups": [[p.id for p in people] + [host.id, stranger.id]], "duration_s": 60})
    assert nine.status_code == 422
    assert (await host.http.post(base + "/end")).status_code == 200


async def test_the_timer_warns_then_ends_the_groups_and_the_end_of_the_webinar_ends_them_too(server):
    host, wid, (a, b) = await _webinar(server, 2)
    base = f"/api/webinars/{wid}"
    room = (await host.http.get(base)).json()["room"]
    watcher = await a.connect(server.ws_url)
    await watcher.subscribe(room)
    started = time.monotonic()
    opened = (await host.http.post(base + "/breakouts", json={"groups": [[a.id, b.id]], "duration_s": 3,
                                                              "warning_s": 2})).json()
    warning = await watcher.wait_for(lambda f: f["type"] == "breakout.warning" and f["room"] == room, timeout=10)
    warned_after = time.monotonic() - started
    ended = await watcher.wait_for(lambda f: f["type"] == "breakout" and f["room"] == room
                                   and f["state"] == "closed", timeout=10)
    ended_after = time.monotonic() - started
    assert warning["breakout"] == opened["id"] and warning["ends_at"] == opened["ends_at"]
    assert ended["reason"] == "timer"
    assert 0.5 <= warned_after < ended_after and 2.5 <= ended_after < 6, (warned_after, ended_after)
    # Exactly one warning and one end, whichever process's timer got there first.
    await asyncio.sleep(0.6)
    assert sum(1 for f in watcher.frames if f["type"] == "breakout.warning") == 1
    assert sum(1 for f in watcher.frames if f["type"] == "breakout" and f["state"] == "closed") == 1
    # Groups open when the webinar ends close with it.
    assert (await host.http.post(base + "/breakouts", json={"groups": [[a.id]], "duration_s": 600})).status_code == 201
    assert (await host.http.post(base + "/end")).status_code == 200
    last = await watcher.wait_for(lambda f: f["type"] == "breakout" and f.get("reason") == "ended", timeout=10)
    assert last["state"] == "closed"
    await watcher.close()


async def test_who_may_manage_hosts_see_the_summary_and_run_breakout_groups(server):
    host, wid, (cohost, panelist, registrant, member_a, member_b) = await _webinar(server, 5, start=False)
    base = f"/api/webinars/{wid}"
    assert (await host.http.post(base + "/hosts", json={"member_id": cohost.id})).status_code == 200
    assert (await host.http.post(base + "/panelists", json={"member_id": panelist.id})).status_code == 204
    assert (await host.http.post(base + "/start")).status_code == 200
    callers = {"host": host, "co-host": cohost, "panelist": panelist, "registrant": registrant,
               "not registered": await Api.register(server.url), "member of the group": member_a,
               "member of another group": member_b}
    sockets: dict[str, ChatClient] = {}
    current: dict = {}

    async def round_open(wanted: bool) -> None:
        now = (await host.http.get(base + "/breakouts")).json()["breakout"]
        if now and not wanted:
            assert (await host.http.post(base + "/breakouts/close")).status_code == 200
        elif not now and wanted:
            now = (await host.http.post(base + "/breakouts", json={"groups": [[member_a.id], [member_b.id]],
                                                                   "duration_s": 600})).json()
        current["breakout"] = now if wanted else None

    async def socket(caller: str) -> ChatClient:
        if caller not in sockets:
            sockets[caller] = await callers[caller].connect(server.ws_url)
        return sockets[caller]

    async def http(caller: str, method: str, path: str) -> int:
        path = path.replace("{id}", str(wid)).replace("{member}", str(cohost.id))
        body = None
        if method == "POST" and path.endswith("/hosts"):
            body = {"member_id": cohost.id}
        elif method == "POST" and path.endswith("/breakouts"):
            body = {"groups": [[member_a.id], [member_b.id]], "duration_s": 600}
        elif path.endswith("/broadcast"):
            body = {"body": "Come back in two minutes"}
        if caller == "logged out":
            async with httpx.AsyncClient(base_url=server.url) as anonymous:
                response = await anonymous.request(method, path, json=body)
        else:
            response = await callers[caller].http.request(method, path, json=body)
        if method == "DELETE" and response.status_code == 200:   # put the co-host back for the next rows
            assert (await host.http.post(base + "/hosts", json={"member_id": cohost.id})).status_code == 200
        if path.endswith("/breakouts") and method == "POST" and response.status_code == 201:
            assert (await host.http.post(base + "/breakouts/close")).status_code == 200
        return response.status_code

    async def frame(caller: str, what: str) -> str:
        client = await socket(caller)
        group_room = current["breakout"]["groups"][0]["room"] if current.get("breakout") else None
        if what.startswith("subscribe"):
            reply = await client.subscribe(group_room)
        elif what.startswith("send to a group's room, after"):
            await round_open(True)
            group_room = current["breakout"]["groups"][0]["room"]
            await round_open(False)
            reply = await client.say(group_room, "still here?")
        elif what.startswith("send"):
            reply = await client.say(group_room, "hello group")
        else:
            kind = what.split(" ")[0]
            body = {"type": kind, "webinar": wid}
            if kind == "breakout.open":
                body.update(groups=[[member_a.id], [member_b.id]], duration_s=600)
            elif kind == "breakout.broadcast":
                body.update(body="Two minutes")
            reply = await client.request(body)
            if reply["type"] == "breakout.opened":
                await round_open(False)
        return reply["code"] if reply["type"] == "error" else reply["type"]

    for what, caller, expected in HOST_DAY_ROWS:
        await round_open("(open round)" in what)
        if what.split(" ")[0] in ("GET", "POST", "DELETE"):
            method, path = what.split(" ")[:2]
            got: int | str = await http(caller, method, path)
        else:
            got = await frame(caller, what)
        assert got == expected, (what, caller, got)
    await round_open(False)
    for client in sockets.values():
        await client.close()
    summary = await host.http.get(base + "/summary.csv")
    assert summary.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(summary.text)))[0] == ["section", "item", "detail", "value"]
    assert (await host.http.post(base + "/end")).status_code == 200


def test_the_pages_show_hosts_the_green_room_breakouts_and_the_summary(server):
    from tests.integration.test_pages import register

    creator, cohost, attendee = register(server, "Amina"), register(server, "Tomás"), register(server, "Kofi")
    made = creator.post("/api/webinars", json={"title": "Field supervision", "visibility": "public", **_times()})
    assert made.status_code == 201, made.text
    wid = made.json()["id"]
    me = {c: c.get("/api/me").json()["member"] for c in (creator, cohost, attendee)}
    assert attendee.post(f"/api/webinars/{wid}/register").status_code == 200
    page = creator.get(f"/webinars/{wid}").text
    assert "Go to the green room" in page and 'id="w-hosts"' in page and 'action="/webinars/%d/hosts"' % wid in page
    added = creator.post(f"/webinars/{wid}/hosts", data={"username": me[cohost]["username"]})
    assert added.status_code == 303
    page = creator.get(f"/webinars/{wid}").text
    assert f'/webinars/{wid}/hosts/{me[cohost]["id"]}/remove' in page
    # The co-host has the host's controls, but not the creator's forms.
    cohost_page = cohost.get(f"/webinars/{wid}").text
    assert "Start the webinar" in cohost_page and 'action="/webinars/%d/hosts"' % wid not in cohost_page
    # Before the start: the stage is in the green room (with the level meter), an attendee in the lobby.
    green = cohost.get(f"/webinars/{wid}/live").text
    assert 'id="w-green-room"' in green and 'id="m-level"' in green and 'id="w-breakouts"' in green
    lobby = attendee.get(f"/webinars/{wid}/live").text
    assert 'id="w-green-room"' not in lobby and 'data-can-publish="false"' in lobby
    assert cohost.post(f"/api/webinars/{wid}/start").status_code == 200
    live = cohost.get(f"/webinars/{wid}/live").text
    assert 'id="w-green-room"' not in live and 'id="b-open"' in live
    assert 'id="b-open"' not in attendee.get(f"/webinars/{wid}/live").text
    # The summary page and its CSV link, for hosts only; the creator takes the co-host's role back by form.
    summary = cohost.get(f"/webinars/{wid}/summary")
    assert summary.status_code == 200 and 'id="s-registered">3<' in summary.text and "summary.csv" in summary.text
    assert attendee.get(f"/webinars/{wid}/summary").status_code == 403
    assert creator.post(f"/webinars/{wid}/hosts/{me[cohost]['id']}/remove").status_code == 303
    assert cohost.get(f"/webinars/{wid}/summary").status_code == 403
    assert creator.post(f"/webinars/{wid}/hosts/{me[creator]['id']}/remove").status_code == 409
    assert creator.post(f"/api/webinars/{wid}/end").status_code == 200
