"""Live chat over real sockets: delivery, idempotency, resume, history, edits, read markers, typing, presence."""

from __future__ import annotations

import asyncio

from tests.support.client import Api, ChatClient


async def members(server, n: int) -> list[Api]:
    return [await Api.register(server.url) for _ in range(n)]


async def test_message_reaches_every_subscriber_in_order(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("greetings")
    assert (await bob.join(room)).status_code == 200
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    assert (await a.subscribe(room))["type"] == "subscribed"
    assert (await b.subscribe(room))["type"] == "subscribed"

    acks = [await a.say(room, f"hello {i}") for i in range(20)]

    assert [ack["type"] for ack in acks] == ["ack"] * 20
    seqs = [ack["seq"] for ack in acks]
    assert seqs == list(range(seqs[0], seqs[0] + 20))
    await b.wait_for_seq(room, seqs[-1])
    assert [f["body"] for f in b.events(room)] == [f"hello {i}" for i in range(20)]
    assert [f["seq"] for f in b.events(room)] == seqs
    assert b.events(room)[0]["sender"]["id"] == alice.id
    await a.close(), await b.close()


async def test_resending_a_client_id_stores_one_message(server):
    alice, = await members(server, 1)
    room = await alice.create_room("once")
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    first = await a.say(room, "only once", client_id="c-123")
    again = await a.say(room, "only once", client_id="c-123")
    assert first["seq"] == again["seq"] and first["duplicate"] is False and again["duplicate"] is True
    page = (await alice.http.get(f"/api/rooms/{room}/messages")).json()
    assert [m["body"] for m in page["messages"]] == ["only once"]
    await a.close()


async def test_resume_replays_exactly_the_missed_messages(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("resume")
    await bob.join(room)
    b = await bob.connect(server.ws_url)
    await b.subscribe(room)
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    before = await a.say(room, "before the gap")
    await b.wait_for_seq(room, before["seq"])
    last_seen = b.events(room)[-1]["seq"]
    await b.close()

    missed = [await a.say(room, f"missed {i}") for i in range(100)]

    b = await bob.connect(server.ws_url)
    subscribed = await b.subscribe(room, since=last_seen)
    after = await a.say(room, "live again")
    await b.wait_for_seq(room, after["seq"])
    seqs = [f["seq"] for f in b.events(room)]
    assert seqs == [m["seq"] for m in missed] + [after["seq"]]
    assert subscribed["last_seq"] == missed[-1]["seq"]
    assert [f["body"] for f in b.events(room)][:100] == [f"missed {i}" for i in range(100)]
    await a.close(), await b.close()


async def test_history_pages_return_every_message_once(server):
    alice, = await members(server, 1)
    room = await alice.create_room("archive")
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    sent = [(await a.say(room, f"m{i}"))["seq"] for i in range(57)]
    seen: list[int] = []
    before = None
    while True:
        frame = {"type": "history", "room": room, "limit": 10}
        if before is not None:
            frame["before"] = before
        page = await a.request(frame)
        seen = [m["seq"] for m in page["messages"]] + seen
        if not page["has_more"]:
            break
        before = page["messages"][0]["seq"]
    assert seen == sent
    # The same over HTTP.
    http_seen: list[int] = []
    before = None
    while True:
        params = {"limit": 7, **({"before": before} if before else {})}
        page = (await alice.http.get(f"/api/rooms/{room}/messages", params=params)).json()
        http_seen = [m["seq"] for m in page["messages"]] + http_seen
        if not page["has_more"]:
            break
        before = page["messages"][0]["seq"]
    assert http_seen == sent
    await a.close()


async def test_edit_and_delete_are_live_events_and_only_allowed_to_the_author(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("edits")
    await bob.join(room)
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    await a.subscribe(room), await b.subscribe(room)
    sent = await a.say(room, "tyop")

    refused = await b.request({"type": "edit", "room": room, "target": sent["seq"], "body": "hijack"})
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    edited = await a.request({"type": "edit", "room": room, "target": sent["seq"], "body": "typo"})
    assert edited["type"] == "ack"
    event = await b.wait_for(lambda f: f["type"] == "message.edited")
    assert event["target"] == sent["seq"] and event["body"] == "typo" and event["seq"] == edited["seq"]

    refused = await b.request({"type": "delete", "room": room, "target": sent["seq"]})
    assert refused["code"] == "forbidden"
    # The owner moderates: may delete anyone's message.
    bobs = await b.say(room, "off topic")
    deleted = await a.request({"type": "delete", "room": room, "target": bobs["seq"]})
    assert deleted["type"] == "ack"
    event = await b.wait_for(lambda f: f["type"] == "message.deleted")
    assert event["target"] == bobs["seq"]
    page = (await alice.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert page[0]["body"] == "typo" and "edited_at" in page[0]
    assert page[1]["deleted"] is True and page[1]["body"] == ""
    await a.close(), await b.close()


async def test_read_markers_drive_unread_counts(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("unread")
    await bob.join(room)
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    acks = [await a.say(room, f"news {i}") for i in range(5)]

    def unread(rooms: list[dict]) -> int:
        return next(r["unread"] for r in rooms if r["id"] == room)

    assert unread((await bob.http.get("/api/rooms")).json()["rooms"]) == 5
    assert unread((await alice.http.get("/api/rooms")).json()["rooms"]) == 0   # own messages are read
    b = await bob.connect(server.ws_url)
    marked = await b.request({"type": "read", "room": room, "seq": acks[2]["seq"]})
    assert marked == {"type": "read", "room": room, "seq": acks[2]["seq"], "ref": marked["ref"]}
    assert unread((await bob.http.get("/api/rooms")).json()["rooms"]) == 2
    # Markers never move backwards.
    await b.request({"type": "read", "room": room, "seq": 1})
    assert unread((await bob.http.get("/api/rooms")).json()["rooms"]) == 2
    await a.close(), await b.close()


async def test_typing_reaches_others_but_not_the_typist(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("typing")
    await bob.join(room)
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    await a.subscribe(room), await b.subscribe(room)
    await a.send({"type": "typing", "room": room})
    typing = await b.wait_for(lambda f: f["type"] == "typing")
    assert typing["member"]["id"] == alice.id and typing["active"] is True
    await a.request({"type": "ping"})
    assert not [f for f in a.frames if f["type"] == "typing"]
    await a.close(), await b.close()


async def test_presence_is_visible_to_room_members(server):
    alice, bob = await members(server, 2)
    room = await alice.create_room("presence")
    await bob.join(room)
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    b = await bob.connect(server.ws_url)
    online = await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id)
    assert online["status"] == "online"
    who = await a.request({"type": "who", "room": room})
    assert {m["id"] for m in who["members"]} == {alice.id, bob.id}
    await b.request({"type": "presence", "status": "away"})
    await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id and f["status"] == "away")
    await b.close()
    await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id and f["status"] == "offline")
    members_list = (await alice.http.get(f"/api/rooms/{room}/members")).json()["members"]
    assert {m["id"]: m["status"] for m in members_list} == {alice.id: "online", bob.id: "offline"}
    await a.close()


async def test_direct_messages_between_two_members(server):
    alice, bob = await members(server, 2)
    response = await alice.http.post("/api/dms", json={"members": [bob.id]})
    assert response.status_code == 201
    dm = response.json()["id"]
    again = (await bob.http.post("/api/dms", json={"members": [alice.id]})).json()["id"]
    assert again == dm   # the same pair always finds the same conversation
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    await a.subscribe(dm), await b.subscribe(dm)
    ack = await a.say(dm, "just between us")
    await b.wait_for_seq(dm, ack["seq"])
    rooms = (await bob.http.get("/api/rooms")).json()["rooms"]
    assert any(r["id"] == dm and r["kind"] == "dm" and r["members"] == [alice.member["display_name"]]
               for r in rooms)
    await a.close(), await b.close()


async def test_many_senders_one_room_no_loss_no_duplicates(server):
    people = await members(server, 4)
    room = await people[0].create_room("busy")
    for person in people[1:]:
        await person.join(room)
    clients = [await p.connect(server.ws_url) for p in people]
    for client in clients:
        await client.subscribe(room)

    async def burst(client: ChatClient, who: int) -> list[int]:
        return [(await client.say(room, f"{who}:{i}"))["seq"] for i in range(25)]

    acked = sorted(s for seqs in await asyncio.gather(*(burst(c, i) for i, c in enumerate(clients))) for s in seqs)
    for client in clients:
        await client.wait_for_seq(room, acked[-1])
        assert [f["seq"] for f in client.events(room)] == acked   # every client: all of them, once, in order
    for client in clients:
        await client.close()


async def test_small_group_conversation_reaches_all_its_members_only(server):
    alice, bob, carol, dave = await members(server, 4)
    response = await alice.http.post("/api/dms", json={"members": [bob.id, carol.id]})
    assert response.status_code == 201 and response.json()["kind"] == "dm"
    group = response.json()["id"]
    # A group is a new conversation each time; only a pair is found again.
    assert (await alice.http.post("/api/dms", json={"members": [bob.id, carol.id]})).json()["id"] != group
    clients = [await p.connect(server.ws_url) for p in (alice, bob, carol)]
    for client in clients:
        assert (await client.subscribe(group))["type"] == "subscribed"
    ack = await clients[1].say(group, "shall we meet on Thursday?")
    for client in clients:
        await client.wait_for_seq(group, ack["seq"])
    outsider = await dave.connect(server.ws_url)
    assert (await outsider.subscribe(group))["code"] == "not_found"
    too_many = await alice.http.post("/api/dms", json={"members": list(range(1, 10))})
    assert too_many.status_code == 422 and too_many.json()["error"]["field"] == "members"
    for client in (*clients, outsider):
        await client.close()
