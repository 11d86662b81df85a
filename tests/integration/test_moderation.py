"""Chat moderation on both backends: mutes, kicks, bans, slow mode, reports and their queue, the audit trail."""

from __future__ import annotations

import csv
import io
import re
import uuid

import httpx
import pytest

from tests.support.client import Api, ChatClient
from tests.support.doc_examples import DOC, run_example
from tests.support.emergency import open_emergency
from tests.support.moderation import admin_command, promote, site_admin


async def room_with(server, visibility: str = "public") -> tuple[Api, Api, int]:
    owner, member = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("moderated", visibility=visibility)
    if visibility == "private":
        await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": member.id})
    assert (await member.join(room)).status_code == 200
    return owner, member, room


async def test_a_muted_member_reads_but_cannot_send_or_edit_until_the_mute_is_lifted(server):
    owner, member, room = await room_with(server)
    m = await member.connect(server.ws_url)
    await m.subscribe(room)
    said = await m.say(room, "before the mute")
    response = await owner.http.post(f"/api/rooms/{room}/mutes",
                                     json={"member_id": member.id, "minutes": 5, "reason": "cool down"})
    assert response.status_code == 201, response.text
    assert response.json()["member"]["id"] == member.id and response.json()["reason"] == "cool down"
    event = await m.wait_for(lambda f: f["type"] == "moderation")
    assert event["action"] == "mute" and event["member"]["id"] == member.id and event["sender"]["id"] == owner.id

    refused = await m.say(room, "still talking")
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert 290 < refused["retry_after"] <= 300
    refused = await m.request({"type": "edit", "room": room, "target": said["seq"], "body": "changed"})
    assert refused["code"] == "forbidden" and refused["retry_after"] > 290
    # Still reading, live and over HTTP.
    o = await owner.connect(server.ws_url)
    ack = await o.say(room, "you can still read this")
    await m.wait_for(lambda f: f["type"] == "message" and f["seq"] == ack["seq"])
    assert (await member.http.get(f"/api/rooms/{room}/messages")).status_code == 200
    mutes = (await owner.http.get(f"/api/rooms/{room}/mutes")).json()["mutes"]
    assert [entry["member"]["id"] for entry in mutes] == [member.id]
    assert (await member.http.get(f"/api/rooms/{room}/mutes")).status_code == 403

    assert (await owner.http.delete(f"/api/rooms/{room}/mutes/{member.id}")).status_code == 204
    assert (await owner.http.delete(f"/api/rooms/{room}/mutes/{member.id}")).status_code == 404
    assert (await m.say(room, "thank you"))["type"] == "ack"
    await m.close(), await o.close()


