"""Hypothesis throws hostile frames and requests at a live server: no 500, no crash, no corrupted state."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from hypothesis import HealthCheck, given, settings, strategies as st
from websockets.sync.client import connect

from realtime.frames import all_frames
from tests.support.client import Api

FRAME_TYPES = all_frames().types

KNOWN_REPLIES = {"ack", "subscribed", "unsubscribed", "history", "read", "presence.set", "who", "pong",
                 "message", "message.edited", "message.deleted", "typing", "presence", "member.joined",
                 "member.left", "error", "hello"}
KNOWN_ERRORS = {"bad_json", "bad_frame", "unknown_type", "frame_too_large", "bad_request", "not_found",
                "forbidden", "rate_limited", "conflict"}
FIELDS = ["type", "room", "since", "client_id", "body", "ref", "limit", "before", "target", "seq",
          "status", "active"]

scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30) | st.sampled_from(["", "\x00", "\u202e", "<script>", "' OR 1=1 --", "../../etc"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=6)


def frames(room: int):
    field_values = values | st.just(room) | st.integers(0, 5)
    structured = st.fixed_dictionaries({"type": st.sampled_from(FRAME_TYPES)},
                                       optional={name: field_values for name in FIELDS if name != "type"})
    return (structured.map(lambda f: orjson.dumps(f, option=orjson.OPT_NON_STR_KEYS).decode())
            | st.dictionaries(st.sampled_from(FIELDS), values, max_size=5).map(
                lambda f: orjson.dumps(f, option=orjson.OPT_NON_STR_KEYS).decode())
            | st.text(max_size=200)
            | st.binary(max_size=100))


def setup_member(server) -> tuple[Api, int]:
    async def make() -> tuple[Api, int]:
        member = await Api.register(server.url)
        return member, await member.create_room("fuzzed")
    return asyncio.run(make())


def test_socket_fuzz_leaves_the_connection_and_the_room_intact(server):
    member, room = setup_member(server)
    acked: dict[int, str] = {}
    with connect(server.ws_url, additional_headers={"Authorization": f"Bearer {member.token}"},
                 max_size=2**22) as ws:
        assert orjson.loads(ws.recv(timeout=10))["type"] == "hello"

        @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
        @given(frames(room))
        def one_frame(raw):
            ws.send(raw)
            marker = uuid.uuid4().hex
            ws.send(orjson.dumps({"type": "ping", "ref": marker}).decode())
            while True:
                frame = orjson.loads(ws.recv(timeout=10))
                assert frame["type"] in KNOWN_REPLIES, frame
                if frame["type"] == "error":
                    assert frame["code"] in KNOWN_ERRORS, frame
                if frame["type"] == "ack" and "client_id" in frame:
                    acked[frame["seq"]] = frame["client_id"]
                if frame.get("ref") == marker:
                    break

        one_frame()
        # Still a working connection: a normal message goes through.
        ws.send(orjson.dumps({"type": "send", "room": room, "client_id": "after-fuzz", "body": "still fine",
                              "ref": "last"}).decode())
        while True:
            frame = orjson.loads(ws.recv(timeout=10))
            if frame.get("ref") == "last":
                assert frame["type"] == "ack"
                acked[frame["seq"]] = "after-fuzz"
                break
    # The room holds exactly what was acknowledged, with its sequence gap-free.
    stored = httpx.get(f"{server.url}/api/rooms/{room}/messages", params={"limit": 100},
                       headers={"Authorization": f"Bearer {member.token}"}).json()["messages"]
    assert {m["seq"]: m["client_id"] for m in stored} == acked
    assert "Traceback" not in server.log_tail(5000), server.log_tail(80)


ROUTES = [("POST", "/api/auth/register"), ("POST", "/api/auth/login"), ("POST", "/api/auth/token"),
          ("GET", "/api/rooms"), ("POST", "/api/rooms"), ("GET", "/api/rooms/{room}"),
          ("POST", "/api/rooms/{room}/join"), ("POST", "/api/rooms/{room}/leave"),
          ("POST", "/api/rooms/{room}/invite"), ("GET", "/api/rooms/{room}/members"),
          ("POST", "/api/rooms/{room}/members/{n}/role"), ("DELETE", "/api/rooms/{room}/members/{n}"),
          ("GET", "/api/rooms/{room}/messages"), ("POST", "/api/dms"), ("GET", "/api/search"),
          ("GET", "/api/members"), ("GET", "/api/members/{n}"), ("PATCH", "/api/me")]


def test_json_api_fuzz_never_fails_with_a_server_error(server):
    member, room = setup_member(server)
    http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {member.token}"}, timeout=15)

    @settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
    @given(route=st.sampled_from(ROUTES), n=st.integers(0, 2**62),
           body=values | st.dictionaries(st.sampled_from(["name", "visibility", "username", "password",
                                                          "display_name", "member_id", "members", "role",
                                                          "bio", "country", "languages", "topic"]), values),
           params=st.dictionaries(st.sampled_from(["q", "limit", "before", "offset", "scope"]),
                                  st.text(max_size=20), max_size=3),
           raw=st.none() | st.binary(max_size=50))
    def one_request(route, n, body, params, raw):
        method, path = route
        path = path.replace("{room}", str(room)).replace("{n}", str(n))
        if raw is not None:
            response = http.request(method, path, content=raw, params=params,
                                    headers={"content-type": "application/json"})
        else:
            response = http.request(method, path, content=orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS),
                                    params=params, headers={"content-type": "application/json"})
        assert response.status_code < 500, (method, path, body, response.text)
        if response.status_code >= 400 and response.headers.get("content-type", "").startswith("application/json"):
            assert "error" in response.json() and "code" in response.json()["error"]

    one_request()
    assert http.get("/healthz").status_code == 200
    assert http.get(f"/api/rooms/{room}").status_code in (200, 404)   # the fuzzer may have left the room
    http.close()
    assert "Traceback" not in server.log_tail(5000), server.log_tail(80)
