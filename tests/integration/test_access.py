"""Authorization on every room and conversation, over HTTP and the socket; handshake checks."""

from __future__ import annotations

import httpx
import pytest
import websockets

from tests.support.client import Api, ChatClient


async def test_non_member_cannot_read_or_subscribe_to_a_private_room(server):
    owner, outsider = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("coordinators", visibility="private")
    o = await owner.connect(server.ws_url)
    await o.subscribe(room)
    await o.say(room, "confidential")

    assert (await outsider.http.get(f"/api/rooms/{room}/messages")).status_code == 404
    assert (await outsider.http.get(f"/api/rooms/{room}")).status_code == 404
    assert (await outsider.http.get(f"/api/rooms/{room}/members")).status_code == 404
    assert (await outsider.join(room)).status_code == 404
    hits = (await outsider.http.get("/api/search", params={"q": "confidential"})).json()["results"]
    assert hits == []
    x = await outsider.connect(server.ws_url)
    refused = await x.subscribe(room)
    assert refused["type"] == "error" and refused["code"] == "not_found" and refused["room"] == room
    refused = await x.request({"type": "history", "room": room})
    assert refused["code"] == "not_found"
    refused = await x.say(room, "let me in")
    assert refused["code"] == "not_found"
    await o.say(room, "still confidential")
    await x.request({"type": "ping"})
    assert not [f for f in x.frames if f["type"] == "message"]
    await o.close(), await x.close()


