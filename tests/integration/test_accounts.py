"""Accounts, sessions, tokens, profiles, the member directory and message search."""

from __future__ import annotations

import httpx

from tests.support.client import Api


async def test_register_login_logout_with_the_session_cookie(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        name = f"s{abs(hash(http)) % 10**8}"
        registered = await http.post("/api/auth/register", json={
            "username": name, "password": "a good password", "display_name": "Sam"})
        assert registered.status_code == 201
        cookie = registered.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie
        assert (await http.get("/api/me")).json()["member"]["username"] == name
        assert (await http.post("/api/auth/logout")).status_code == 204
        assert (await http.get("/api/me")).status_code == 401
        wrong = await http.post("/api/auth/login", json={"username": name, "password": "not it at all"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthenticated"
        right = await http.post("/api/auth/login", json={"username": name, "password": "a good password"})
        assert right.status_code == 200
        assert (await http.get("/api/me")).status_code == 200
        taken = await http.post("/api/auth/register", json={"username": name, "password": "whatever123"})
        assert taken.status_code == 409 and taken.json()["error"]["field"] == "username"


async def test_bearer_token_and_profile_and_directory(server):
    member = await Api.register(server.url, display_name="Nadia Haddad")
    changed = await member.http.patch("/api/me", json={
        "bio": "Child protection and MHPSS", "organisation": "Field Aid", "country": "LB",
        "languages": ["ar", "fr"], "practice_areas": ["psychological first aid"]})
    assert changed.status_code == 200
    profile = changed.json()["member"]
    assert profile["country"] == "LB" and profile["languages"] == ["ar", "fr"]
    found = (await member.http.get("/api/members", params={"q": "field aid"})).json()["members"]
    assert member.id in [m["id"] for m in found]
    assert (await member.http.get(f"/api/members/{member.id}")).json()["member"]["organisation"] == "Field Aid"
    bogus = httpx.AsyncClient(base_url=server.url, headers={"Authorization": "Bearer nope"})
    assert (await bogus.get("/api/members")).status_code == 401
    await bogus.aclose()


async def test_search_finds_messages_the_member_may_read(server):
    alice, bob = await Api.register(server.url), await Api.register(server.url)
    room = await alice.create_room("search")
    await bob.join(room)
    a = await alice.connect(server.ws_url)
    await a.subscribe(room)
    await a.say(room, "Grounding techniques for panic attacks")
    await a.say(room, "Unrelated logistics")
    hits = (await bob.http.get("/api/search", params={"q": "grounding panic"})).json()["results"]
    assert [h["body"] for h in hits] == ["Grounding techniques for panic attacks"]
    assert hits[0]["room"] == room
    hits = (await bob.http.get("/api/search", params={"q": "ground"})).json()["results"]
    assert len(hits) == 1   # prefix matching
    weird = (await bob.http.get("/api/search", params={"q": '"* OR NEAR( -- \' ;'})).json()["results"]
    assert weird == []
    await a.close()


async def test_health_and_readiness(server):
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = (await http.get("/readyz")).json()
        assert ready == {"store": "ok", "broker": "connected", "ready": True}
