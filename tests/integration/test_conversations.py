"""Conversations over real sockets, on both backends: replies and threads, reactions, formatting,
mentions, pins, search, and edits and deletions that an outbox may send twice."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx

from tests.support.client import Api, ChatClient

EVENTS = ("message", "message.edited", "message.deleted", "reaction", "pin")


async def members(server, n: int) -> list[Api]:
    return [await Api.register(server.url) for _ in range(n)]


async def room_with(server, owner: Api, *others: Api, visibility: str = "public") -> int:
    room = await owner.create_room("conversations", visibility=visibility)
    for other in others:
        if visibility == "private":
            await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": other.id})
        assert (await other.join(room)).status_code == 200
    return room


async def send(client: ChatClient, room: int, body: str, **fields) -> dict:
    return await client.request({"type": "send", "room": room, "client_id": uuid.uuid4().hex, "body": body, **fields})


async def test_a_reply_carries_its_parent_and_a_thread_lists_the_replies(server):
    alice, bob = await members(server, 2)
    room = await room_with(server, alice, bob)
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    await a.subscribe(room), await b.subscribe(room)
    question = await send(a, room, "Which **screening tool** do you use for adolescents in the camps?")
    await send(a, room, "unrelated")
    answer = await send(b, room, "The SDQ, translated", reply_to=question["seq"])
    assert answer["type"] == "ack"

    event = await a.wait_for(lambda f: f["type"] == "message" and f["seq"] == answer["seq"])
    assert event["reply_to"] == question["seq"]
    assert event["parent"] == {"sender": {"id": alice.id, "display_name": alice.member["display_name"]},
                               "excerpt": "Which **screening tool** do you use for adolescents in the camps?"}

    # One thread, over the socket and over HTTP: the parent, then its replies only.
    second = await send(a, room, "Thank you", reply_to=question["seq"])
    thread = await b.request({"type": "history", "room": room, "thread": question["seq"]})
    assert thread["parent"]["seq"] == question["seq"] and thread["thread"] == question["seq"]
    assert [m["seq"] for m in thread["messages"]] == [answer["seq"], second["seq"]]
    page = (await bob.http.get(f"/api/rooms/{room}/messages", params={"thread": question["seq"], "limit": 1})).json()
    assert [m["seq"] for m in page["messages"]] == [second["seq"]] and page["has_more"] is True

    # The quoted parent follows its edits, and shows as deleted once deleted.
    await a.request({"type": "edit", "room": room, "target": question["seq"], "body": "Which tool for teenagers?"})
    replies = (await bob.http.get(f"/api/rooms/{room}/messages", params={"thread": question["seq"]})).json()
    assert replies["messages"][0]["parent"]["excerpt"] == "Which tool for teenagers?"
    await a.request({"type": "delete", "room": room, "target": question["seq"]})
    replies = (await bob.http.get(f"/api/rooms/{room}/messages", params={"thread": question["seq"]})).json()
    assert replies["parent"]["deleted"] is True
    assert replies["messages"][0]["parent"] == {"sender": {"id": alice.id,
                                                            "display_name": alice.member["display_name"]},
                                                 "deleted": True}
    assert "Which" not in str(replies)
    # A deleted, missing or non-message parent, or one in another room, cannot be answered.
    other_room = await alice.create_room("elsewhere")
    elsewhere = await send(a, other_room, "over here")
    reaction = await b.request({"type": "react", "room": room, "target": answer["seq"], "emoji": "👍"})
    for target in (question["seq"], 10_000, elsewhere["seq"] + 50, reaction["seq"]):
        refused = await send(b, room, "hello?", reply_to=target)
        assert refused["type"] == "error" and refused["code"] == "not_found" and refused["field"] == "reply_to"
    await a.close(), await b.close()


async def test_reacting_twice_counts_once_and_every_change_is_a_room_event(server):
    alice, bob, carol = await members(server, 3)
    room = await room_with(server, alice, bob, carol)
    a, b, c = [await person.connect(server.ws_url) for person in (alice, bob, carol)]
    for client in (a, b, c):
        await client.subscribe(room)
    sent = await send(a, room, "Session notes are in the shared folder")
    target = sent["seq"]

    first = await b.request({"type": "react", "room": room, "target": target, "emoji": "👍"})
    again = await b.request({"type": "react", "room": room, "target": target, "emoji": "👍"})
    assert first["type"] == again["type"] == "ack"
    assert first["duplicate"] is False and first["seq"] == target + 1 and first["emoji"] == "👍"
    assert again["duplicate"] is True and "seq" not in again
    await c.request({"type": "react", "room": room, "target": target, "emoji": "❤"})   # stored as ❤️
    await c.request({"type": "react", "room": room, "target": target, "emoji": "👍"})
    event = await a.wait_for(lambda f: f["type"] == "reaction" and f["seq"] == target + 1)
    assert event == {**event, "target": target, "emoji": "👍", "active": True, "sender": {"id": bob.id,
                     "display_name": bob.member["display_name"]}}

    history = (await alice.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert history[-1]["reactions"] == [{"emoji": "👍", "count": 2, "members": [bob.id, carol.id]},
                                        {"emoji": "❤️", "count": 1, "members": [carol.id]}]

    removed = await b.request({"type": "react", "room": room, "target": target, "emoji": "👍", "active": False})
    absent = await b.request({"type": "react", "room": room, "target": target, "emoji": "👍", "active": False})
    assert removed["duplicate"] is False and absent["duplicate"] is True
    gone = await a.wait_for(lambda f: f["type"] == "reaction" and f["seq"] == removed["seq"])
    assert gone["active"] is False
    reactions = [f for f in a.events(room, EVENTS) if f["type"] == "reaction"]
    assert [f["seq"] for f in reactions] == [target + 1, target + 2, target + 3, removed["seq"]]
    history = (await alice.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert history[-1]["reactions"] == [{"emoji": "❤️", "count": 1, "members": [carol.id]},
                                        {"emoji": "👍", "count": 1, "members": [carol.id]}]

    for emoji in ("ok", "👍👍", ":thumbs_up:", "\u0007", "👍 ", "\u202e👍"):
        refused = await b.request({"type": "react", "room": room, "target": target, "emoji": emoji})
        assert (refused["type"], refused["code"], refused["field"]) == ("error", "bad_request", "emoji"), emoji
    missing = await b.request({"type": "react", "room": room, "target": 9999, "emoji": "👍"})
    assert (missing["code"], missing["field"]) == ("not_found", "target")
    for x in (a, b, c):
        await x.close()


async def test_reacting_in_a_room_the_member_cannot_read_is_not_found(server):
    owner, outsider = await members(server, 2)
    private = await owner.create_room("coordinators", visibility="private")
    public = await owner.create_room("open")
    o, x = await owner.connect(server.ws_url), await outsider.connect(server.ws_url)
    secret = await send(o, private, "confidential")
    visible = await send(o, public, "hello all")
    refused = await x.request({"type": "react", "room": private, "target": secret["seq"], "emoji": "👍"})
    assert (refused["type"], refused["code"], refused["room"]) == ("error", "not_found", private)
    refused = await x.request({"type": "react", "room": 987654, "target": 1, "emoji": "👍"})
    assert refused["code"] == "not_found"
    # A public room is readable, but reacting is taking part: join first.
    refused = await x.request({"type": "react", "room": public, "target": visible["seq"], "emoji": "👍"})
    assert refused["code"] == "forbidden"
    await o.close(), await x.close()


async def test_messages_are_formatted_once_and_carry_safe_html(server):
    alice, = await members(server, 1)
    room = await alice.create_room("formatting")
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    body = ("**Bold**, _italics_, `code` and a link: https://www.who.int/teams/mental-health\n\n"
            "> a quote\n\n- one\n- two\n\n<script>alert(1)</script> [x](javascript:alert(1)) ![img](https://x.org/a.png)")
    sent = await send(a, room, body)
    event = await a.wait_for(lambda f: f["type"] == "message" and f["seq"] == sent["seq"])
    html = event["html"]
    assert event["body"] == body
    for fragment in ("<strong>Bold</strong>", "<em>italics</em>", "<code>code</code>", "<blockquote>", "<li>one</li>",
                     '<a href="https://www.who.int/teams/mental-health" target="_blank" '
                     'rel="noopener noreferrer ugc nofollow">', "&lt;script&gt;alert(1)&lt;/script&gt;"):
        assert fragment in html, fragment
    assert "<script" not in html and "javascript:" not in html.replace("[x](javascript:alert(1))", "")
    assert "<img" not in html
    stored = (await alice.http.get(f"/api/rooms/{room}/messages")).json()["messages"][-1]
    assert stored["html"] == html
    edited = await a.request({"type": "edit", "room": room, "target": sent["seq"], "body": "now *plain*"})
    event = await a.wait_for(lambda f: f["type"] == "message.edited" and f["seq"] == edited["seq"])
    assert event["html"].strip() == "<p>now <em>plain</em></p>"
    await a.close()


async def test_mentions_are_resolved_against_the_room_and_room_mentions_need_a_moderator(server):
    owner, bob, carol, outsider = await members(server, 4)
    room = await room_with(server, owner, bob, carol)
    o, b = await owner.connect(server.ws_url), await bob.connect(server.ws_url)
    await o.subscribe(room)
    named = await send(b, room, f"@{carol.member['username']} and @{outsider.member['username']}, "
                                f"`@{owner.member['username']}` and @room: please read")
    event = await o.wait_for(lambda f: f["type"] == "message" and f["seq"] == named["seq"])
    assert event["mentions"] == [carol.id] and "mentions_room" not in event
    assert f'<span class="mention" data-mention="{carol.id}">@{carol.member["username"]}</span>' in event["html"]
    assert f"@{outsider.member['username']}" in event["html"] and "@room" in event["html"]

    everyone = await send(o, room, "@room the call moves to Thursday")
    event = await o.wait_for(lambda f: f["type"] == "message" and f["seq"] == everyone["seq"])
    assert event["mentions_room"] is True and 'data-mention="room"' in event["html"]
    await send(o, room, "nothing for anyone")
    await send(b, room, f"thanks @{owner.member['username']}.")

    c = await carol.connect(server.ws_url)
    mine = await c.request({"type": "history", "room": room, "mentions": "me"})
    assert [m["seq"] for m in mine["messages"]] == [named["seq"], everyone["seq"]]
    over_http = (await owner.http.get(f"/api/rooms/{room}/messages", params={"mentions": "me"})).json()
    assert [m["seq"] for m in over_http["messages"]] == [everyone["seq"] + 2]
    assert (await owner.http.get(f"/api/rooms/{room}/messages", params={"mentions": "you"})).status_code == 422
    # An edit can name someone new; the filter follows.
    await b.request({"type": "edit", "room": room, "target": named["seq"], "body": "never mind"})
    mine = await c.request({"type": "history", "room": room, "mentions": "me"})
    assert [m["seq"] for m in mine["messages"]] == [everyone["seq"]]
    for x in (o, b, c):
        await x.close()


async def test_owners_and_moderators_pin_messages_and_everyone_sees_the_list(server):
    owner, moderator, member = await members(server, 3)
    room = await room_with(server, owner, moderator, member)
    assert (await owner.http.post(f"/api/rooms/{room}/members/{moderator.id}/role",
                                  json={"role": "moderator"})).status_code == 204
    o, m, x = await owner.connect(server.ws_url), await moderator.connect(server.ws_url), await member.connect(server.ws_url)
    await x.subscribe(room)
    guide = await send(o, room, "The PFA field guide: https://example.org/pfa.pdf")
    agenda = await send(x, room, "Agenda for Thursday")

    refused = await x.request({"type": "pin", "room": room, "target": guide["seq"]})
    assert refused["code"] == "forbidden"
    pinned = await m.request({"type": "pin", "room": room, "target": guide["seq"]})
    twice = await o.request({"type": "pin", "room": room, "target": guide["seq"]})
    assert pinned["duplicate"] is False and twice["duplicate"] is True
    await o.request({"type": "pin", "room": room, "target": agenda["seq"]})
    event = await x.wait_for(lambda f: f["type"] == "pin" and f["seq"] == pinned["seq"])
    assert event["target"] == guide["seq"] and event["active"] is True and event["sender"]["id"] == moderator.id

    pins = (await member.http.get(f"/api/rooms/{room}/pins")).json()["pins"]
    assert [p["seq"] for p in pins] == [agenda["seq"], guide["seq"]]
    assert pins[1]["pinned_by"]["id"] == moderator.id and pins[1]["body"].startswith("The PFA field guide")
    unpinned = await o.request({"type": "pin", "room": room, "target": agenda["seq"], "active": False})
    assert unpinned["duplicate"] is False
    await x.request({"type": "delete", "room": room, "target": agenda["seq"]})   # gone with its pin anyway
    await o.request({"type": "delete", "room": room, "target": guide["seq"]})
    assert (await member.http.get(f"/api/rooms/{room}/pins")).json()["pins"] == []
    # In a conversation between members, either of them may pin.
    dm = (await member.http.post("/api/dms", json={"members": [owner.id]})).json()["id"]
    note = await send(o, dm, "the address of the clinic")
    assert (await x.request({"type": "pin", "room": dm, "target": note["seq"]}))["type"] == "ack"
    for client in (o, m, x):
        await client.close()


async def test_an_edit_or_deletion_sent_twice_with_its_client_id_happens_once(server):
    alice, = await members(server, 1)
    room = await alice.create_room("outbox")
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    sent = await send(a, room, "see you at 10")
    edit = {"type": "edit", "room": room, "target": sent["seq"], "body": "see you at 11", "client_id": "e-1"}
    first, again = await a.request(edit), await a.request(edit)
    assert (first["duplicate"], again["duplicate"], again["seq"]) == (False, True, first["seq"])
    drop = {"type": "delete", "room": room, "target": sent["seq"], "client_id": "d-1"}
    first, again = await a.request(drop), await a.request(drop)
    assert (first["duplicate"], again["duplicate"], again["seq"]) == (False, True, first["seq"])
    reused = await a.request({**edit, "client_id": "d-1"})
    assert (reused["code"], reused["field"]) == ("bad_request", "client_id")
    await a.request({"type": "ping"})
    kinds = [f["type"] for f in a.events(room, EVENTS)]
    assert kinds == ["message", "message.edited", "message.deleted"]
    await a.close()


async def test_search_filters_by_room_sender_and_dates_marks_matches_and_pages(server):
    alice, bob = await members(server, 2)
    clinic = await room_with(server, alice, bob)
    other = await alice.create_room("other")
    a, b = await alice.connect(server.ws_url), await bob.connect(server.ws_url)
    word = "zq" + uuid.uuid4().hex[:6]   # unique to this test, whichever backend's data is shared
    for n in range(5):
        await send(a, clinic, f"Clínica {word}{n} <b>open</b> until four")
    await send(b, clinic, f"{word.upper()} from Bob")
    await send(a, other, f"{word} elsewhere")

    found = (await alice.http.get("/api/search", params={"q": word})).json()
    assert len(found["results"]) == 7 and found["has_more"] is False
    by_room = (await alice.http.get("/api/search", params={"q": word, "room": other})).json()["results"]
    assert [hit["body"] for hit in by_room] == [f"{word} elsewhere"]
    by_bob = (await alice.http.get("/api/search", params={"q": word, "sender": bob.member["username"]})).json()
    assert [hit["sender_id"] for hit in by_bob["results"]] == [bob.id]
    assert by_bob["results"][0]["highlights"] == [[0, len(word)]]
    today = date.today()
    window = {"q": word, "from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}
    assert len((await alice.http.get("/api/search", params=window)).json()["results"]) == 7
    past = {"q": word, "to": str(today - timedelta(days=2))}
    assert (await alice.http.get("/api/search", params=past)).json()["results"] == []
    assert (await alice.http.get("/api/search", params={"q": word, "from": "yesterday"})).status_code == 422

    first = (await alice.http.get("/api/search", params={"q": word, "room": clinic, "limit": 4})).json()
    rest = (await alice.http.get("/api/search", params={"q": word, "room": clinic, "limit": 4, "offset": 4})).json()
    assert first["has_more"] is True and rest["has_more"] is False
    seqs = [hit["seq"] for hit in first["results"] + rest["results"]]
    assert len(seqs) == len(set(seqs)) == 6
    # FTS5 folds accents, Postgres' 'simple' configuration only case; either way the words are marked.
    typed = "clinica" if server.backend == "embedded" else "CLínica"
    hit, = (await alice.http.get("/api/search", params={"q": f"{typed} {word}3"})).json()["results"]
    assert [hit["body"][s:e] for s, e in hit["highlights"]] == ["Clínica", f"{word}3"]

    page = await alice.http.get("/search", params={"q": word, "room": clinic}, headers={"accept": "text/html"})
    assert page.status_code == 200
    assert f"<mark>{word}0</mark>" in page.text and "&lt;b&gt;open&lt;/b&gt;" in page.text
    assert "<b>open</b>" not in page.text
    await a.close(), await b.close()


async def resume_after_a_conversation(base_urls: tuple[str, str], ws_urls: tuple[str, str]) -> None:
    """A reader drops off while a conversation goes on (replies, reactions, edits, deletions, a pin),
    then resumes: every event arrives once, in order, and the live stream continues without a gap."""
    alice = await Api.register(base_urls[0])
    bob = await Api.register(base_urls[1])
    room = await alice.create_room("resume")
    await bob.join(room)
    a, b = await alice.connect(ws_urls[0]), await bob.connect(ws_urls[1])
    await a.subscribe(room), await b.subscribe(room)
    first = await send(a, room, "before the gap")
    await b.wait_for_seq(room, first["seq"])
    last_seen = first["seq"]
    await b.close()

    question = await send(a, room, "Who has the translated consent form?")
    reply = await send(a, room, "I think Kofi does", reply_to=question["seq"])
    acks = [question, reply,
            await a.request({"type": "react", "room": room, "target": question["seq"], "emoji": "🙏"}),
            await a.request({"type": "edit", "room": room, "target": reply["seq"], "body": "Kofi does", "client_id": "e1"}),
            await a.request({"type": "pin", "room": room, "target": question["seq"]}),
            await a.request({"type": "delete", "room": room, "target": first["seq"], "client_id": "d1"}),
            await a.request({"type": "react", "room": room, "target": question["seq"], "emoji": "🙏", "active": False})]
    assert (await a.request({"type": "react", "room": room, "target": question["seq"], "emoji": "🙏",
                             "active": False}))["duplicate"] is True
    assert (await a.request({"type": "edit", "room": room, "target": reply["seq"], "body": "Kofi does",
                             "client_id": "e1"}))["duplicate"] is True

    b = await bob.connect(ws_urls[1])
    subscribed = await b.subscribe(room, since=last_seen)
    assert subscribed["last_seq"] == acks[-1]["seq"]
    live = [await send(b, room, "Thanks!", reply_to=reply["seq"]),
            await b.request({"type": "react", "room": room, "target": reply["seq"], "emoji": "👍"})]
    await b.wait_for(lambda f: f.get("seq") == live[-1]["seq"] and f["type"] == "reaction")
    received = b.events(room, EVENTS)
    assert [f["seq"] for f in received] == [ack["seq"] for ack in acks + live]
    assert [f["type"] for f in received] == ["message", "message", "reaction", "message.edited", "pin",
                                             "message.deleted", "reaction", "message", "reaction"]
    replayed_reply = received[1]
    assert replayed_reply["reply_to"] == question["seq"] and replayed_reply["parent"]["excerpt"].startswith("Who has")
    assert received[7]["reply_to"] == reply["seq"] and received[7]["parent"]["excerpt"] == "Kofi does"
    # The writer, live all along (on the other process, in a cluster), saw the same sequence.
    await a.wait_for(lambda f: f.get("seq") == live[-1]["seq"] and f["type"] == "reaction")
    assert [f["seq"] for f in a.events(room, EVENTS)] == [first["seq"]] + [f["seq"] for f in received]
    history = (await bob.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert [m.get("deleted", False) for m in history] == [True, False, False, False]
    assert "reactions" not in history[1] and history[2]["reactions"][0]["members"] == [bob.id]
    await a.close(), await b.close()


async def test_a_conversation_resumes_once_and_in_order(server):
    await resume_after_a_conversation((server.url, server.url), (server.ws_url, server.ws_url))


async def test_a_conversation_resumes_once_and_in_order_across_two_processes(cluster):
    one, two = cluster
    await resume_after_a_conversation((one.url, two.url), (one.ws_url, two.ws_url))


async def test_the_room_page_and_its_views_render_conversations_without_javascript(server):
    owner, bob = await members(server, 2)
    room = await room_with(server, owner, bob)
    o, b = await owner.connect(server.ws_url), await bob.connect(server.ws_url)
    question = await send(o, room, "Where is the **referral** list? <script>alert(1)</script>")
    answer = await send(b, room, f"@{owner.member['username']} in the pinned message", reply_to=question["seq"])
    await b.request({"type": "react", "room": room, "target": question["seq"], "emoji": "👍"})
    await o.request({"type": "pin", "room": room, "target": question["seq"]})
    for n in range(3):
        await send(b, room, f"later {n}")

    page = (await owner.http.get(f"/rooms/{room}")).text
    assert "<strong>referral</strong>" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert f'data-reply-to="{question["seq"]}"' in page and 'class="quote"' in page
    assert f'href="/rooms/{room}?thread={question["seq"]}"' in page      # the quote and "View replies"
    assert "View replies" in page and 'id="pins"' in page and 'id="pin-count">1<' in page
    assert "👍 <span class=\"count\">1</span>" in page and f'title="{bob.member["display_name"]}"' in page
    assert "mentions-me" in page and f'data-mention="{owner.id}"' in page

    thread = (await bob.http.get(f"/rooms/{room}", params={"thread": question["seq"]})).text
    assert f'data-thread="{question["seq"]}"' in thread and "later 0" not in thread
    assert f'id="m-{question["seq"]}"' in thread and f'id="m-{answer["seq"]}"' in thread
    mentions = (await owner.http.get(f"/rooms/{room}", params={"mentions": "me"})).text
    assert f'id="m-{answer["seq"]}"' in mentions and "later 0" not in mentions and 'id="composer"' not in mentions
    earlier = (await owner.http.get(f"/rooms/{room}", params={"before": answer["seq"] + 1})).text
    assert f'id="m-{answer["seq"]}"' in earlier and "later 0" not in earlier
    assert (await bob.http.get(f"/rooms/{room}", params={"thread": 9999})).status_code == 404
    await o.close(), await b.close()


async def test_nobody_may_take_the_username_room(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        refused = await http.post("/api/auth/register", json={"username": "Room", "password": "long enough 1",
                                                              "display_name": "Everyone"})
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "username"
