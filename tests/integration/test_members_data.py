"""Members' data against real servers, on both backends: the export holds exactly the member's own data,
deleting an account removes their text everywhere (the full-text index read directly) and ends their
sessions and sockets on every process, and retention removes exactly the expired range."""

from __future__ import annotations

import asyncio
import io
import uuid
import zipfile
from datetime import timedelta

import httpx
import orjson
from sqlalchemy import func, select, text, update

from rooms.store.schema import messages, utcnow
from tests.support.client import Api, ChatClient
from tests.support.store import server_database

PASSWORD = "correct horse"

# Who may export, delete and set retention, checked by test_the_authorization_rows_hold below (the
# authorization matrix, tests/integration/test_authorization_matrix.py, has its own rows for these routes):
# (method, path, who, expected status). `$room` is a public room owned by "owner".
AUTHZ_ROWS = [
    ("GET", "/api/me/export", "anonymous", 401),
    ("GET", "/api/me/export", "member", 200),
    ("DELETE", "/api/me", "anonymous", 401),
    ("DELETE", "/api/me", "member (wrong password)", 403),
    ("PUT", "/api/rooms/$room/retention", "anonymous", 401),
    ("PUT", "/api/rooms/$room/retention", "non-member", 403),
    ("PUT", "/api/rooms/$room/retention", "member", 403),
    ("PUT", "/api/rooms/$room/retention", "moderator", 403),
    ("PUT", "/api/rooms/$room/retention", "owner", 200),
]


def word() -> str:
    """A word no other test writes: what must (not) be found afterwards."""
    return "w" + uuid.uuid4().hex[:12]


async def send(client: ChatClient, room: int, body: str, **extra) -> dict:
    ack = await client.request({"type": "send", "room": room, "client_id": uuid.uuid4().hex, "body": body, **extra})
    assert ack["type"] == "ack", ack
    return ack


async def indexed(server, term: str) -> int:
    """Rows the backend's own full-text index finds for `term` (SQLite FTS5 table; Postgres tsvector)."""
    async with server_database(server) as db, db.read() as conn:
        if db.dialect == "postgresql":
            return await conn.scalar(text("SELECT count(*) FROM messages WHERE to_tsvector('simple', body) "
                                          "@@ to_tsquery('simple', :t)"), {"t": term})
        found = await conn.scalar(text("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH :t"),
                                  {"t": f'"{term}"'})
        # The index's own vocabulary, not only what a query answers.
        await conn.exec_driver_sql("CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, messages_fts, row)")
        return found + await conn.scalar(text("SELECT count(*) FROM temp.vocab WHERE term = :t"), {"t": term})


async def stored_anywhere(server, term: str) -> int:
    """Rows of `messages` whose text, formatting or reply preview still holds `term`."""
    async with server_database(server) as db, db.read() as conn:
        preview = "CAST(parent_preview AS TEXT)"
        return await conn.scalar(text(f"SELECT count(*) FROM messages WHERE body LIKE :p OR html LIKE :p "
                                      f"OR {preview} LIKE :p"), {"p": f"%{term}%"})


async def test_the_export_holds_exactly_the_members_own_messages_and_files(server):
    amina, bob = await Api.register(server.url), await Api.register(server.url)
    room = await amina.create_room("case notes")
    assert (await bob.join(room)).status_code == 200
    mine, theirs = [word() for _ in range(3)], [word() for _ in range(2)]
    a, b = await amina.connect(server.ws_url), await bob.connect(server.ws_url)
    try:
        first = await send(a, room, f"{mine[0]} first")
        reply = await send(b, room, f"{theirs[0]} answering", reply_to=first["seq"])
        await send(a, room, f"{mine[1]} answering back", reply_to=reply["seq"])   # quotes Bob: not Amina's
        edited = await send(a, room, "draft")
        assert (await a.request({"type": "edit", "room": room, "target": edited["seq"],
                                 "body": f"{mine[2]} final"}))["type"] == "ack"
        await send(b, room, f"{theirs[1]} last")
        assert (await a.request({"type": "react", "room": room, "target": reply["seq"], "emoji": "👍",
                                 "active": True}))["type"] == "ack"
        photo = (await amina.http.post(f"/api/rooms/{room}/attachments",
                                       files={"file": ("notes.txt", b"field notes " + mine[0].encode(),
                                                       "text/plain")})).json()["attachment"]
        await send(a, room, "", attachments=[photo["id"]])
    finally:
        await a.close()
        await b.close()

    # Amina has a file: a zip of the document and the file.
    response = await amina.http.get("/api/me/export")
    assert response.status_code == 200 and response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    document = orjson.loads(archive.read("convene-export.json"))
    assert document["format"] == "convene.export" and document["member"]["id"] == amina.id
    assert "password_hash" not in document["member"]
    bodies = [m["body"] for m in document["messages"] if m["kind"] == "message"]
    assert bodies == [f"{mine[0]} first", f"{mine[1]} answering back", f"{mine[2]} final", ""]
    assert [m["body"] for m in document["messages"] if m["kind"] == "message.edited"] == [f"{mine[2]} final"]
    assert {m["sender_id"] for m in document["messages"]} == {amina.id}
    assert [r["emoji"] for r in document["reactions"]] == ["👍"]
    assert {r["room_id"] for r in document["memberships"]} == {room}
    [attachment] = document["attachments"]
    assert archive.read(attachment["file"]) == b"field notes " + mine[0].encode()
    assert "file_key" not in attachment and all("token_hash" not in s for s in document["sessions"])
    everything = b"".join(archive.read(name) for name in archive.namelist())
    for other in theirs:
        assert other.encode() not in everything, "another member's words are in the export"

    # Bob has no file: plain JSON, with only his messages.
    response = await bob.http.get("/api/me/export")
    assert response.headers["content-type"] == "application/json"
    document = response.json()
    assert [m["body"] for m in document["messages"]] == [f"{theirs[0]} answering", f"{theirs[1]} last"]
    assert not any(w.encode() in response.content for w in mine)

    # An export reads a member's whole history: a few an hour.
    statuses = [(await bob.http.get("/api/me/export")).status_code for _ in range(3)]
    assert statuses[-1] == 429 and statuses[0] == 200
    assert (await httpx.AsyncClient(base_url=server.url).get("/api/me/export")).status_code == 401
    await amina.aclose()
    await bob.aclose()


