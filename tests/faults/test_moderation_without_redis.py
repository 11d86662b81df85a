"""A ban and a suspension made while Redis is down still act on every process, from the store, within
REPAIR_INTERVAL_S + 1 s: the broker is only the fast path for moderation as for messages."""

from __future__ import annotations

import time

import httpx

from tests.support.client import Api
from tests.support.moderation import site_admin


async def test_a_ban_and_a_suspension_made_while_redis_is_down_act_on_the_other_process(start_servers,
                                                                                         private_redis):
    one, two = start_servers(2)
    within = float(two.env["REPAIR_INTERVAL_S"]) + 1.0
    admin = await site_admin(one)
    owner, member, other = await Api.register(one.url), await Api.register(two.url), await Api.register(two.url)
    room = await owner.create_room("no broker")
    await member.join(room)
    m, x = await member.connect(two.ws_url), await other.connect(two.ws_url)
    await m.subscribe(room)
    assert (await other.http.get("/api/me")).status_code == 200

    private_redis.kill()
    response = await owner.http.post(f"/api/rooms/{room}/bans", json={"member_id": member.id})
    assert response.status_code == 201
    banned_at = time.monotonic()
    ended = await m.wait_for(lambda f: f["type"] == "unsubscribed", timeout=within)
    assert ended == {"type": "unsubscribed", "room": room, "reason": "banned"}
    assert time.monotonic() - banned_at <= within
    assert (await m.subscribe(room))["code"] == "forbidden"
    assert (await m.say(room, "still here?"))["code"] == "forbidden"
    assert (await m.request({"type": "history", "room": room}))["code"] == "forbidden"
    assert (await member.http.get(f"/api/rooms/{room}/messages")).status_code == 403

    response = await admin.http.post(f"/api/admin/members/{other.id}/suspension", json={})
    assert response.status_code == 201
    code, reason = await x.closed_within(within)
    assert (code, reason) == (4401, "account suspended")
    async with httpx.AsyncClient(base_url=two.url, headers={"Authorization": f"Bearer {other.token}"}) as http:
        assert (await http.get("/api/me")).status_code == 401
    await m.close()