async def test_a_muted_member_cannot_react_and_is_told_when_they_may(server):
    owner, member, room = await room_with(server)
    o, m = await owner.connect(server.ws_url), await member.connect(server.ws_url)
    said = await o.say(room, "react to this")
    assert (await owner.http.post(f"/api/rooms/{room}/mutes",
                                  json={"member_id": member.id, "minutes": 5})).status_code == 201
    react = {"type": "react", "room": room, "target": said["seq"], "emoji": "👍"}
    refused = await m.request(react)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert 290 < refused["retry_after"] <= 300
    history = (await owner.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    assert not next(message for message in history if message["seq"] == said["seq"]).get("reactions")
    assert (await owner.http.delete(f"/api/rooms/{room}/mutes/{member.id}")).status_code == 204
    assert (await m.request(react))["type"] == "ack"
    await m.close(), await o.close()


async def test_a_kick_from_a_public_room_ends_the_live_subscription_and_they_may_rejoin(server):
    owner, member, room = await room_with(server)
    moderator = await Api.register(server.url)
    await moderator.join(room)
    await promote(owner, room, moderator)
    m = await member.connect(server.ws_url)
    await m.subscribe(room)
    assert (await moderator.http.delete(f"/api/rooms/{room}/members/{member.id}")).status_code == 204
    ended = await m.wait_for(lambda f: f["type"] == "unsubscribed")
    assert ended == {"type": "unsubscribed", "room": room, "reason": "removed"}
    o = await owner.connect(server.ws_url)
    await o.subscribe(room)
    ack = await o.say(room, "after the kick")
    await o.wait_for_seq(room, ack["seq"])
    await m.request({"type": "ping"})
    assert not [f for f in m.frames if f["type"] == "message" and f["seq"] == ack["seq"]]
    # A moderator does not kick an owner or another moderator; a member kicks nobody.
    assert (await moderator.http.delete(f"/api/rooms/{room}/members/{owner.id}")).status_code == 403
    assert (await member.join(room)).status_code == 200
    assert (await member.http.delete(f"/api/rooms/{room}/members/{moderator.id}")).status_code == 403
    assert (await m.subscribe(room))["type"] == "subscribed"
    await m.close(), await o.close()


async def test_a_ban_ends_subscriptions_and_refuses_joining_reading_and_writing_until_lifted(server):
    owner, member, room = await room_with(server)
    o, m = await owner.connect(server.ws_url), await member.connect(server.ws_url)
    await o.subscribe(room), await m.subscribe(room)
    await o.say(room, "before the ban")
    response = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id, "reason": "spam"})
    assert response.status_code == 201, response.text
    assert response.json()["until"] is None
    ended = await m.wait_for(lambda f: f["type"] == "unsubscribed")
    assert ended == {"type": "unsubscribed", "room": room, "reason": "banned"}
    await o.wait_for(lambda f: f["type"] == "moderation" and f["action"] == "ban")

    refused = await m.subscribe(room)
    assert refused["type"] == "error" and refused["code"] == "forbidden"
    assert (await m.say(room, "let me back"))["code"] == "forbidden"
    assert (await m.request({"type": "history", "room": room}))["code"] == "forbidden"
    assert (await member.http.get(f"/api/rooms/{room}/messages")).status_code == 403
    assert (await member.http.get(f"/api/rooms/{room}")).status_code == 403
    assert (await member.join(room)).status_code == 403
    hits = (await member.http.get("/api/search", params={"q": "before"})).json()["results"]
    assert not [hit for hit in hits if hit["room"] == room]
    bans = (await owner.http.get(f"/api/rooms/{room}/bans")).json()["bans"]
    assert [(b["member"]["id"], b["reason"], b["until"]) for b in bans] == [(member.id, "spam", None)]

    assert (await owner.http.delete(f"/api/rooms/{room}/bans/{member.id}")).status_code == 204
    assert (await owner.http.get(f"/api/rooms/{room}/bans")).json()["bans"] == []
    assert (await member.join(room)).status_code == 200
    assert (await m.subscribe(room))["type"] == "subscribed"
    assert (await m.say(room, "I will behave"))["type"] == "ack"
    await o.close(), await m.close()