async def test_after_deletion_their_text_is_gone_from_history_search_and_the_index(server):
    amina, bob = await Api.register(server.url), await Api.register(server.url)
    room = await amina.create_room("peer support")
    assert (await bob.join(room)).status_code == 200
    secret, edit_word, answer = word(), word(), word()
    a, b = await amina.connect(server.ws_url), await bob.connect(server.ws_url)
    await b.subscribe(room)
    first = await send(a, room, f"{secret} about the family")
    ack = await a.request({"type": "edit", "room": room, "target": first["seq"], "body": f"{secret} {edit_word}"})
    assert ack["type"] == "ack"
    await send(b, room, f"{answer} thanks", reply_to=first["seq"])
    photo = (await amina.http.post(f"/api/rooms/{room}/attachments",
                                   files={"file": ("plan.txt", b"plan", "text/plain")})).json()["attachment"]
    await send(a, room, "", attachments=[photo["id"]])
    second_token = (await amina.http.post("/api/auth/token", json={"username": amina.member["username"],
                                                                   "password": PASSWORD})).json()["token"]
    assert await indexed(server, secret) > 0, "the index holds the word before"

    refused = await amina.http.request("DELETE", "/api/me", json={"password": "wrong password"})
    assert refused.status_code == 403 and refused.json()["error"]["field"] == "password"
    deleted = await amina.http.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["handed_over"] == [{"room": room, "name": "peer support", "new_owner": bob.id}]

    # Signed out everywhere at once: the socket is closed, every token refused.
    code, _ = await asyncio.wait_for(a.closed, 5)
    assert code == 4401
    for token in (amina.token, second_token):
        assert (await amina.http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
    # Live clients are told once for the room, and apply it to every message of hers.
    handed = await b.wait_for(lambda f: f["type"] == "moderation" and f["action"] == "role")
    assert handed["member"]["id"] == bob.id and handed["role"] == "owner"   # on the room's audit trail
    erased = await b.wait_for(lambda f: f["type"] == "member.erased")
    assert erased["member"] == {"id": amina.id} and erased["room"] == room

    history = (await bob.http.get(f"/api/rooms/{room}/messages")).json()["messages"]
    hers = [m for m in history if m["sender"]["id"] == amina.id]
    assert len(hers) == 2 and all(m["deleted"] and m["body"] == "" and "attachments" not in m for m in hers)
    assert all(m["sender"] == {"id": amina.id, "display_name": "", "former": True} for m in hers)
    [reply] = [m for m in history if m["sender"]["id"] == bob.id]
    assert reply["body"] == f"{answer} thanks" and reply["parent"]["deleted"] and "excerpt" not in reply["parent"]
    assert (await bob.http.get("/api/search", params={"q": secret})).json()["results"] == []
    assert (await bob.http.get("/api/search", params={"q": answer})).json()["results"] != []
    # The backends' own indexes and every stored copy: the message, its edit, the reply's preview.
    for term in (secret, edit_word):
        assert await indexed(server, term) == 0
        assert await stored_anywhere(server, term) == 0
    assert (await bob.http.get(f"/api/attachments/{photo['id']}")).status_code == 404
    # The profile is gone and the username free again; the room has a new owner.
    assert (await bob.http.get(f"/api/members/{amina.id}")).status_code == 404
    again = await Api.register(server.url, username=amina.member["username"])
    assert again.id != amina.id
    members = (await bob.http.get(f"/api/rooms/{room}/members")).json()["members"]
    assert [(m["id"], m["role"]) for m in members] == [(bob.id, "owner")]
    # Replaying the room shows the blanked state, then the event.
    c = await bob.connect(server.ws_url)
    await c.subscribe(room, since=0)
    replayed = c.events(room, ("message", "member.erased"))
    assert secret not in orjson.dumps(replayed).decode() and replayed[-1]["type"] == "member.erased"
    for client in (b, c):
        await client.close()
    for api in (amina, bob, again):
        await api.aclose()


async def test_a_deleted_members_sockets_close_on_both_processes(cluster):
    first, second = cluster
    amina = await Api.register(first.url)
    sockets = [await ChatClient.connect(p.ws_url, amina.token) for p in cluster]
    deleted = await amina.http.request("DELETE", "/api/me", json={"password": PASSWORD})
    assert deleted.status_code == 200
    for socket in sockets:
        code, reason = await asyncio.wait_for(socket.closed, 3)
        assert (code, reason) == (4401, "account deleted")
    async with httpx.AsyncClient(base_url=second.url) as http:
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {amina.token}"})).status_code == 401
    await amina.aclose()


async def _age(server, room: int, through: int, days: int) -> None:
    async with server_database(server) as db, db.write() as conn:
        await conn.execute(update(messages).where(messages.c.room_id == room, messages.c.seq <= through)
                           .values(created_at=utcnow() - timedelta(days=days)))


async def test_retention_removes_exactly_the_expired_range_and_resume_reports_it(server):
    owner, member = await Api.register(server.url), await Api.register(server.url)
    room = await owner.create_room("case discussion")
    assert (await member.join(room)).status_code == 200
    old, new = [word() for _ in range(3)], [word() for _ in range(2)]
    a = await owner.connect(server.ws_url)
    for body in old:
        await send(a, room, body)
    kept = [await send(a, room, body) for body in new]
    reply = await send(a, room, "reply to an old one", reply_to=2)
    assert (await member.http.put(f"/api/rooms/{room}/retention", json={"days": 30})).status_code == 403
    set_ = await owner.http.put(f"/api/rooms/{room}/retention", json={"days": 30})
    assert set_.status_code == 200 and set_.json()["retention_days"] == 30
    await _age(server, room, 3, days=31)

    async def watermark() -> int:
        return (await owner.http.get(f"/api/rooms/{room}")).json()["removed_through"]

    for _ in range(100):
        if await watermark():
            break
        await asyncio.sleep(0.1)
    assert await watermark() == 3
    history = (await member.http.get(f"/api/rooms/{room}/messages")).json()
    assert [m["seq"] for m in history["messages"]] == [k["seq"] for k in kept] + [reply["seq"]]
    assert history["removed_through"] == 3 and not history["has_more"]
    assert history["messages"][-1]["parent"]["deleted"]   # its parent expired: no excerpt of it stays
    for term in old:
        assert await indexed(server, term) == 0 and await stored_anywhere(server, term) == 0
    for term in new:
        assert await indexed(server, term) > 0
    async with server_database(server) as db, db.read() as conn:
        assert await conn.scalar(select(func.min(messages.c.seq)).where(messages.c.room_id == room)) == 4

    # A client that last saw seq 1 is told what was removed, then gets everything after it.
    b = await member.connect(server.ws_url)
    subscribed = await b.subscribe(room, since=1)
    notice = next(f for f in b.frames if f["type"] == "retention")
    assert notice == {"type": "retention", "room": room, "removed_through": 3}
    after = [f["seq"] for f in b.frames if f.get("room") == room and "seq" in f]
    assert after == list(range(4, subscribed["last_seq"] + 1))
    assert b.frames[-2]["type"] == "history.removed" and b.frames[-2]["removed_through"] == 3
    # A cursor above the watermark resumes as always, with no notice.
    c = await member.connect(server.ws_url)
    await c.subscribe(room, since=4)
    assert not any(f["type"] == "retention" for f in c.frames)
    assert (await owner.http.put(f"/api/rooms/{room}/retention", json={"days": None})).json()["retention_days"] is None
    for client in (a, b, c):
        await client.close()
    await owner.aclose()
    await member.aclose()


async def test_the_authorization_rows_hold(server):
    """Plays AUTHZ_ROWS: who may download, delete and set retention."""
    owner, moderator, member, outsider = [await Api.register(server.url) for _ in range(4)]
    room = await owner.create_room("retention rules")
    for api in (moderator, member):
        assert (await api.join(room)).status_code == 200
    assert (await owner.http.post(f"/api/rooms/{room}/members/{moderator.id}/role",
                                  json={"role": "moderator"})).status_code == 204
    callers = {"member": member, "non-member": outsider, "moderator": moderator, "owner": owner,
               "member (wrong password)": member}
    async with httpx.AsyncClient(base_url=server.url) as anonymous:
        for method, path, who, expected in AUTHZ_ROWS:
            http = anonymous if who == "anonymous" else callers[who].http
            body = {"password": "not the password"} if path == "/api/me" else {"days": 7}
            response = await http.request(method, path.replace("$room", str(room)),
                                          json=None if method == "GET" else body)
            assert response.status_code == expected, (method, path, who, response.text)
    for api in (owner, moderator, member, outsider):
        await api.aclose()
