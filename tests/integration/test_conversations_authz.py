"""Who may use each conversation route and frame: rows for the authorization matrix, checked here.

`AUTHZ_ROWS` is plain data, so tests/integration/test_authorization_matrix.py can import it:
(what, "http" or "ws", the request, {role: expected}). Roles: anonymous (no credentials),
non_member (logged in, not in the room), member, moderator, owner. Expected is an HTTP status for
"http" rows, and for "ws" rows the answer's type ("ack", "history") or the error's code. In requests,
{private} and {public} are rooms (the owner's; the others belong to the private one only, so
{public} is a room they may read but have not joined), {message} an owner's message in the private
room, {fresh} a new one for each try, {public_message} one in the public room.
"""

from __future__ import annotations

import json
import uuid

import httpx
import websockets

from tests.support.client import Api, ChatClient

ROLES = ("anonymous", "non_member", "member", "moderator", "owner")


def _everyone(anonymous: object, non_member: object, members: object) -> dict[str, object]:
    return {"anonymous": anonymous, "non_member": non_member, "member": members, "moderator": members,
            "owner": members}


AUTHZ_ROWS: list[tuple[str, str, object, dict[str, object]]] = [
    ("pinned messages of a private room", "http", ("GET", "/api/rooms/{private}/pins"), _everyone(401, 404, 200)),
    ("pinned messages of a public room", "http", ("GET", "/api/rooms/{public}/pins"), _everyone(401, 200, 200)),
    ("a thread of a private room", "http", ("GET", "/api/rooms/{private}/messages?thread={message}"),
     _everyone(401, 404, 200)),
    ("mentions of me in a private room", "http", ("GET", "/api/rooms/{private}/messages?mentions=me"),
     _everyone(401, 404, 200)),
    # Search answers everyone logged in, over the rooms they belong to only (a non-member finds nothing).
    ("search, narrowed to a private room", "http", ("GET", "/api/search?q=confidential&room={private}"),
     _everyone(401, 200, 200)),
    ("the search page", "http", ("GET", "/search?q=confidential"), _everyone(303, 200, 200)),
    ("a private room's thread page", "http", ("GET", "/rooms/{private}?thread={message}"), _everyone(303, 404, 200)),
    ("a private room's mentions page", "http", ("GET", "/rooms/{private}?mentions=me"), _everyone(303, 404, 200)),
    ("react in a private room", "ws", {"type": "react", "room": "{private}", "target": "{message}", "emoji": "👍"},
     _everyone("unauthenticated", "not_found", "ack")),
    ("react in a public room not joined", "ws",
     {"type": "react", "room": "{public}", "target": "{public_message}", "emoji": "👍"},
     _everyone("unauthenticated", "forbidden", "forbidden") | {"owner": "ack"}),
    ("pin in a private room", "ws", {"type": "pin", "room": "{private}", "target": "{message}"},
     {"anonymous": "unauthenticated", "non_member": "not_found", "member": "forbidden", "moderator": "ack",
      "owner": "ack"}),
    ("reply in a private room", "ws",
     {"type": "send", "room": "{private}", "client_id": "{client_id}", "body": "yes", "reply_to": "{message}"},
     _everyone("unauthenticated", "not_found", "ack")),
    ("a private room's thread", "ws", {"type": "history", "room": "{private}", "thread": "{message}"},
     _everyone("unauthenticated", "not_found", "history")),
    ("mentions of me in a private room", "ws", {"type": "history", "room": "{private}", "mentions": "me"},
     _everyone("unauthenticated", "not_found", "history")),
    ("edit someone's message, with a client id", "ws",
     {"type": "edit", "room": "{private}", "target": "{fresh}", "body": "changed", "client_id": "{client_id}"},
     {"anonymous": "unauthenticated", "non_member": "not_found", "member": "forbidden", "moderator": "forbidden",
      "owner": "ack"}),
    ("delete someone's message, with a client id", "ws",
     {"type": "delete", "room": "{private}", "target": "{fresh}", "client_id": "{client_id}"},
     {"anonymous": "unauthenticated", "non_member": "not_found", "member": "forbidden", "moderator": "ack",
      "owner": "ack"}),
]


class Cast:
    """One member per role, a private room the roles share and a public room only the owner joined."""

    def __init__(self, server, people: dict[str, Api], places: dict[str, int], owner_socket: ChatClient) -> None:
        self.server, self.people, self.places, self.owner_socket = server, people, places, owner_socket

    @classmethod
    async def gather(cls, server) -> "Cast":
        people = {role: await Api.register(server.url) for role in ROLES[1:]}
        owner = people["owner"]
        private = await owner.create_room("coordination", visibility="private")
        public = await owner.create_room("open")
        for role in ("member", "moderator"):
            await owner.http.post(f"/api/rooms/{private}/invite", json={"member_id": people[role].id})
            await people[role].join(private)
        await owner.http.post(f"/api/rooms/{private}/members/{people['moderator'].id}/role", json={"role": "moderator"})
        socket = await owner.connect(server.ws_url)
        message = (await socket.say(private, "confidential: the plan"))["seq"]
        public_message = (await socket.say(public, "hello"))["seq"]
        return cls(server, people, {"private": private, "public": public, "message": message,
                                    "public_message": public_message}, socket)

    async def fill(self, text: str) -> str:
        values = dict(self.places, client_id=uuid.uuid4().hex)
        if "{fresh}" in text:
            values["fresh"] = (await self.owner_socket.say(self.places["private"], "to change"))["seq"]
        for name, value in values.items():
            text = text.replace(f'"{{{name}}}"', str(value) if isinstance(value, int) else f'"{value}"')
            text = text.replace(f"{{{name}}}", str(value))
        return text

    async def http(self, role: str, method: str, path: str) -> int:
        path = await self.fill(path)
        if role == "anonymous":
            async with httpx.AsyncClient(base_url=self.server.url) as client:
                return (await client.request(method, path)).status_code
        return (await self.people[role].http.request(method, path)).status_code

    async def ws(self, role: str, frame: dict) -> str:
        frame = json.loads(await self.fill(json.dumps(frame, ensure_ascii=False)))
        if role == "anonymous":
            async with websockets.connect(self.server.ws_url) as ws:
                return json.loads(await ws.recv()).get("code", "")
        client = await self.people[role].connect(self.server.ws_url)
        try:
            answer = await client.request(frame)
        finally:
            await client.close()
        return answer["code"] if answer["type"] == "error" else answer["type"]


async def test_conversation_routes_and_frames_answer_each_role_as_the_matrix_says(server):
    cast = await Cast.gather(server)
    wrong = []
    for what, how, request, expected in AUTHZ_ROWS:
        for role in ROLES:
            got = await (cast.http(role, *request) if how == "http" else cast.ws(role, request))
            if got != expected[role]:
                wrong.append(f"{what} as {role}: expected {expected[role]}, got {got}")
    await cast.owner_socket.close()
    assert wrong == []
