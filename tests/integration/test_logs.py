"""With LOG_FORMAT=json, a whole run of a server logs one JSON object per line, each tied to a request,
a socket or the process's own work, and never a message's text, a password, a token, a cookie or an
e-mail address (issue 14, item 2; the rule is in docs/operations.md, "Logs")."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import httpx
import pytest

from rooms.notifications.tokens import Tokens
from tests.conftest import FAST, embedded_env
from tests.support.client import Api, ChatClient
from tests.support.emergency import open_emergency
from tests.support.services import ServerProcess, free_port

SECRET_BODY = "secret-body-kestrel-4f7a"
PASSWORD = "secret-password-heron-9c2e"
WRONG_PASSWORD = "secret-wrong-password-1b5d"
EMAIL = "secret.person.7d1c@example.org"
TRACE_ID = "trace-me-42"


async def _run_traffic(server: ServerProcess) -> dict[str, str]:
    """Start-up has happened; this is the rest of a run: HTTP, the socket, refusals and errors, a
    failing e-mail. Answers the secrets the log must not hold and the ids it must."""
    api = await Api.register(server.url, password=PASSWORD)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
        good = await http.post("/api/auth/login", json={"username": api.member["username"], "password": PASSWORD})
        assert good.status_code == 200, good.text
        cookie = good.cookies["convene_session"]
        bad = await http.post("/api/auth/login", json={"username": api.member["username"],
                                                       "password": WRONG_PASSWORD})
        assert bad.status_code == 401
        assert (await http.get("/api/rooms/99999/messages")).status_code == 404
    assert (await api.http.put("/api/me/notifications", json={"email": EMAIL})).status_code == 200
    # Mail goes only to a verified address: follow the link that was mailed (made here with the key).
    link = Tokens(FAST["SECRET_KEY"]).verify(api.id, EMAIL)
    assert (await api.http.get(f"/settings/email/verify/{link}")).status_code == 200

    room = await api.create_room("Field notes")
    client = await api.connect(server.ws_url)
    hello = client.frames[0]
    await client.subscribe(room)
    ack = await client.say(room, SECRET_BODY)
    assert ack["type"] == "ack"
    assert (await client.request({"type": "history", "room": room}))["type"] == "history"
    await client.send_raw("{not json")
    assert (await client.request({"type": "no.such.frame"}))["code"] == "unknown_type"
    traced = await api.http.get(f"/api/rooms/{room}/messages", headers={"X-Request-ID": TRACE_ID})
    assert traced.status_code == 200 and traced.headers["x-request-id"] == TRACE_ID
    unsafe = await api.http.get(f"/api/rooms/{room}/messages", headers={"X-Request-ID": "two words\tand more"})
    assert unsafe.headers["x-request-id"] != "two words\tand more" and len(unsafe.headers["x-request-id"]) == 16
    assert (await api.http.get("/api/search", params={"q": SECRET_BODY})).status_code == 200
    await client.close()

    with pytest.raises(Exception):   # another site's page: refused (HTTP 403) and logged with its origin
        await ChatClient.connect(server.ws_url, api.token, origin="https://elsewhere.example")
    with socket.create_connection(("127.0.0.1", server.port)) as raw:   # not HTTP: uvicorn warns
        raw.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        raw.recv(1024)

    # An e-mail to the member's address that cannot be delivered (no SMTP server listens): the
    # mailer logs its failure, which once named the address.
    emergency = await open_emergency(api, [])
    assert (await api.http.post(f"/api/emergencies/{emergency}/digest")).status_code == 202
    deadline = time.monotonic() + 10
    while "outbox mail" not in server.log_tail(500) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    await api.aclose()
    return {"secrets": [SECRET_BODY, PASSWORD, WRONG_PASSWORD, EMAIL, api.token, cookie],
            "connection": hello["connection"]}


async def test_every_line_of_a_json_run_is_an_object_tied_to_its_request_and_holds_no_secret(tmp_path: Path) -> None:
    server = ServerProcess(env=embedded_env(tmp_path, LOG_FORMAT="json", SMTP_HOST="127.0.0.1",
                                            SMTP_PORT=str(free_port()), EMERGENCY_JOB_INTERVAL_S="0.2"),
                           log_level="info")
    server.start()
    try:
        seen = await _run_traffic(server)
    finally:
        server.stop()   # SIGTERM: the shutdown's lines are part of the run
    text = server.log_path.read_text()
    server.cleanup()

    lines = [json.loads(line) for line in text.splitlines()]   # every line is one JSON object
    assert len(lines) > 20
    for line in lines:
        assert {"ts", "level", "event", "logger"} <= set(line), line
        assert line.get("request_id") or line.get("connection_id"), line
        if "task" in line:
            assert line["request_id"] == f"task:{line['task']}", line
    events = [line["event"] for line in lines]
    assert any("Started server process" in e for e in events) and any("Finished server process" in e for e in events)
    assert any(line.get("task") == "startup" for line in lines)
    assert any(line["logger"] == "uvicorn.access" and TRACE_ID == line["request_id"]
               and "/messages" in line["event"] and line.get("member_id") and line.get("room") for line in lines)
    assert any(line.get("connection_id") == seen["connection"] and line.get("member_id") for line in lines)
    assert any("refused websocket from origin https://elsewhere.example" in e for e in events)
    assert any("Invalid HTTP request" in e and line["level"] == "warning" for e, line in zip(events, lines))
    assert any(e.startswith("outbox mail") for e in events)
    assert any("/api/search?q=…" in e for e in events)   # the search words are not logged
    for secret in seen["secrets"]:
        assert secret not in text, f"{secret!r} appears in the log"
