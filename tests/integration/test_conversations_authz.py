"""Who may use each conversation route and frame: rows checked here, role by role.

Plain data in the shape of tests/integration/test_attachments_authorization.py's tables (the
authorization matrix, tests/integration/test_authorization_matrix.py, has its own rows for these):
`AUTHZ_ROWS` are HTTP requests (method, path, {role: expected status}) and `AUTHZ_FRAME_ROWS` socket
frames (frame, {role: the answer's type, "ack" or "history", or the error's code}). Roles: anonymous
(no credentials), non_member (logged in, not in the room), member, moderator, owner. In paths and
frames, {private} and {public} are rooms (the owner's; the others belong to the private one only, so
{public} is a room they may read but have not joined), {message} an owner's message in the private
room, {fresh} a new one for each try, {public_message} one in the public room, {client_id} a new client id.
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


AUTHZ_ROWS: list[tuple[str, str, dict[str, object]]] = [
    ("GET", "/api/rooms/{private}/pins", _everyone(401, 404, 200)),
    ("GET", "/api/rooms/{public}/pins", _everyone(401, 200, 200)),
    ("GET", "/api/rooms/{private}/messages?thread={message}", _everyone(401, 404, 200)),
    ("GET", "/api/rooms/{private}/messages?mentions=me", _everyone(401, 404, 200)),
    # Search answers everyone logged in, over the rooms they belong to only (a non-member finds nothing).
    ("GET", "/api/search?q=confidential&room={private}", _everyone(401, 200, 200)),
    ("GET", "/search?q=confidential", _everyone(303, 200, 200)),                    # pages send visitors to log in
    ("GET", "/rooms/{private}?thread={message}", _everyone(303, 404, 200)),
    ("GET", "/rooms/{private}?mentions=me", _everyone(303, 404, 200)),
]

AUTHZ_FRAME_ROWS: list[tuple[dict, dict[str, object]]] = [
    ({"type": "react", "room": "{private}", "target": "{message}", "emoji": "👍"},
     _everyone("unauthenticated", "not_found", "ack")),
    # A public room is readable by anyone, but reacting is taking part: join first.
    ({"type": "react", "room": "{public}", "target": "{public_message}", "emoji": "👍"},
     _everyone("unauthenticated", "forbidden", "forbidden") | {"owner": "ack"}),
    ({"type": "pin", "room": "{private}", "target": "{message}"},
     {"anonymous": "unauthenticated", "non_member": "not_found", "member": "forbidden", "moderator": "ack",
      "owner": "ack"}),
    ({"type": "send", "room": "{private}", "client_id": "{client_id}", "body": "yes", "reply_to": "{message}"},
     _everyone("unauthenticated", "not_found", "ack")),
    ({"type": "history", "room": "{private}", "thread": "{message}"}, _everyone("unauthenticated", "not_found", "history")),
    ({"type": "history", "room": "{private}", "mentions": "me"}, _everyone("unauthenticated", "not_found", "history")),
    ({"type": "edit", "room": "{private}", "target": "{fresh}", "body": "changed", "client_id": "{client_id}"},
     {"anonymous": "unauthenticated", "non_member": "not_found", "member": "forbidden", "moderator": "forbidden",
      "owner": "ack"}),
    ({"type": "delete", "room": "{private}", "target": "{fresh}", "client_id": "{client_id}"},
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
    for method, path, expected in AUTHZ_ROWS:
        for role in ROLES:
            if (got := await cast.http(role, method, path)) != expected[role]:
                wrong.append(f"{method} {path} as {role}: expected {expected[role]}, got {got}")
    for frame, expected in AUTHZ_FRAME_ROWS:
        for role in ROLES:
            if (got := await cast.ws(role, frame)) != expected[role]:
                wrong.append(f"{frame['type']} {frame} as {role}: expected {expected[role]}, got {got}")
    await cast.owner_socket.close()
    assert wrong == []
