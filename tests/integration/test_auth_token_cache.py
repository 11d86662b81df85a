"""The token cache: a cached handshake asks the store nothing, and a revocation is immediate on every process.

A logout through one process is refused on the other at once, not after TOKEN_CACHE_TTL_S; the same for a
changed profile (the cached member's name) and a suspension. On the embedded default the same path runs
through the in-process broker.
"""

from __future__ import annotations

import uuid

import httpx

from tests.support.client import Api, ChatClient
from tests.support.moderation import site_admin


async def _session(base_url: str) -> tuple[Api, str]:
    """A member and a browser session cookie of theirs (logout revokes the cookie's token)."""
    api = await Api.register(base_url, password="correct horse")
    async with httpx.AsyncClient(base_url=base_url) as http:
        response = await http.post("/api/auth/login", json={"username": api.member["username"],
                                                             "password": "correct horse"})
        assert response.status_code == 200, response.text
        cookie = f"convene_session={response.cookies['convene_session']}"
    return api, cookie


async def _me(base_url: str, cookie: str) -> int:
    async with httpx.AsyncClient(base_url=base_url, headers={"Cookie": cookie}) as http:
        return (await http.get("/api/me")).status_code


async def _refused(ws_url: str, cookie: str) -> bool:
    client = await ChatClient.connect(ws_url, cookie=cookie, wait_hello=False)
    first = await client.wait_for(lambda f: True)
    await client.close()
    return first["type"] == "error" and first["code"] == "unauthenticated"


async def test_a_logout_is_refused_at_once_by_the_process_that_cached_the_token(server):
    api, cookie = await _session(server.url)
    client = await ChatClient.connect(server.ws_url, cookie=cookie)   # verified, now cached
    await client.close()
    assert await _me(server.url, cookie) == 200
    async with httpx.AsyncClient(base_url=server.url, headers={"Cookie": cookie}) as http:
        assert (await http.post("/api/auth/logout")).status_code == 204
    assert await _me(server.url, cookie) == 401
    assert await _refused(server.ws_url, cookie)
    await api.aclose()


async def test_a_logout_on_one_process_is_refused_on_the_other_immediately(process_pair):
    one, two = process_pair
    api, cookie = await _session(one.url)
    for process in (one, two):   # verified on both: both caches hold it
        client = await ChatClient.connect(process.ws_url, cookie=cookie)
        await client.close()
        assert await _me(process.url, cookie) == 200
    async with httpx.AsyncClient(base_url=one.url, headers={"Cookie": cookie}) as http:
        assert (await http.post("/api/auth/logout")).status_code == 204
    # No sleep: the revocation reached process two before the logout answered, or the next
    # request would find the token cached for TOKEN_CACHE_TTL_S (300 s).
    assert await _refused(two.ws_url, cookie)
    assert await _me(two.url, cookie) == 401
    await api.aclose()


async def test_a_new_display_name_is_in_the_next_hello_on_the_other_process(process_pair):
    one, two = process_pair
    api = await Api.register(one.url)
    for process in (one, two):
        client = await api.connect(process.ws_url)
        await client.close()
    new_name = f"Renamed {uuid.uuid4().hex[:6]}"
    assert (await api.http.patch("/api/me", json={"display_name": new_name})).status_code == 200
    client = await api.connect(two.ws_url)
    hello = client.frames[0]
    assert hello["type"] == "hello" and hello["member"]["display_name"] == new_name
    await client.close()
    await api.aclose()


async def test_a_suspended_members_cached_token_is_refused_on_both_processes(process_pair):
    one, two = process_pair
    admin = await site_admin(one)
    member = await Api.register(two.url)
    for process in (one, two):
        client = await member.connect(process.ws_url)
        await client.close()
    response = await admin.http.post(f"/api/admin/members/{member.id}/suspension", json={"reason": "spam"})
    assert response.status_code == 201, response.text
    for process in (one, two):
        client = await member.connect_raw(process.ws_url)
        first = await client.wait_for(lambda f: True)
        assert (first["type"], first.get("code")) == ("error", "unauthenticated")
        await client.close()
    assert (await admin.http.delete(f"/api/admin/members/{member.id}/suspension")).status_code == 204
