"""Hypothesis throws hostile frames and requests at a live server: no 500, no crash, no corrupted state.
And the same input gets the same answer on both backends: whatever the embedded default stores, Postgres
stores too (byte-identical when read back), or both refuse it with the same typed error; names refuse
spoofing characters (rooms/text_rules.py)."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from pathlib import Path

import httpx
import orjson
from hypothesis import HealthCheck, given, settings, strategies as st
from websockets.sync.client import connect

import pytest

from realtime.frames import all_frames
from tests.conftest import embedded_env, shared_env
from tests.support.client import Api
from tests.support.services import ServerProcess

FRAME_TYPES = all_frames().types

KNOWN_REPLIES = {"ack", "subscribed", "unsubscribed", "history", "read", "presence.set", "who", "pong",
                 "message", "message.edited", "message.deleted", "typing", "presence", "member.joined",
                 "member.left", "error", "hello"}
KNOWN_ERRORS = {"bad_json", "bad_frame", "unknown_type", "frame_too_large", "bad_request", "not_found",
                "forbidden", "rate_limited", "conflict", "disallowed_characters"}
FIELDS = ["type", "room", "since", "client_id", "body", "ref", "limit", "before", "target", "seq",
          "status", "active"]

# Characters that differ between backends or deceive readers: NUL (Postgres refuses it in text), C0 and C1
# controls, bidirectional controls, zero-width and invisible characters, BOM, non-characters, the last
# code point of the astral planes, combining marks, an emoji ZWJ sequence.
HOSTILE = ["\x00", "\x01", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u2069", "\u200b", "\u200d", "\u200e",
           "\ufeff", "\ufffe", "\uffff", "\ufdd0", "\U0010ffff", "\U0001fffe", "e\u0301", "a\u0300\u0301\u0302\u0303\u0304\u0305",
           "\U0001f469\u200d\U0001f4bb", "\u2028", "\U000e0041", "\u0600", "\uf8ff", "\U0001d54f"]
# The whole range of Unicode scalar values (surrogates cannot be sent as UTF-8; their JSON escapes are
# tried separately), biased towards the hostile ones.
unicode_text = st.lists(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=("Cs",))
                        | st.sampled_from(HOSTILE),
                        max_size=20).map("".join)
scalars = (st.none() | st.booleans() | st.integers(-2**63, 2**63) | st.floats(allow_nan=False, allow_infinity=False)
           | unicode_text | st.sampled_from(["", "<script>", "' OR 1=1 --", "../../etc", *HOSTILE]))
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


# --- Same input, same answer on both backends -----------------------------------------------------------

@pytest.fixture(scope="module")
def backends(postgres, redis_server):
    """One server on the embedded default and one on Postgres + Redis, side by side."""
    processes = [ServerProcess(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-fuzz-embedded-")))),
                 ServerProcess(env=shared_env(postgres, redis_server, Path(tempfile.mkdtemp(prefix="convene-fuzz-pg-"))))]
    for process in processes:
        process.start()
    yield processes
    for process in processes:
        process.cleanup()


class Side:
    """One member's HTTP session and socket on one backend, with a room of theirs."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.member, self.room = setup_member(server)
        self.http = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {self.member.token}"},
                                 timeout=15)
        self.ws = connect(server.ws_url, additional_headers={"Authorization": f"Bearer {self.member.token}"},
                          max_size=2**22)
        assert orjson.loads(self.ws.recv(timeout=10))["type"] == "hello"

    def request(self, frame: str) -> dict:
        """Sends a frame (raw JSON text, as hostile as it likes) and answers its reply."""
        ref = uuid.uuid4().hex
        self.ws.send(frame[:-1] + f', "ref": "{ref}"}}')
        while True:
            reply = orjson.loads(self.ws.recv(timeout=10))
            if reply.get("ref") == ref or (reply["type"] == "error" and reply["code"] == "bad_json"):
                return reply

    def close(self) -> None:
        self.ws.close()
        self.http.close()


def outcome(response: httpx.Response) -> tuple:
    """What a client learns from an answer: the status and, for a refusal, its code and field."""
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        return response.status_code, error["code"], error.get("field")
    return (response.status_code,)


def frame_outcome(reply: dict) -> tuple:
    return (reply["type"], reply.get("code"), reply.get("field"))


def json_string(value: str, lone_surrogate: bool) -> str:
    """`value` as a JSON string; with `lone_surrogate`, an escaped lone surrogate inside it (valid UTF-8
    on the wire, invalid JSON to the parser)."""
    encoded = orjson.dumps(value).decode()
    return encoded[:-1] + "\\ud800" + '"' if lone_surrogate else encoded


