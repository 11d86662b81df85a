"""Webinar interaction and moderation across two server processes (shared Postgres and Redis):
the host works on one process, attendees on the other, and everyone's socket sees the same events
in the same order. Removal ends a member's part in the webinar on every process."""

from __future__ import annotations

from tests.integration.test_webinars import registered, schedule
from tests.support.client import Api, ChatClient

LIVE_KINDS = ("webinar", "question", "question.upvote", "question.state", "hand", "speaker", "mute", "removal",
              "poll", "poll.results", "message")


async def webinar_across(cluster, attendees: int) -> tuple[Api, list[Api], dict, str]:
    """A members-only webinar hosted from the first process, its registered attendees on the second."""
    one, two = cluster
    host = await Api.register(one.url)
    others = [await Api.register(two.url) for _ in range(attendees)]
    webinar = await schedule(host, visibility="members", anonymous_questions=True)
    await registered(webinar, *others)
    return host, others, webinar, f"/api/webinars/{webinar['id']}"


def timeline(client: ChatClient, room: int) -> list[tuple[int, str]]:
    return [(f["seq"], f["type"]) for f in client.events(room, LIVE_KINDS)]


async def test_questions_hands_speakers_and_mute_reach_both_processes_in_order(cluster):
    one, two = cluster
    host, (ana, ben), webinar, base = await webinar_across(cluster, 2)
    room = webinar["room"]
    h = await host.connect(one.ws_url)
    a, b = await ana.connect(two.ws_url), await ben.connect(two.ws_url)
    for client in (h, a, b):
        assert (await client.subscribe(room))["type"] == "subscribed"

    assert (await host.http.post(base + "/start")).status_code == 200
    asked = await ana.http.post(base + "/questions", json={"body": "How do we keep notes safely?"})
    anonymous = await ben.http.post(base + "/questions", json={"body": "What if I freeze?", "anonymous": True})
    assert asked.status_code == anonymous.status_code == 201
    assert (await ben.http.post(f"{base}/questions/{asked.json()['id']}/upvote")).json()["counted"] is True
    assert (await ana.http.post(base + "/hands", json={"raised": True})).json()["changed"] is True
    assert [m["id"] for m in (await host.http.get(base + "/hands")).json()["hands"]] == [ana.id]
    assert (await host.http.post(base + "/speakers", json={"member_id": ana.id})).status_code == 204
    muted = await host.http.post(base + "/mute", json={"member_id": ana.id, "muted": True})
    assert muted.json() == {"member_id": ana.id, "muted": True, "changed": True}
    assert (await host.http.post(base + "/mute", json={"member_id": ana.id, "muted": True})).json()["changed"] is False
    stage = {p["id"]: p for p in (await ben.http.get(base)).json()["people"]}
    assert stage[ana.id]["role"] == "speaker" and stage[ana.id]["muted"] is True and stage[host.id]["muted"] is False
    assert (await ana.http.get(base)).json()["muted"] is True
    assert (await host.http.post(base + "/mute", json={"member_id": ana.id, "muted": False})).status_code == 200
    answered = await host.http.patch(f"{base}/questions/{asked.json()['id']}", json={"state": "answered"})
    assert answered.status_code == 200
    assert (await host.http.delete(f"{base}/speakers/{ana.id}")).status_code == 204

    last = await h.wait_for(lambda f: f["type"] == "speaker" and f["speaker"] is False)
    for client in (a, b):
        await client.wait_for(lambda f: f.get("seq") == last["seq"])
    expected = ["webinar", "question", "question", "question.upvote", "hand", "hand", "speaker", "mute", "mute",
                "question.state", "speaker"]
    seen = timeline(h, room)
    assert [kind for _, kind in seen] == expected
    assert [seq for seq, _ in seen] == list(range(seen[0][0], seen[0][0] + len(expected)))
    assert timeline(a, room) == timeline(b, room) == seen

    # What the attendees' sockets say about the stage, as a page would show it.
    mutes = [f for f in b.events(room, ("mute",))]
    assert [(f["member"]["id"], f["muted"], f["sender"]["id"]) for f in mutes] == [(ana.id, True, host.id),
                                                                                 (ana.id, False, host.id)]
    question = next(f for f in b.events(room, ("question",)) if f["anonymous"])
    assert question["sender"]["id"] is None
    hands = [(f["member"]["id"], f["raised"]) for f in a.events(room, ("hand",))]
    assert hands == [(ana.id, True), (ana.id, False)]   # promotion lowers the hand
    for client in (h, a, b):
        await client.close()


