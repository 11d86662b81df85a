"""Webinars over real servers on both backends: lifecycle and authority, registration, attendance,
the .ics file, Q&A, hands and speakers, polls with live results."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx

from tests.support.client import Api

STARTS = datetime(2026, 12, 3, 14, 0, tzinfo=timezone(timedelta(hours=2)))   # 12:00 UTC


async def people(server, n: int) -> list[Api]:
    return [await Api.register(server.url) for _ in range(n)]


async def schedule(host: Api, **fields) -> dict:
    body = {"title": "Psychological first aid, part 1", "description": "Look, listen, link.",
            "language": "en", "starts_at": STARTS.isoformat(),
            "ends_at": (STARTS + timedelta(minutes=90)).isoformat(), "visibility": "public", **fields}
    response = await host.http.post("/api/webinars", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def registered(webinar: dict, *attendees: Api) -> None:
    for attendee in attendees:
        response = await attendee.http.post(f"/api/webinars/{webinar['id']}/register")
        assert response.status_code == 200, response.text


async def test_hosts_alone_move_a_webinar_from_scheduled_to_live_to_ended(server):
    host, panelist, attendee = await people(server, 3)
    webinar = await schedule(host)
    base = f"/api/webinars/{webinar['id']}"
    assert webinar["state"] == "scheduled" and webinar["role"] == "host" and webinar["registered"] is True
    assert (await host.http.post(base + "/panelists", json={"member_id": panelist.id})).status_code == 204
    await registered(webinar, attendee)

    assert (await attendee.http.post(base + "/start")).status_code == 403
    assert (await panelist.http.post(base + "/start")).status_code == 403   # panelists moderate, hosts run
    assert (await host.http.post(base + "/end")).status_code == 409         # not live yet
    started = await host.http.post(base + "/start")
    assert started.status_code == 200 and started.json()["state"] == "live" and started.json()["started_at"]
    assert (await host.http.post(base + "/start")).status_code == 409
    assert (await attendee.http.post(base + "/end")).status_code == 403
    ended = await host.http.post(base + "/end")
    assert ended.status_code == 200 and ended.json()["state"] == "ended"

    # Ended is final: no restart, no registration, no questions.
    assert (await host.http.post(base + "/start")).status_code == 409
    assert (await host.http.post(base + "/end")).status_code == 409
    latecomer = (await people(server, 1))[0]
    assert (await latecomer.http.post(base + "/register")).status_code == 403
    assert (await attendee.http.post(base + "/questions", json={"body": "Too late?"})).status_code == 403
    detail = (await attendee.http.get(base)).json()
    assert detail["state"] == "ended" and detail["role"] is None and detail["registered"] is True
    assert {(p["id"], p["role"]) for p in detail["people"]} == {(host.id, "host"), (panelist.id, "panelist")}


async def test_state_changes_reach_the_webinar_room_as_events(server):
    host, attendee = await people(server, 2)
    webinar = await schedule(host)
    await registered(webinar, attendee)
    a = await attendee.connect(server.ws_url)
    assert (await a.subscribe(webinar["room"]))["type"] != "error"
    await host.http.post(f"/api/webinars/{webinar['id']}/start")
    live = await a.wait_for(lambda f: f["type"] == "webinar")
    assert live["state"] == "live" and live["webinar"] == webinar["id"] and live["sender"]["id"] == host.id
    # The room is the webinar's chat too.
    said = await a.say(webinar["room"], "Hello from Nairobi")
    assert said["type"] == "ack"
    await a.close()


async def test_visibility_and_registration(server):
    host, member, outsider = await people(server, 3)
    public = await schedule(host, title="Open session")
    private = await schedule(host, title="Members only", visibility="members")
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        listed = (await anonymous.get("/api/webinars")).json()["webinars"]
        assert public["id"] in {w["id"] for w in listed} and private["id"] not in {w["id"] for w in listed}
        assert (await anonymous.get(f"/api/webinars/{public['id']}")).status_code == 200
        assert (await anonymous.get(f"/api/webinars/{private['id']}")).status_code == 404
        assert (await anonymous.get(f"/api/webinars/{private['id']}.ics")).status_code == 404
        assert (await anonymous.post(f"/api/webinars/{public['id']}/register")).status_code == 401
    assert private["id"] in {w["id"] for w in (await member.http.get("/api/webinars")).json()["webinars"]}

    # Not registered: can read, cannot take part, cannot subscribe to the room.
    base = f"/api/webinars/{private['id']}"
    assert (await member.http.post(base + "/questions", json={"body": "Can I ask?"})).status_code == 403
    m = await member.connect(server.ws_url)
    assert (await m.subscribe(private["room"]))["type"] == "error"
    first = await member.http.post(base + "/register")
    again = await member.http.post(base + "/register")
    assert first.status_code == again.status_code == 200 and again.json()["registered"] is True
    assert (await m.subscribe(private["room"]))["type"] != "error"
    assert (await member.http.post(base + "/questions", json={"body": "Can I ask now?"})).status_code == 201
    assert (await outsider.http.get(base + "/attendance")).status_code == 403
    await m.close()


async def test_attendance_records_visits_and_their_duration(server):
    host, ana, ben = await people(server, 3)
    webinar = await schedule(host)
    base = f"/api/webinars/{webinar['id']}"
    assert (await ana.http.post(base + "/join")).status_code == 403   # register first
    await registered(webinar, ana, ben)
    assert (await ana.http.post(base + "/join")).status_code == 200   # the lobby, before the start
    await host.http.post(base + "/start")
    assert (await ben.http.post(base + "/join")).status_code == 200
    await asyncio.sleep(0.4)
    assert (await ana.http.post(base + "/leave")).json() == {"left": True}
    assert (await ana.http.post(base + "/leave")).json() == {"left": False}
    await ana.http.post(base + "/join")
    await asyncio.sleep(0.2)
    assert (await ana.http.get(base + "/attendance")).status_code == 403
    await host.http.post(base + "/end")   # closes every open visit
    report = {row["member"]["id"]: row for row in (await host.http.get(base + "/attendance")).json()["attendance"]}
    assert set(report) == {ana.id, ben.id}
    assert report[ana.id]["visits"] == 2 and report[ben.id]["visits"] == 1
    assert not report[ana.id]["present"] and not report[ben.id]["present"]
    assert 0.6 <= report[ana.id]["seconds"] < 30 and 0.6 <= report[ben.id]["seconds"] < 30
    assert (await ana.http.post(base + "/join")).status_code == 403   # ended


async def test_ics_file_is_valid_icalendar_in_utc_with_escaped_text(server):
    host = (await people(server, 1))[0]
    webinar = await schedule(host, title="Grief, loss; and care", language="fr",
                             description="Line one\nLine two, with a \\ backslash; " + "é" * 60)
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        response = await anonymous.get(f"/api/webinars/{webinar['id']}.ics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/calendar")
    raw = response.content
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    physical = raw.decode().split("\r\n")[:-1]
    assert all(len(line.encode()) <= 75 for line in physical)
    lines = "\r\n".join(physical).replace("\r\n ", "").split("\r\n")   # unfold
    props = dict(line.split(":", 1) for line in lines)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    assert props["VERSION"] == "2.0" and "PRODID" in props and "BEGIN:VEVENT" in lines and "END:VEVENT" in lines
    assert props["UID"].startswith(f"webinar-{webinar['id']}@")
    assert props["DTSTART"] == "20261203T120000Z" and props["DTEND"] == "20261203T133000Z"
    assert props["DTSTAMP"].endswith("Z") and len(props["DTSTAMP"]) == 16
    assert props["SUMMARY;LANGUAGE=fr"] == "Grief\\, loss\\; and care"
    assert props["DESCRIPTION;LANGUAGE=fr"] == (
        "Line one\\nLine two\\, with a \\\\ backslash\\; " + "é" * 60)


async def test_questions_with_upvotes_and_moderation(server):
    host, panelist, ana, ben = await people(server, 4)
    webinar = await schedule(host)
    base = f"/api/webinars/{webinar['id']}"
    await host.http.post(base + "/panelists", json={"member_id": panelist.id})
    await registered(webinar, ana, ben)
    h = await host.connect(server.ws_url)
    await h.subscribe(webinar["room"])

    asked = await ana.http.post(base + "/questions", json={"body": "How do we look after ourselves?"})
    assert asked.status_code == 201
    question = asked.json()
    assert question["author"]["id"] == ana.id and question["upvotes"] == 0 and question["state"] == "open"
    live = await h.wait_for(lambda f: f["type"] == "question")
    assert live["question"] == question["id"] and live["sender"]["id"] == ana.id

    up = f"{base}/questions/{question['id']}/upvote"
    clicks = await asyncio.gather(*(ben.http.post(up) for _ in range(4)))   # an impatient double click
    assert sorted(c.json()["counted"] for c in clicks) == [False, False, False, True]
    assert (await ben.http.post(up)).json() | {"counted": None} == {**question, "upvotes": 1, "counted": None}
    assert (await host.http.post(up)).json()["upvotes"] == 2
    counted = await h.wait_for(lambda f: f["type"] == "question.upvote" and f["upvotes"] == 2)
    assert counted["question"] == question["id"]

    moderate = f"{base}/questions/{question['id']}"
    assert (await ben.http.patch(moderate, json={"state": "answered"})).status_code == 403
    answered = await panelist.http.patch(moderate, json={"state": "answered"})
    assert answered.status_code == 200 and answered.json()["state"] == "answered"
    assert (await ana.http.post(up)).status_code == 403   # closed questions take no more votes
    state = await h.wait_for(lambda f: f["type"] == "question.state")
    assert state["state"] == "answered" and state["sender"]["id"] == panelist.id
    listed = (await ben.http.get(base + "/questions")).json()["questions"]
    assert [(q["id"], q["upvotes"], q["state"]) for q in listed] == [(question["id"], 2, "answered")]
    await h.close()


async def test_anonymous_questions_name_their_author_to_no_one(server):
    host, ana, ben = await people(server, 3)
    closed = await schedule(host)
    await registered(closed, ana)
    refused = await ana.http.post(f"/api/webinars/{closed['id']}/questions", json={"body": "?", "anonymous": True})
    assert refused.status_code == 403

    webinar = await schedule(host, anonymous_questions=True)
    base = f"/api/webinars/{webinar['id']}"
    await registered(webinar, ana, ben)
    b = await ben.connect(server.ws_url)
    await b.subscribe(webinar["room"])
    asked = await ana.http.post(base + "/questions", json={"body": "I am struggling myself; where do I start?",
                                                           "anonymous": True})
    assert asked.status_code == 201 and asked.json()["author"] is None and asked.json()["anonymous"] is True
    live = await b.wait_for(lambda f: f["type"] == "question")
    assert live["anonymous"] is True and live["sender"]["id"] is None and "author" not in live
    for viewer in (host, ana, ben):   # not even the host, not even over the author's own session
        listed = (await viewer.http.get(base + "/questions")).json()["questions"]
        assert listed[0]["author"] is None and ana.member["username"] not in str(listed)
    # Nor in the room's history, replayed from the start.
    a = await ana.connect(server.ws_url)
    await a.subscribe(webinar["room"], since=0)
    replayed = await a.wait_for(lambda f: f["type"] == "question")
    assert replayed["sender"] == {"id": None, "display_name": ""}
    await a.close(), await b.close()


async def test_raise_hand_then_promote_then_demote(server):
    host, ana, ben = await people(server, 3)
    webinar = await schedule(host)
    base = f"/api/webinars/{webinar['id']}"
    await registered(webinar, ana, ben)
    assert (await ana.http.post(base + "/hands", json={"raised": True})).status_code == 403   # not live yet
    await host.http.post(base + "/start")
    h = await host.connect(server.ws_url)
    await h.subscribe(webinar["room"])

    raised = await ana.http.post(base + "/hands", json={"raised": True})
    assert raised.json() == {"raised": True, "changed": True}
    assert (await ana.http.post(base + "/hands", json={"raised": True})).json()["changed"] is False
    hand = await h.wait_for(lambda f: f["type"] == "hand")
    assert hand["raised"] is True and hand["member"]["id"] == ana.id
    assert [m["id"] for m in (await host.http.get(base + "/hands")).json()["hands"]] == [ana.id]

    # An attendee cannot promote anyone, themselves included.
    assert (await ben.http.post(base + "/speakers", json={"member_id": ben.id})).status_code == 403
    assert (await ana.http.post(base + "/speakers", json={"member_id": ana.id})).status_code == 403
    promoted = await host.http.post(base + "/speakers", json={"member_id": ana.id})
    assert promoted.status_code == 204
    speaker = await h.wait_for(lambda f: f["type"] == "speaker")
    assert speaker["speaker"] is True and speaker["member"]["id"] == ana.id
    assert (await host.http.get(base + "/hands")).json()["hands"] == []   # promotion lowers the hand
    people_on_stage = {p["id"]: p["role"] for p in (await ben.http.get(base)).json()["people"]}
    assert people_on_stage[ana.id] == "speaker"
    assert (await ana.http.get(base)).json()["role"] == "speaker"

    assert (await ben.http.delete(f"{base}/speakers/{ana.id}")).status_code == 403
    assert (await ana.http.delete(f"{base}/speakers/{host.id}")).status_code == 403
    assert (await host.http.delete(f"{base}/speakers/{ana.id}")).status_code == 204
    demoted = await h.wait_for(lambda f: f["type"] == "speaker" and f["speaker"] is False)
    assert demoted["member"]["id"] == ana.id
    assert (await ana.http.get(base)).json()["role"] is None
    await h.close()


async def test_polls_take_one_vote_per_member_with_live_results(server):
    host, ana, ben = await people(server, 3)
    webinar = await schedule(host)
    base = f"/api/webinars/{webinar['id']}"
    await registered(webinar, ana, ben)
    await host.http.post(base + "/start")
    a = await ana.connect(server.ws_url)
    await a.subscribe(webinar["room"])

    poll_body = {"question": "Which approach do you use most?", "options": ["PFA", "PM+", "SH+"]}
    assert (await ana.http.post(base + "/polls", json=poll_body)).status_code == 403
    created = await host.http.post(base + "/polls", json=poll_body)
    assert created.status_code == 201
    poll = created.json()
    opened = await a.wait_for(lambda f: f["type"] == "poll")
    assert opened["poll"] == poll["id"] and opened["state"] == "open" and opened["options"] == poll_body["options"]

    vote = f"{base}/polls/{poll['id']}/vote"
    assert (await ana.http.post(vote, json={"option": 3})).status_code == 422
    assert (await ana.http.post(vote, json={"option": 1})).json()["counts"] == [0, 1, 0]
    assert (await ana.http.post(vote, json={"option": 0})).status_code == 409   # one vote per member
    assert (await ben.http.post(vote, json={"option": 1})).json()["counts"] == [0, 2, 0]
    results = await a.wait_for(lambda f: f["type"] == "poll.results" and f["votes"] == 2)
    assert results["counts"] == [0, 2, 0] and results["sender"]["id"] is None   # the voter is not named

    assert (await ben.http.post(f"{base}/polls/{poll['id']}/close")).status_code == 403
    closed = await host.http.post(f"{base}/polls/{poll['id']}/close")
    assert closed.json()["state"] == "closed" and closed.json()["counts"] == [0, 2, 0]
    final = await a.wait_for(lambda f: f["type"] == "poll" and f["state"] == "closed")
    assert final["counts"] == [0, 2, 0]
    assert (await host.http.post(vote, json={"option": 2})).status_code == 403
    listed = (await ben.http.get(base + "/polls")).json()["polls"]
    assert [(p["id"], p["state"], p["votes"]) for p in listed] == [(poll["id"], "closed", 2)]
    await a.close()