def test_the_same_text_is_stored_alike_or_refused_alike_on_both_backends(backends):
    sides = [Side(server) for server in backends]

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(text=unicode_text, lone_surrogate=st.sampled_from([False, False, False, True]),
           emoji=st.sampled_from(["👍", "\u2764\ufe0f", "\x00", "\u202e👍", "👍👍", "e\u0301", "\U0010ffff"]) | unicode_text)
    def same_answer(text, lone_surrogate, emoji):
        answers = []
        for side in sides:
            got: dict = {}
            body = json_string(text, lone_surrogate)
            # A message: acknowledged and read back byte for byte, or refused alike.
            reply = side.request(f'{{"type": "send", "room": {side.room}, "client_id": "{uuid.uuid4().hex}", '
                                 f'"body": {body}}}')
            got["send"] = frame_outcome(reply)
            if reply["type"] == "ack":
                page = side.http.get(f"/api/rooms/{side.room}/messages", params={"limit": 1}).json()["messages"]
                got["stored"] = (page[-1]["body"], page[-1]["html"])
                react = side.request(f'{{"type": "react", "room": {side.room}, "target": {reply["seq"]}, '
                                     f'"emoji": {json_string(emoji, False)}}}')
                got["react"] = frame_outcome(react)
            # A client id is a short token: anything else is refused by the frame's own rules.
            got["client_id"] = frame_outcome(side.request(
                f'{{"type": "send", "room": {side.room}, "client_id": {body}, "body": "x"}}'))
            # A room's name and topic, a display name and a bio: stored and read back, or refused alike.
            created = side.http.post("/api/rooms", content=f'{{"name": {body}, "topic": {body}}}'.encode(),
                                     headers={"content-type": "application/json"})
            got["room"] = outcome(created)
            if created.status_code == 201:
                room = side.http.get(f"/api/rooms/{created.json()['id']}").json()
                got["room_read"] = (room["name"], room["topic"])
            for field in ("display_name", "bio", "organisation"):
                changed = side.http.patch("/api/me", content=f'{{"{field}": {body}}}'.encode(),
                                          headers={"content-type": "application/json"})
                got[field] = outcome(changed)
                if changed.status_code == 200:
                    got[field + "_read"] = changed.json()["member"][field]   # as the store read it back
            # A username: refused alike, or registered under the same normalised name.
            registered = side.http.post("/api/auth/register", content=(
                f'{{"username": {body}, "password": "correct horse", "display_name": "x"}}').encode(),
                headers={"content-type": "application/json", "authorization": ""})
            got["register"] = outcome(registered)
            if registered.status_code == 201:
                got["username"] = registered.json()["member"]["username"]
            # A search query: answered (the engines tokenise differently: docs/privacy.md) or refused alike.
            got["search"] = outcome(side.http.get("/api/search", params={"q": text}))
            answers.append(got)
        differ = {key: (answers[0].get(key), answers[1].get(key)) for key in answers[0].keys() | answers[1].keys()
                  if answers[0].get(key) != answers[1].get(key)}
        assert not differ, (text, differ)

    try:
        same_answer()
    finally:
        for side in sides:
            side.close()
    for server in backends:
        assert "Traceback" not in server.log_tail(5000), server.log_tail(80)


SPOOFS = ["\u202e", "\u202d", "\u202a", "\u2066", "\u2067", "\u2068", "\u2069", "\u200b", "\u200c", "\u200e",
          "\u200f", "\u061c", "\ufeff", "\u2060", "\u00ad", "\u3164", "\u115f", "\x00", "\x07", "\n"]


async def test_names_refuse_spoofing_characters_and_usernames_are_normalised(server):
    amina = await Api.register(server.url)
    async with httpx.AsyncClient(base_url=server.url) as http:
        for spoof in SPOOFS:
            for name in (f"ali{spoof}ce", f"{spoof}bob"):
                refused = await http.post("/api/auth/register", json={"username": name, "password": "correct horse",
                                                                      "display_name": "x"})
                assert refused.status_code == 422, (spoof, refused.text)
                assert refused.json()["error"]["code"] == "disallowed_characters", (spoof, refused.text)
                assert refused.json()["error"]["field"] == "username"
                renamed = await amina.http.patch("/api/me", json={"display_name": f"Amina{spoof} K"})
                assert renamed.status_code == 422 and renamed.json()["error"]["code"] == "disallowed_characters"
                assert renamed.json()["error"]["field"] == "display_name"
        # Full-width letters are the same username as their ASCII form, in any case.
        taken = f"nf{uuid.uuid4().hex[:8]}"
        wide = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() else c for c in taken.upper())
        created = await http.post("/api/auth/register", json={"username": wide, "password": "correct horse",
                                                              "display_name": "Wide"})
        assert created.status_code == 201 and created.json()["member"]["username"] == taken
        again = await http.post("/api/auth/register", json={"username": taken.upper(), "password": "correct horse",
                                                            "display_name": "Other"})
        assert again.status_code == 409
        logged_in = await http.post("/api/auth/token", json={"username": wide.lower(), "password": "correct horse"})
        assert logged_in.status_code == 201
    # Emoji sequences and accents stay usable in display names.
    for name in ("Amina 👩\u200d💻", "José Nguyễn", "محمد", "❤\ufe0f Team"):
        assert (await amina.http.patch("/api/me", json={"display_name": name})).status_code == 200, name
    await amina.aclose()