async def test_a_timed_ban_says_when_it_ends(server):
    owner, member, room = await room_with(server, visibility="private")
    response = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id, "minutes": 10})
    assert response.status_code == 201 and response.json()["until"] is not None
    refused = await member.http.get(f"/api/rooms/{room}/messages")
    assert refused.status_code == 403
    assert 590 < refused.json()["error"]["retry_after"] <= 600
    assert int(refused.headers["retry-after"]) > 590
    # Bad input is refused by name; a typo in a field is never read as "ban for good".
    bad = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id, "minuts": 5})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "minuts"
    assert (await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": owner.id})).status_code == 422


async def test_slow_mode_lets_one_message_per_interval_through_and_moderators_are_exempt(server):
    owner, member, room = await room_with(server)
    response = await owner.http.put(f"/api/rooms/{room}/slow-mode", json={"seconds": 30})
    assert response.status_code == 200 and response.json() == {"room": room, "seconds": 30}
    assert (await member.http.put(f"/api/rooms/{room}/slow-mode", json={"seconds": 0})).status_code == 403
    m, o = await member.connect(server.ws_url), await owner.connect(server.ws_url)
    first_id = uuid.uuid4().hex
    first = await m.say(room, "one", client_id=first_id)
    assert first["type"] == "ack"
    refused = await m.say(room, "two")
    assert refused["type"] == "error" and refused["code"] == "slow_mode" and refused["retryable"] is True
    assert 25 < refused["retry_after"] <= 30
    # A resend of the message that got through is still its duplicate, not a refusal.
    again = await m.say(room, "one", client_id=first_id)
    assert again["type"] == "ack" and again["duplicate"] is True and again["seq"] == first["seq"]
    assert (await o.say(room, "owners are exempt"))["type"] == "ack"
    assert (await o.say(room, "twice"))["type"] == "ack"
    assert (await owner.http.put(f"/api/rooms/{room}/slow-mode", json={"seconds": 0})).status_code == 200
    assert (await m.say(room, "two"))["type"] == "ack"
    await m.close(), await o.close()


async def test_a_report_reaches_the_queue_and_a_moderator_acts_on_it(server):
    owner, author, room = await room_with(server)
    reporter, bystander, moderator = [await Api.register(server.url) for _ in range(3)]
    for person in (reporter, bystander, moderator):
        await person.join(room)
    await promote(owner, room, moderator)
    a = await author.connect(server.ws_url)
    rude = await a.say(room, "something hurtful")
    fine = await a.say(room, "something fine")

    response = await reporter.http.post(f"/api/rooms/{room}/reports", json={"seq": rude["seq"], "reason": "hurtful"})
    assert response.status_code == 201 and response.json()["status"] == "received"
    again = await reporter.http.post(f"/api/rooms/{room}/reports", json={"seq": rude["seq"], "reason": "hurtful"})
    assert again.status_code == 200 and again.json()["id"] == response.json()["id"]
    assert (await bystander.http.post(f"/api/rooms/{room}/reports",
                                      json={"seq": fine["seq"], "reason": "not sure"})).status_code == 201
    assert (await author.http.post(f"/api/rooms/{room}/reports",
                                   json={"seq": rude["seq"], "reason": "mine"})).status_code == 422
    assert (await bystander.http.get(f"/api/rooms/{room}/reports")).status_code == 403

    queue = (await moderator.http.get(f"/api/rooms/{room}/reports")).json()["reports"]
    assert [(r["seq"], r["reason"], r["reporter"]["id"], r["message"]["body"]) for r in queue] == [
        (rude["seq"], "hurtful", reporter.id, "something hurtful"), (fine["seq"], "not sure", bystander.id,
                                                                     "something fine")]
    rude_report, fine_report = queue[0]["id"], queue[1]["id"]
    o = await owner.connect(server.ws_url)
    await o.subscribe(room)
    acted = await moderator.http.post(f"/api/rooms/{room}/reports/{rude_report}/resolve", json={"action": "delete"})
    assert acted.status_code == 200, acted.text
    report = acted.json()["report"]
    assert report["status"] == "actioned" and report["action"] == "delete"
    assert report["handled_by"]["id"] == moderator.id
    deleted = await o.wait_for(lambda f: f["type"] == "message.deleted" and f["target"] == rude["seq"])
    assert deleted["sender"]["id"] == moderator.id
    dismissed = await owner.http.post(f"/api/rooms/{room}/reports/{fine_report}/resolve", json={"action": "dismiss"})
    assert dismissed.json()["report"]["status"] == "dismissed"
    twice = await owner.http.post(f"/api/rooms/{room}/reports/{fine_report}/resolve", json={"action": "ban"})
    assert twice.status_code == 409
    assert (await moderator.http.get(f"/api/rooms/{room}/reports")).json()["reports"] == []
    handled = (await moderator.http.get(f"/api/rooms/{room}/reports", params={"status": "all"})).json()["reports"]
    assert {(r["id"], r["action"], r["handled_by"]["id"]) for r in handled} == {
        (rude_report, "delete", moderator.id), (fine_report, "dismiss", owner.id)}

    # Acting with a mute reaches the author's next message.
    third = await a.say(room, "another hurtful thing")
    filed = await reporter.http.post(f"/api/rooms/{room}/reports", json={"seq": third["seq"], "reason": "again"})
    muted = await moderator.http.post(f"/api/rooms/{room}/reports/{filed.json()['id']}/resolve",
                                      json={"action": "mute", "minutes": 15})
    assert muted.status_code == 200 and muted.json()["report"]["action"] == "mute"
    refused = await a.say(room, "and more")
    assert refused["code"] == "forbidden" and 890 < refused["retry_after"] <= 900
    # The queue pages: the moderator's, and nobody else's.
    page = await moderator.http.get(f"/rooms/{room}/moderation")
    assert page.status_code == 200 and "another hurtful thing" not in page.text and "Who did what" in page.text
    assert (await bystander.http.get(f"/rooms/{room}/moderation")).status_code == 403
    await a.close(), await o.close()


async def test_reporting_and_acting_through_the_pages(server):
    owner, author, room = await room_with(server)
    reporter = await Api.register(server.url)
    await reporter.join(room)
    a = await author.connect(server.ws_url)
    said = await a.say(room, "reported from the page")
    form = {"content-type": "application/x-www-form-urlencoded"}
    page = await reporter.http.get(f"/rooms/{room}")
    assert f"/rooms/{room}/messages/{said['seq']}/report" in page.text
    sent = await reporter.http.post(f"/rooms/{room}/messages/{said['seq']}/report", content="reason=off+topic",
                                    headers=form)
    assert sent.status_code == 200 and 'id="report-sent"' in sent.text
    queue = await owner.http.get(f"/rooms/{room}/moderation")
    assert "reported from the page" in queue.text and "off topic" in queue.text
    report = (await owner.http.get(f"/api/rooms/{room}/reports")).json()["reports"][0]["id"]
    acted = await owner.http.post(f"/rooms/{room}/moderation/reports/{report}", content="action=ban&minutes=60",
                                  headers=form)
    assert acted.status_code == 303
    assert (await author.http.get(f"/api/rooms/{room}/messages")).status_code == 403
    lifted = await owner.http.post(f"/rooms/{room}/moderation/restrictions/{author.id}/lift", content="kind=ban",
                                   headers=form)
    assert lifted.status_code == 303
    assert (await author.http.get(f"/api/rooms/{room}/messages")).status_code == 200
    await a.close()


async def test_the_audit_trail_has_every_moderation_action_and_role_change(server):
    owner, member, room = await room_with(server)
    moderator = await Api.register(server.url)
    await moderator.join(room)
    await promote(owner, room, moderator)
    await owner.http.post(f"/api/rooms/{room}/mutes", json={"member_id": member.id, "minutes": 5})
    await owner.http.delete(f"/api/rooms/{room}/mutes/{member.id}")
    await owner.http.put(f"/api/rooms/{room}/slow-mode", json={"seconds": 10})
    await moderator.http.delete(f"/api/rooms/{room}/members/{member.id}")
    await moderator.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id, "minutes": 60, "reason": "r"})
    await promote(owner, room, moderator, "member")

    response = await moderator.http.get(f"/api/rooms/{room}/audit")
    assert response.status_code == 403   # no longer a moderator
    response = await owner.http.get(f"/api/rooms/{room}/audit")
    assert response.status_code == 200
    entries = response.json()["entries"]
    assert [(e["action"], e["actor_id"]) for e in entries] == [
        ("moderation.role", owner.id), ("moderation.mute", owner.id), ("moderation.unmute", owner.id),
        ("moderation.slow_mode", owner.id), ("moderation.kick", moderator.id), ("moderation.ban", moderator.id),
        ("moderation.role", owner.id)]
    assert entries[0]["details"]["role"] == "moderator" and entries[0]["details"]["previous"] == "member"
    demoted = entries[-1]["details"]
    assert (demoted["member"]["id"], demoted["role"], demoted["previous"]) == (moderator.id, "member", "moderator")
    assert entries[5]["details"]["member"]["id"] == member.id and entries[5]["details"]["reason"] == "r"
    exported = await owner.http.get(f"/api/rooms/{room}/audit", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["action"] for row in rows] == [e["action"] for e in entries]
    assert (await member.http.get(f"/api/rooms/{room}/audit")).status_code == 403


