"""The inbox and the live `notification` frame: who is notified of what, on both backends and across two
processes, with counts that agree after reconnects; and the routes' authorization rows."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import httpx

from tests.support.client import Api, ChatClient
from tests.support.emergency import open_emergency

# Who may use the notification routes, checked by test_authorization_rows_hold below (the authorization
# matrix, tests/integration/test_authorization_matrix.py, has its own rows for them): (method, path template,
# who, expected status). "anonymous": no credentials; "member": any logged-in member; "outsider": a
# member who does not belong to the room in the path.
AUTHZ_ROWS = [
    ("GET", "/api/notifications", "anonymous", 401),
    ("GET", "/api/notifications", "member", 200),
    ("GET", "/api/notifications/counts", "anonymous", 401),
    ("POST", "/api/notifications/read", "anonymous", 401),
    ("POST", "/api/notifications/read-all", "anonymous", 401),
    ("GET", "/api/me/preferences", "anonymous", 401),
    ("PUT", "/api/me/preferences", "anonymous", 401),
    ("GET", "/api/me/notifications", "anonymous", 401),
    ("PUT", "/api/me/notifications", "anonymous", 401),
    ("PUT", "/api/rooms/{private_room}/notifications", "outsider", 404),
    ("PUT", "/api/rooms/{private_room}/notifications", "anonymous", 401),
    ("GET", "/api/push/key", "anonymous", 200),
    ("POST", "/api/push/subscriptions", "anonymous", 401),
    ("DELETE", "/api/push/subscriptions", "anonymous", 401),
    ("GET", "/notifications", "anonymous", 303),
    ("GET", "/settings/notifications", "anonymous", 303),
    ("POST", "/unsubscribe/{forged_token}", "anonymous", 404),
    # The `notification` frame goes only to the member it names, on whichever process their sockets are.
]


def notifications(client: ChatClient) -> list[dict]:
    return [f for f in client.frames if f["type"] == "notification"]


async def test_authorization_rows_hold(server):
    owner, outsider = await Api.register(server.url), await Api.register(server.url)
    private_room = await owner.create_room("Coordinators", visibility="private")
    anonymous = httpx.AsyncClient(base_url=server.url, follow_redirects=False)
    clients = {"anonymous": anonymous, "member": owner.http, "outsider": outsider.http}
    bodies = {"/api/notifications/read": {"ids": [1]}, "/api/me/preferences": {},
              "/api/me/notifications": {"email": "x@example.org"}, "/api/push/subscriptions": {"endpoint": "x" * 10},
              "/api/rooms/{private_room}/notifications": {"level": "nothing"}}
    for method, template, who, expected in AUTHZ_ROWS:
        path = template.format(private_room=private_room, forged_token="WzEsIm5vdGlmaWNhdGlvbnMiXQ.forged")
        response = await clients[who].request(method, path, json=bodies.get(template) if method != "GET" else None)
        assert response.status_code == expected, (method, path, who, response.status_code, response.text)
    await anonymous.aclose()


async def test_who_is_notified_of_what(server):
    amina, tomas, priya, kofi = [await Api.register(server.url) for _ in range(4)]
    room = await amina.create_room("Psychological first aid")
    for api in (tomas, priya, kofi):
        assert (await api.join(room)).status_code == 200
    # Priya wants every message of this room; Kofi muted it.
    assert (await priya.http.put(f"/api/rooms/{room}/notifications", json={"level": "all"})).status_code == 200
    assert (await kofi.http.put(f"/api/rooms/{room}/notifications", json={"level": "nothing"})).status_code == 200
    live = await tomas.connect(server.ws_url)
    writer = await amina.connect(server.ws_url)
    t, k = tomas.member["username"], kofi.member["username"]
    said = await writer.say(room, f"@{t} and @{k}: could you share the checklist? (not @nobody)")
    frame = await live.wait_for(lambda f: f["type"] == "notification")
    assert frame["notification"]["kind"] == "mention" and frame["notification"]["seq"] == said["seq"]
    assert frame["notification"]["actor"]["id"] == amina.id and frame["unread"] == 1

    async def inbox(api: Api) -> list[tuple[str, int]]:
        data = (await api.http.get("/api/notifications")).json()
        return [(n["kind"], n["seq"]) for n in data["notifications"]]

    await asyncio.sleep(0.5)
    assert await inbox(tomas) == [("mention", said["seq"])]
    assert await inbox(priya) == [("message", said["seq"])]
    assert await inbox(kofi) == [] and await inbox(amina) == []   # muted; never the author

    # @room is for moderators: from a member it notifies nobody new; from the owner, everyone but muted Kofi.
    by_member = await (await tomas.connect(server.ws_url)).say(room, "@room please read the guide")
    await asyncio.sleep(0.5)
    assert ("mention", by_member["seq"]) not in await inbox(amina)
    by_owner = await writer.say(room, "@room the session starts now")
    await live.wait_for(lambda f: f["type"] == "notification" and f["notification"]["seq"] == by_owner["seq"])
    await asyncio.sleep(0.3)
    assert ("mention", by_owner["seq"]) in await inbox(priya) and await inbox(kofi) == []
    counts = (await tomas.http.get("/api/notifications/counts")).json()
    assert counts == {"unread": 2, "mentions": {str(room): 2}}

    # Reading the room reads its notifications; marking read works by id and for all.
    await live.request({"type": "read", "room": room, "seq": said["seq"]})
    assert (await tomas.http.get("/api/notifications/counts")).json()["unread"] == 1
    marked = (await tomas.http.post("/api/notifications/read-all")).json()
    assert marked["unread"] == 0 and marked["mentions"] == {}
    for client in (live, writer):
        await client.close()


async def test_marking_one_notification_read_by_id_leaves_the_others_unread(server):
    amina, tomas, priya = [await Api.register(server.url) for _ in range(3)]
    first_room, second_room = await amina.create_room("Supervision"), await amina.create_room("Rota")
    for room in (first_room, second_room):
        await tomas.join(room)
    writer = await amina.connect(server.ws_url)
    t = tomas.member["username"]
    for room, body in ((first_room, "the notes are up"), (first_room, "and the slides"), (second_room, "swap Friday?")):
        await writer.say(room, f"@{t} {body}")
    deadline = asyncio.get_running_loop().time() + 10
    while (inbox := (await tomas.http.get("/api/notifications")).json())["unread"] < 3:
        assert asyncio.get_running_loop().time() < deadline, inbox
        await asyncio.sleep(0.1)
    assert inbox["mentions"] == {str(first_room): 2, str(second_room): 1}
    chosen = next(n for n in inbox["notifications"] if n["excerpt"].endswith("the notes are up"))

    marked = (await tomas.http.post("/api/notifications/read", json={"ids": [chosen["id"]]})).json()
    assert marked == {"marked": 1, "unread": 2, "mentions": {str(first_room): 1, str(second_room): 1}}
    after = (await tomas.http.get("/api/notifications")).json()["notifications"]
    assert {n["id"]: n["read"] for n in after} == {n["id"]: n["id"] == chosen["id"] for n in inbox["notifications"]}
    # Again, or by another member: nothing changes.
    assert (await tomas.http.post("/api/notifications/read", json={"ids": [chosen["id"]]})).json()["marked"] == 0
    other = next(n for n in after if not n["read"])
    assert (await priya.http.post("/api/notifications/read", json={"ids": [other["id"]]})).json()["marked"] == 0
    assert (await tomas.http.get("/api/notifications/counts")).json()["unread"] == 2
    await writer.close()


async def test_conversations_alerts_and_non_members(server):
    amina, tomas, priya = [await Api.register(server.url) for _ in range(3)]
    dm = (await amina.http.post("/api/dms", json={"members": [tomas.id, priya.id]})).json()["id"]
    writer = await amina.connect(server.ws_url)
    said = await writer.say(dm, "Group call at 10?")
    emergency = await open_emergency(amina, [tomas])
    alert = await writer.request({"type": "alert", "room": emergency, "client_id": "a1", "body": "Evacuate the clinic"})
    private = await amina.create_room("Coordinators", visibility="private")
    await writer.say(private, f"@{priya.member['username']} are you here?")   # not a member: not notified
    await asyncio.sleep(1.0)
    tomas_inbox = (await tomas.http.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["room"], n["seq"]) for n in tomas_inbox] == [
        ("alert", emergency, alert["seq"]), ("message", dm, said["seq"])]
    assert tomas_inbox[0]["excerpt"] == "Evacuate the clinic" and tomas_inbox[0]["url"].endswith(f"#m-{alert['seq']}")
    priya_inbox = (await priya.http.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["room"]) for n in priya_inbox] == [("message", dm)]
    await writer.close()


async def test_a_mention_on_one_process_reaches_the_socket_on_the_other_once(cluster):
    one, two = cluster
    amina, tomas = await Api.register(one.url), await Api.register(two.url)
    room = await amina.create_room("Field notes")
    await tomas.join(room)
    far = await tomas.connect(two.ws_url)         # Tomás is on process B, subscribed to nothing
    writer = await amina.connect(one.ws_url)      # Amina writes on process A
    mention = await writer.say(room, f"@{tomas.member['username']} your notes were very helpful")
    frame = await far.wait_for(lambda f: f["type"] == "notification")
    assert frame["notification"]["seq"] == mention["seq"] and frame["notification"]["room"] == room
    second = await writer.say(room, f"Thanks again @{tomas.member['username']}")
    try:
        await far.wait_for(lambda f: f["type"] == "notification" and f["notification"]["seq"] == second["seq"])
    except asyncio.TimeoutError:
        # An intermittent failure once in many full runs: say which hop lost it (created or not, published or not).
        raise AssertionError(await _where_it_stopped(one, two, tomas, far)) from None
    await asyncio.sleep(1.0)
    assert [f["notification"]["seq"] for f in notifications(far)] == [mention["seq"], second["seq"]]   # once each
    assert notifications(far)[-1]["unread"] == 2

    # Counts agree after reconnecting, on either process, and after reading on the other one.
    await far.close()
    for base in (one.url, two.url):
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {tomas.token}"}) as http:
            assert (await http.get("/api/notifications/counts")).json() == {"unread": 2, "mentions": {str(room): 2}}
    again = await tomas.connect(one.ws_url)
    await again.request({"type": "read", "room": room, "seq": mention["seq"]})
    await again.close()
    back = await tomas.connect(two.ws_url)
    third = await writer.say(room, f"@{tomas.member['username']} one more")
    frame = await back.wait_for(lambda f: f["type"] == "notification" and f["notification"]["seq"] == third["seq"])
    assert frame["unread"] == 2 == (await tomas.http.get("/api/notifications")).json()["unread"]
    for client in (back, writer):
        await client.close()


async def _where_it_stopped(one, two, member: Api, client: ChatClient) -> str:
    inbox = (await member.http.get("/api/notifications")).json()
    seen = []
    for process in (one, two):
        async with httpx.AsyncClient(base_url=process.url) as http:
            text = (await http.get("/metrics")).text
        seen.append([line for line in text.splitlines() if line.startswith(
            ("convene_notifications_created", "convene_notifier_lag", "convene_broker", "convene_frames_sent"))])
    # Both processes' log tails follow in the report (tests/conftest.py).
    return f"inbox: {inbox}\nframes: {notifications(client)}\nmetrics A: {seen[0]}\nmetrics B: {seen[1]}"


async def test_a_webinar_going_live_notifies_its_registrants(server):
    host, attendee = await Api.register(server.url), await Api.register(server.url)
    starts = datetime.now(timezone.utc) + timedelta(hours=2)
    webinar = (await host.http.post("/api/webinars", json={
        "title": "Caring for carers", "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=1)).isoformat(), "visibility": "public"})).json()
    assert (await attendee.http.post(f"/api/webinars/{webinar['id']}/register")).status_code in (200, 201, 204)
    live = await attendee.connect(server.ws_url)
    assert (await host.http.post(f"/api/webinars/{webinar['id']}/start")).status_code == 200
    frame = await live.wait_for(lambda f: f["type"] == "notification")
    assert frame["notification"]["kind"] == "webinar.live" and frame["notification"]["room"] == webinar["room"]
    assert frame["notification"]["url"] == f"/webinars/{webinar['id']}/live"
    assert [n["kind"] for n in (await host.http.get("/api/notifications")).json()["notifications"]] == []
    await live.close()


async def test_the_language_follows_the_member_to_another_device(server):
    tomas = await Api.register(server.url)
    assert (await tomas.http.put("/api/me/preferences", json={"language": "es", "time_zone": "America/Bogota"})
            ).status_code == 200
    # Another device: no language cookie, a browser asking for English; the profile decides.
    page = await tomas.http.get("/notifications", headers={"accept-language": "en-GB"})
    assert page.status_code == 200 and page.headers["content-language"] == "es"
    assert "Notificaciones" in page.text
    anonymous = await httpx.AsyncClient(base_url=server.url).get("/login", headers={"accept-language": "fr"})
    assert anonymous.headers["content-language"] == "fr"   # before log-in: the browser (or cookie)


async def test_a_reply_notifies_the_author_of_the_message_it_answers(server):
    amina, tomas, priya = [await Api.register(server.url) for _ in range(3)]
    room = await amina.create_room("Supervision")
    for api in (tomas, priya):
        await api.join(room)
    writer, replier = await amina.connect(server.ws_url), await tomas.connect(server.ws_url)
    asked = await writer.say(room, "Who has the notes from Tuesday?")
    answer = await replier.request({"type": "send", "room": room, "client_id": "r1", "reply_to": asked["seq"],
                                    "body": "I do, sending them tonight"})
    assert answer["type"] == "ack", answer
    both = await replier.request({"type": "send", "room": room, "client_id": "r2", "reply_to": asked["seq"],
                                  "body": f"@{amina.member['username']} and a question for you"})
    await asyncio.sleep(1.0)
    inbox = (await amina.http.get("/api/notifications")).json()["notifications"]
    assert [(n["kind"], n["seq"]) for n in inbox] == [("mention", both["seq"]), ("reply", answer["seq"])]
    assert inbox[1]["actor"]["id"] == tomas.id and inbox[1]["excerpt"] == "I do, sending them tonight"
    assert (await priya.http.get("/api/notifications")).json()["notifications"] == []
    for client in (writer, replier):
        await client.close()