async def test_a_removed_member_stops_receiving_the_room_and_is_refused_everywhere(cluster):
    one, two = cluster
    host, (ana, ben), webinar, base = await webinar_across(cluster, 2)
    room = webinar["room"]
    await host.http.post(base + "/start")
    assert (await ana.http.post(base + "/join")).status_code == 200
    h, b = await host.connect(one.ws_url), await ben.connect(two.ws_url)
    ana_here, ana_there = await ana.connect(two.ws_url), await ana.connect(one.ws_url)   # two tabs
    for client in (h, b, ana_here, ana_there):
        assert (await client.subscribe(room))["type"] == "subscribed"
    await ana.http.post(base + "/hands", json={"raised": True})
    await host.http.post(base + "/speakers", json={"member_id": ana.id})

    removed = await host.http.post(base + "/remove", json={"member_id": ana.id})
    assert removed.json() == {"member_id": ana.id, "removed": True, "changed": True}
    assert (await host.http.post(base + "/remove", json={"member_id": ana.id})).json()["changed"] is False
    event = await b.wait_for(lambda f: f["type"] == "removal")
    assert event["member"]["id"] == ana.id and event["sender"]["id"] == host.id
    for socket in (ana_here, ana_there):
        gone = await socket.wait_for(lambda f: f["type"] == "unsubscribed")
        assert gone == {"type": "unsubscribed", "room": room, "reason": "removed"}

    # The room goes on without her, on both processes.
    said = await h.say(room, "Let us continue.")
    assert said["type"] == "ack"
    await b.wait_for(lambda f: f.get("seq") == said["seq"])
    for socket in (ana_here, ana_there):
        await socket.request({"type": "ping"})   # a round trip after the message went out
        assert all(f.get("seq", 0) < said["seq"] for f in socket.frames if f.get("room") == room)
        assert (await socket.subscribe(room))["type"] == "error"
        assert (await socket.say(room, "Can anyone hear me?"))["type"] == "error"

    # Her standing and every way back in are gone.
    detail = (await ana.http.get(base)).json()
    assert detail["removed"] is True and detail["registered"] is False and detail["role"] is None
    people = {p["id"] for p in (await host.http.get(base)).json()["people"]}
    assert ana.id not in people
    refused = [await ana.http.post(base + "/register"), await ana.http.post(base + "/questions", json={"body": "?"}),
               await ana.http.post(base + "/hands", json={"raised": True}), await ana.http.post(base + "/join")]
    assert [r.status_code for r in refused] == [403, 403, 403, 403]
    assert refused[0].json()["error"]["message"] == "you were removed from this webinar"
    assert (await ana.http.post(f"/api/rooms/{room}/join")).status_code in (403, 404)
    assert (await host.http.post(base + "/speakers", json={"member_id": ana.id})).status_code == 404
    assert (await host.http.post(base + "/panelists", json={"member_id": ana.id})).status_code == 409
    report = {r["member"]["id"]: r for r in (await host.http.get(base + "/attendance")).json()["attendance"]}
    assert report[ana.id]["present"] is False   # her visit closed with the removal
    for client in (h, b, ana_here, ana_there):
        await client.close()


async def test_only_moderators_mute_and_remove_and_panelists_do_not_outrank_hosts(cluster):
    one, _ = cluster
    host, (panelist, other_panelist, ana, ben), webinar, base = await webinar_across(cluster, 4)
    for member in (panelist, other_panelist):
        assert (await host.http.post(base + "/panelists", json={"member_id": member.id})).status_code == 204
    await host.http.post(base + "/start")
    await host.http.post(base + "/speakers", json={"member_id": ana.id})

    def mute(who: Api, target: Api, muted: bool = True):
        return who.http.post(base + "/mute", json={"member_id": target.id, "muted": muted})

    def remove(who: Api, target: Api):
        return who.http.post(base + "/remove", json={"member_id": target.id})

    # Attendees and speakers do neither, not even to themselves.
    for who, target in ((ben, ana), (ben, host), (ana, ana), (ana, ben)):
        assert (await mute(who, target)).status_code == 403
        assert (await remove(who, target)).status_code == 403
    assert (await mute(host, ana, False)).json()["changed"] is False   # never muted
    # Panelists mute speakers and panelists, not hosts; they remove attendees and speakers, not the panel.
    assert (await mute(panelist, ana)).status_code == 200
    assert (await mute(panelist, other_panelist)).status_code == 200
    assert (await mute(panelist, host)).status_code == 403
    assert (await remove(panelist, other_panelist)).status_code == 403
    assert (await remove(panelist, host)).status_code == 403
    # Hosts mute anyone on stage; nobody removes a host or themselves.
    assert (await mute(host, other_panelist, False)).json()["changed"] is True
    assert (await mute(host, ben)).status_code == 422            # attendees have no microphone on stage
    assert (await remove(host, host)).status_code == 422
    outsider = await Api.register(one.url)
    assert (await remove(host, outsider)).status_code == 404     # not registered
    assert (await host.http.post(base + "/mute", json={"member_id": ana.id})).status_code == 422
    assert (await remove(panelist, ben)).status_code == 200
    assert (await remove(host, other_panelist)).status_code == 200
    people = {p["id"]: p["muted"] for p in (await ana.http.get(base)).json()["people"]}
    assert people == {host.id: False, panelist.id: False, ana.id: True}