async def test_invited_member_may_join_a_private_room(server):
    owner, guest = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("invite only", visibility="private")
    assert (await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": guest.id})).status_code == 204
    assert room in (await guest.http.get("/api/rooms")).json()["invited"]
    assert (await guest.join(room)).status_code == 200
    g = await guest.connect(server.ws_url)
    assert (await g.subscribe(room))["type"] == "subscribed"
    await g.close()


async def test_removed_member_stops_receiving_a_private_room_at_once(server):
    owner, member = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("shrinking", visibility="private")
    await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": member.id})
    await member.join(room)
    m = await member.connect(server.ws_url)
    await m.subscribe(room)
    response = await owner.http.delete(f"/api/rooms/{room}/members/{member.id}")
    assert response.status_code == 204
    dropped = await m.wait_for(lambda f: f["type"] == "unsubscribed")
    assert dropped == {"type": "unsubscribed", "room": room, "reason": "removed"}
    o = await owner.connect(server.ws_url)
    await o.subscribe(room)
    ack = await o.say(room, "after the removal")
    await o.wait_for_seq(room, ack["seq"])
    await m.request({"type": "ping"})
    assert not [f for f in m.frames if f["type"] == "message"]
    await o.close(), await m.close()


async def test_outsider_cannot_read_anothers_direct_messages(server):
    alice, bob, eve = (await Api.register(server.url) for _ in range(3)) if False else [
        await Api.register(server.url) for _ in range(3)]
    dm = (await alice.http.post("/api/dms", json={"members": [bob.id]})).json()["id"]
    a = await alice.connect(server.ws_url)
    await a.subscribe(dm)
    await a.say(dm, "private words")
    assert (await eve.http.get(f"/api/rooms/{dm}/messages")).status_code == 404
    assert (await eve.join(dm)).status_code == 404
    e = await eve.connect(server.ws_url)
    assert (await e.subscribe(dm))["code"] == "not_found"
    assert (await e.request({"type": "who", "room": dm}))["code"] == "not_found"
    assert (await e.request({"type": "typing", "room": dm}))["code"] == "not_found"
    await a.close(), await e.close()


async def test_public_room_can_be_read_but_not_written_before_joining(server):
    owner, visitor = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("open")
    v = await visitor.connect(server.ws_url)
    assert (await v.subscribe(room))["type"] == "subscribed"
    refused = await v.say(room, "hello?")
    assert refused["code"] == "forbidden"
    await v.close()


async def test_history_page_follows_who_may_read_the_room(server):
    owner, visitor, member = [await Api.register(server.url) for _ in range(3)]
    public = await owner.create_room("open history")
    private = await owner.create_room("closed history", visibility="private")
    empty = await owner.create_room("nothing said yet", visibility="private")
    await owner.http.post(f"/api/rooms/{private}/invite", json={"member_id": member.id})
    await member.join(private)
    o = await owner.connect(server.ws_url)
    for room in (public, private):
        await o.say(room, "on the record")

    def bodies(response: httpx.Response) -> list[str]:
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"
        return [m["body"] for m in response.json()["messages"]]

    assert bodies(await visitor.http.get(f"/api/rooms/{public}/messages")) == ["on the record"]
    assert bodies(await member.http.get(f"/api/rooms/{private}/messages")) == ["on the record"]
    assert (await visitor.http.get(f"/api/rooms/{private}/messages")).status_code == 404
    assert (await owner.http.delete(f"/api/rooms/{private}/members/{member.id}")).status_code == 204
    assert (await member.http.get(f"/api/rooms/{private}/messages")).status_code == 404
    # An empty page is not a refusal, and a refusal is not an empty page.
    assert bodies(await owner.http.get(f"/api/rooms/{empty}/messages")) == []
    assert bodies(await owner.http.get(f"/api/rooms/{private}/messages", params={"before": 1})) == []
    assert (await visitor.http.get(f"/api/rooms/{empty}/messages")).status_code == 404
    assert (await visitor.http.get("/api/rooms/999999999/messages")).status_code == 404
    await o.close()


async def test_foreign_origin_handshake_is_refused(server):
    member = await Api.register(server.url)
    with pytest.raises(websockets.InvalidStatus) as refused:
        await ChatClient.connect(server.ws_url, member.token, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    own = await ChatClient.connect(server.ws_url, member.token, origin=server.url)
    await own.close()


async def test_unauthenticated_socket_gets_a_typed_error_and_close(server):
    ws = await websockets.connect(server.ws_url)
    frame = await ws.recv()
    assert '"code":"unauthenticated"' in frame
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd.code == 4401


async def test_cookie_authenticated_write_from_foreign_origin_is_refused(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        response = await http.post("/api/auth/register", json={
            "username": "csrf" + str(id(http))[-6:], "password": "long enough", "display_name": "C"})
        assert response.status_code == 201
        evil = await http.post("/api/rooms", json={"name": "x"}, headers={"Origin": "https://evil.example"})
        assert evil.status_code == 403
        own = await http.post("/api/rooms", json={"name": "x"}, headers={"Origin": server.url})
        assert own.status_code == 201
        assert (await http.post("/api/auth/logout", headers={"Origin": server.url})).status_code == 204
        assert (await http.get("/api/rooms")).status_code == 401


async def test_every_response_carries_the_security_headers(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        for path in ("/login", "/api/rooms", "/healthz", "/static/style.css", "/nope"):
            headers = (await http.get(path)).headers
            csp = headers["content-security-policy"]
            assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "same-origin"


async def test_roles_owner_promotes_moderator_who_may_delete_but_not_promote(server):
    owner, mod, member = [await Api.register(server.url) for _ in range(3)]
    room = await owner.create_room("roles")
    await mod.join(room), await member.join(room)
    assert (await member.http.post(f"/api/rooms/{room}/members/{mod.id}/role",
                                   json={"role": "moderator"})).status_code == 403
    assert (await owner.http.post(f"/api/rooms/{room}/members/{mod.id}/role",
                                  json={"role": "moderator"})).status_code == 204
    roles = {m["id"]: m["role"] for m in (await owner.http.get(f"/api/rooms/{room}/members")).json()["members"]}
    assert roles == {owner.id: "owner", mod.id: "moderator", member.id: "member"}
    m = await member.connect(server.ws_url)
    said = await m.say(room, "needs moderation")
    d = await mod.connect(server.ws_url)
    assert (await d.request({"type": "delete", "room": room, "target": said["seq"]}))["type"] == "ack"
    assert (await mod.http.post(f"/api/rooms/{room}/members/{member.id}/role",
                                json={"role": "owner"})).status_code == 403
    # The last owner cannot walk away from a room that still has members.
    assert (await owner.http.post(f"/api/rooms/{room}/leave")).status_code == 422
    assert (await member.http.post(f"/api/rooms/{room}/leave")).status_code == 204
    await m.close(), await d.close()