async def test_role_changes_are_on_an_emergency_rooms_audit_trail(server):
    coordinator, responder = await Api.register(server.url), await Api.register(server.url)
    room = await open_emergency(coordinator, [responder])
    assert (await coordinator.http.post(f"/api/rooms/{room}/members/{responder.id}/role",
                                        json={"role": "moderator"})).status_code == 204
    trail = (await coordinator.http.get(f"/api/emergencies/{room}/audit.json")).json()["entries"]
    roles = [e for e in trail if e["action"] == "moderation.role"]
    assert [(e["details"]["member"]["id"], e["details"]["role"], e["details"]["previous"]) for e in roles] == [
        (responder.id, "moderator", "member")]


async def test_site_admins_moderate_rooms_they_do_not_belong_to(server):
    owner, member, room = await room_with(server, visibility="private")
    admin = await site_admin(server)
    assert (await admin.http.get(f"/api/rooms/{room}/messages")).status_code == 404   # reading stays private
    response = await admin.http.post(f"/api/rooms/{room}/mutes", json={"member_id": member.id, "minutes": 1})
    assert response.status_code == 201
    assert (await admin.http.get(f"/api/rooms/{room}/audit")).status_code == 200
    # Room moderators cannot act on a site admin, and only site admins see every room's reports.
    await admin.http.post(f"/api/rooms/{room}/join")
    assert (await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": admin.id})).status_code == 403
    assert (await owner.http.get("/api/admin/reports")).status_code == 403
    assert (await admin.http.get("/api/admin/reports")).status_code == 200
    assert (await admin.http.get("/admin")).status_code == 200
    assert (await owner.http.get("/admin")).status_code == 403


async def test_suspend_and_unsuspend_from_the_command_line_end_tokens_and_browser_sessions(server):
    member = await Api.register(server.url, password="correct horse")
    username = member.member["username"]
    credentials = {"username": username, "password": "correct horse"}
    browser = httpx.AsyncClient(base_url=server.url, timeout=15)
    assert (await browser.post("/api/auth/login", json=credentials)).status_code == 200
    cookie = f"convene_session={browser.cookies['convene_session']}"
    # Both sessions used before the suspension, so this process holds them as verified.
    sockets = [await member.connect(server.ws_url), await ChatClient.connect(server.ws_url, cookie=cookie)]
    assert (await member.http.get("/api/me")).status_code == 200
    assert (await browser.get("/api/me")).status_code == 200

    assert f"{username} is now suspended." in admin_command(server, "suspend", username, "--reason", "spam")
    # Announced over Redis on Postgres; on the embedded default the server finds it in the store
    # within REPAIR_INTERVAL_S (0.5 s here). Either way the sockets close before anything else is tried.
    for client in sockets:
        assert await client.closed_within(3.0) == (4401, "account suspended")
    assert (await member.http.get("/api/me")).status_code == 401
    assert (await browser.get("/api/me")).status_code == 401
    refused = await ChatClient.connect(server.ws_url, cookie=cookie, wait_hello=False)
    first = await refused.wait_for(lambda f: True)
    assert (first["type"], first.get("code")) == ("error", "unauthenticated")
    await refused.close()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        assert (await http.post("/api/auth/login", json=credentials)).status_code == 403
        assert "already suspended" in admin_command(server, "suspend", username)

        assert f"{username} is no longer suspended." in admin_command(server, "unsuspend", username)
        assert (await http.post("/api/auth/login", json=credentials)).status_code == 200
        assert (await http.get("/api/me")).json()["member"]["id"] == member.id
    await browser.aclose(), await member.aclose()


MODERATION_BLOCK = re.compile(r"```ws moderation\n(.*?)```", re.S)


def moderation_examples() -> list[str]:
    return MODERATION_BLOCK.findall(DOC.read_text())


def test_protocol_md_has_moderation_examples():
    assert len(moderation_examples()) >= 4


@pytest.mark.parametrize("number", range(len(moderation_examples())))
async def test_moderation_protocol_example(server, number):
    """docs/protocol.md, "Moderation": Alice owns $room, Bob is a member of it."""
    alice = await Api.register(server.url, display_name="Alice")
    bob = await Api.register(server.url, display_name="Bob")
    room = await alice.create_room("example")
    await bob.join(room)
    variables = {"$room": room, "$alice": alice.id, "$bob": bob.id}
    clients = {"alice": await alice.connect_raw(server.ws_url), "bob": await bob.connect(server.ws_url)}
    await run_example(moderation_examples()[number], clients, variables, {"alice": alice, "bob": bob})
    for client in clients.values():
        await client.close()
