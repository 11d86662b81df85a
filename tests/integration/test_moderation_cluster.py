"""Moderation across two server processes on Postgres and Redis: a ban and a suspension act on every process."""

from __future__ import annotations

import time

import httpx

from tests.support.client import Api
from tests.support.moderation import site_admin


async def test_a_ban_through_one_process_ends_the_subscription_on_the_other_within_a_second(cluster):
    one, two = cluster
    owner, member = await Api.register(one.url), await Api.register(two.url)
    room = await owner.create_room("across processes")
    await member.join(room)
    m = await member.connect(two.ws_url)
    await m.subscribe(room)
    response = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id})
    assert response.status_code == 201
    banned_at = time.monotonic()
    ended = await m.wait_for(lambda f: f["type"] == "unsubscribed", timeout=1.0)
    assert ended["reason"] == "banned" and time.monotonic() - banned_at <= 1.0

    assert (await m.subscribe(room))["code"] == "forbidden"
    assert (await m.say(room, "from the other process"))["code"] == "forbidden"
    assert (await m.request({"type": "history", "room": room}))["code"] == "forbidden"
    for process in (one, two):
        async with httpx.AsyncClient(base_url=process.url, headers={"Authorization": f"Bearer {member.token}"}) as http:
            assert (await http.get(f"/api/rooms/{room}/messages")).status_code == 403
    await m.close()


async def test_a_suspension_closes_the_members_sockets_on_both_processes_and_their_token_stops_working(cluster):
    one, two = cluster
    admin = await site_admin(one)
    member = await Api.register(two.url, password="correct horse")
    sockets = [await member.connect(one.ws_url), await member.connect(two.ws_url)]
    assert (await member.http.get("/api/me")).status_code == 200   # the token is now cached on two
    response = await admin.http.post(f"/api/admin/members/{member.id}/suspension", json={"reason": "abuse"})
    assert response.status_code == 201, response.text
    for client in sockets:
        code, reason = await client.closed_within(2.0)
        assert (code, reason) == (4401, "account suspended")
    for process in (one, two):
        async with httpx.AsyncClient(base_url=process.url) as http:
            me = await http.get("/api/me", headers={"Authorization": f"Bearer {member.token}"})
            assert me.status_code == 401
            login = await http.post("/api/auth/login", json={"username": member.member["username"],
                                                               "password": "correct horse"})
            assert login.status_code == 403
    found = (await admin.http.get("/api/admin/members", params={"q": member.member["username"]})).json()["members"]
    assert [(m["id"], m["suspended"]) for m in found] == [(member.id, True)]

    assert (await admin.http.delete(f"/api/admin/members/{member.id}/suspension")).status_code == 204
    assert (await member.http.get("/api/me")).status_code == 200
