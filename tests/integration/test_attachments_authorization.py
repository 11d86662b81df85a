"""Who may do what with attachments, as rows checked here: each route and frame, and what each role gets
(the authorization matrix, tests/integration/test_authorization_matrix.py, has its own rows for these).

The scene: a private room with its owner, a moderator and a member, and someone who is not in it. The owner
has sent a photo in a message there, has one file uploaded but not sent, and one upload in progress.
"""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass

import httpx
from PIL import Image

from tests.support.client import Api

ROLES = ("anonymous", "non_member", "member", "moderator", "owner")


def _roles(anonymous: int | str, non_member: int | str, member: int | str, moderator: int | str,
           owner: int | str) -> dict[str, int | str]:
    return dict(zip(ROLES, (anonymous, non_member, member, moderator, owner)))


# HTTP: (method, path, expected status by role). Placeholders: {room}, {sent} (the photo in a message),
# {unsent} (the owner's file not yet sent), {upload} (the owner's upload in progress), {signature}.
# Roles run in the order of ROLES, so a row that removes something is granted to the owner only, last.
AUTHZ_ROWS: list[tuple[str, str, dict[str, int | str]]] = [
    ("POST", "/api/rooms/{room}/attachments", _roles(401, 404, 201, 201, 201)),            # multipart `file`
    ("POST", "/api/rooms/{room}/attachments#tus", _roles(401, 404, 201, 201, 201)),        # tus creation
    ("GET", "/api/attachments/{sent}", _roles(401, 404, 200, 200, 200)),
    ("GET", "/api/attachments/{sent}/file", _roles(401, 404, 303, 303, 303)),
    ("GET", "/api/attachments/{sent}/preview", _roles(401, 404, 303, 303, 303)),
    ("GET", "/api/attachments/{unsent}", _roles(401, 404, 404, 404, 200)),                 # not sent: its owner's
    ("GET", "/media/attachments/{sent}/file?{signature}", _roles(200, 200, 200, 200, 200)),  # a capability
    ("GET", "/media/attachments/{sent}/file", _roles(403, 403, 403, 403, 403)),             # unsigned
    ("HEAD", "/api/uploads/{upload}", _roles(401, 404, 404, 404, 200)),
    ("PATCH", "/api/uploads/{upload}", _roles(401, 404, 404, 404, 204)),
    ("DELETE", "/api/uploads/{upload}", _roles(401, 404, 404, 404, 204)),
    ("DELETE", "/api/attachments/{unsent}", _roles(401, 404, 404, 404, 204)),
]
# Socket frames: a `send` naming another unsent file of the owner's, by role (anonymous cannot open a socket).
AUTHZ_FRAME_ROWS: list[tuple[dict, dict[str, str]]] = [
    ({"type": "send", "room": "{room}", "attachments": ["{spare}"]},
     {"non_member": "not_found", "member": "not_found", "moderator": "not_found", "owner": "ack"}),
]


@dataclass
class Scene:
    apis: dict[str, Api]
    values: dict[str, str]


def _photo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), "teal").save(out, "PNG")
    return out.getvalue()


async def _scene(base_url: str, ws_url: str) -> Scene:
    apis = {role: await Api.register(base_url) for role in ROLES if role != "anonymous"}
    owner = apis["owner"]
    room = await owner.create_room("supervision", visibility="private")
    for role in ("member", "moderator"):
        assert (await owner.http.post(f"/api/rooms/{room}/invite", json={"member_id": apis[role].id})).status_code == 204
        assert (await apis[role].join(room)).status_code == 200
    await owner.http.post(f"/api/rooms/{room}/members/{apis['moderator'].id}/role", json={"role": "moderator"})
    sent = (await owner.http.post(f"/api/rooms/{room}/attachments",
                                  files={"file": ("p.png", _photo(), "image/png")})).json()["attachment"]
    unsent, spare = [(await owner.http.post(f"/api/rooms/{room}/attachments", files={
        "file": (f"{name}.txt", b"unsent", "text/plain")})).json()["attachment"] for name in ("unsent", "spare")]
    upload = (await owner.http.post(f"/api/rooms/{room}/attachments",
                                    headers={"Tus-Resumable": "1.0.0", "Upload-Length": "100"})).headers["location"]
    ws = await owner.connect(ws_url)
    try:
        ack = await ws.request({"type": "send", "room": room, "client_id": "photo", "attachments": [sent["id"]]})
        assert ack["type"] == "ack", ack
    finally:
        await ws.close()
    return Scene(apis, {"room": str(room), "sent": str(sent["id"]), "unsent": str(unsent["id"]), "spare": str(spare["id"]),
                        "upload": upload.rsplit("/", 1)[1], "signature": sent["signed_url"].split("?")[1]})


async def _status(base_url: str, api: Api | None, method: str, path: str) -> int:
    headers = {"Authorization": f"Bearer {api.token}"} if api else {}
    request: dict = {}
    if path.endswith("/attachments"):
        request["files"] = {"file": ("t.txt", b"text", "text/plain")}
    elif path.endswith("#tus"):
        path = path.removesuffix("#tus")
        headers.update({"Tus-Resumable": "1.0.0", "Upload-Length": "10"})
    elif path.startswith("/api/uploads/"):
        headers["Tus-Resumable"] = "1.0.0"
        if method == "PATCH":
            headers.update({"Content-Type": "application/offset+octet-stream", "Upload-Offset": "0"})
            request["content"] = b"x" * 10
    async with httpx.AsyncClient(base_url=base_url, headers=headers) as http:
        return (await http.request(method, path, **request)).status_code


async def test_attachment_routes_and_frames_by_role(server):
    scene = await _scene(server.url, server.ws_url)
    seen = []
    for method, template, expected in AUTHZ_ROWS:
        path = template.format(**scene.values)
        for role in ROLES:
            seen.append((method, template, role, await _status(server.url, scene.apis.get(role), method, path),
                         expected[role]))
    assert [row for row in seen if row[3] != row[4]] == []
    for frame, expected in AUTHZ_FRAME_ROWS:
        for role, outcome in expected.items():
            ws = await scene.apis[role].connect(server.ws_url)
            try:
                answer = await ws.request({**frame, "room": int(scene.values["room"]), "client_id": uuid.uuid4().hex,
                                           "attachments": [int(scene.values["spare"])]})
            finally:
                await ws.close()
            assert answer.get("code", answer["type"]) == outcome, (role, answer)
