"""The server-rendered pages against a real server: the forms, redirects, escaping and who may see what."""

from __future__ import annotations

import json
import uuid

import httpx
from websockets.sync.client import connect

from tests.support.services import ServerProcess

PASSWORD = "a long enough password"
FOREIGN = "https://evil.example"


def browser(server: ServerProcess) -> httpx.Client:
    """A client that behaves like our own pages in a browser: same Origin, redirects by hand."""
    return httpx.Client(base_url=server.url, headers={"Origin": server.url}, follow_redirects=False,
                        trust_env=False, timeout=10)


def register(server: ServerProcess, display_name: str = "") -> httpx.Client:
    client = browser(server)
    username = "m" + uuid.uuid4().hex[:10]
    response = client.post("/register", data={"username": username, "display_name": display_name,
                                               "password": PASSWORD, "next": "/rooms"})
    assert response.status_code == 303, response.text
    return client


def create_room(client: httpx.Client, name: str, visibility: str = "public", topic: str = "") -> int:
    response = client.post("/rooms/new", data={"name": name, "visibility": visibility, "topic": topic})
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rsplit("/", 1)[1])


def send_message(server: ServerProcess, client: httpx.Client, room_id: int, body: str) -> int:
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    with connect(server.ws_url, origin=server.url, additional_headers={"Cookie": cookie},
                 proxy=None, open_timeout=10) as ws:
        assert json.loads(ws.recv(timeout=10))["type"] == "hello"
        ws.send(json.dumps({"type": "send", "room": room_id, "client_id": uuid.uuid4().hex, "body": body}))
        while True:
            frame = json.loads(ws.recv(timeout=10))
            if frame["type"] in ("ack", "error"):
                assert frame["type"] == "ack", frame
                return frame["seq"]


def test_registering_through_the_form_logs_in_and_lands_on_the_room_list(server: ServerProcess) -> None:
    client = browser(server)
    response = client.post("/register", data={"username": "zanele", "display_name": "Zanele Dube",
                                              "password": PASSWORD, "next": "/rooms"})
    assert response.status_code == 303
    assert response.headers["location"] == "/rooms"
    assert "convene_session" in response.headers["set-cookie"]
    assert "HttpOnly" in response.headers["set-cookie"]

    rooms = client.get("/rooms")
    assert rooms.status_code == 200
    assert "Zanele Dube" in rooms.text
    assert rooms.headers["cache-control"] == "no-store"


def test_a_taken_username_rerenders_the_form_with_the_error_and_without_the_password(
        server: ServerProcess) -> None:
    register_page = {"username": "taken-name", "display_name": "", "password": PASSWORD}
    assert browser(server).post("/register", data=register_page).status_code == 303
    again = browser(server).post("/register", data=register_page)
    assert again.status_code == 409
    assert "This username is taken." in again.text
    assert 'value="taken-name"' in again.text
    assert PASSWORD not in again.text
    assert "set-cookie" not in again.headers


def test_the_room_list_shows_joined_rooms_and_public_rooms_to_join(server: ServerProcess) -> None:
    owner = register(server)
    room_id = create_room(owner, "Supervision circle", topic="Monthly peer supervision")
    assert f'href="/rooms/{room_id}"' in owner.get("/rooms").text

    newcomer = register(server)
    listing = newcomer.get("/rooms").text
    public_section = listing.split('id="public"', 1)[1]
    assert "Supervision circle" in public_section
    assert f'action="/rooms/{room_id}/join"' in public_section

    joined = newcomer.post(f"/rooms/{room_id}/join")
    assert joined.status_code == 303
    assert joined.headers["location"] == f"/rooms/{room_id}"
    yours = newcomer.get("/rooms").text.split('id="dms"', 1)[0]
    assert "Supervision circle" in yours


def test_the_room_page_renders_history_with_markup_escaped(server: ServerProcess) -> None:
    client = register(server, display_name="<i>Ines</i>")
    room_id = create_room(client, "Escaping <b>check</b>")
    seq = send_message(server, client, room_id, "<script>alert(1)</script> & goodbye")

    page = client.get(f"/rooms/{room_id}")
    assert page.status_code == 200
    assert f'data-seq="{seq}"' in page.text
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; goodbye" in page.text
    assert "<b>check</b>" not in page.text and "&lt;b&gt;check&lt;/b&gt;" in page.text
    assert "<i>Ines</i>" not in page.text and "&lt;i&gt;Ines&lt;/i&gt;" in page.text
    # The only script is our own, loaded from /static (the CSP forbids inline scripts anyway).
    assert page.text.count("<script") == 1 and '<script src="/static/chat.js?v=' in page.text
    assert f'data-room-id="{room_id}"' in page.text and f'data-last-seq="{seq}"' in page.text


def test_a_login_post_from_a_foreign_origin_is_refused(server: ServerProcess) -> None:
    register_form = {"username": "origin-check", "display_name": "", "password": PASSWORD}
    assert browser(server).post("/register", data=register_form).status_code == 303

    with httpx.Client(base_url=server.url, headers={"Origin": FOREIGN}, trust_env=False) as foreign:
        response = foreign.post("/login", data={"username": "origin-check", "password": PASSWORD})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_a_wrong_password_shows_the_form_again_without_a_session(server: ServerProcess) -> None:
    response = browser(server).post("/login", data={"username": "nobody-here", "password": "wrong-password"})
    assert response.status_code == 400
    assert "Wrong username or password." in response.text
    assert "set-cookie" not in response.headers


def test_logged_out_visitors_are_sent_to_the_login_form(server: ServerProcess) -> None:
    with httpx.Client(base_url=server.url, trust_env=False) as anonymous:
        rooms = anonymous.get("/rooms")
        assert rooms.status_code == 303
        assert rooms.headers["location"].startswith("/login")
        assert anonymous.get("/rooms/1").headers["location"] == "/login?next=/rooms/1"
        assert anonymous.get("/").headers["location"] == "/login"


def test_login_only_returns_to_paths_on_this_site(server: ServerProcess) -> None:
    register_form = {"username": "next-check", "display_name": "", "password": PASSWORD}
    assert browser(server).post("/register", data=register_form).status_code == 303
    response = browser(server).post("/login", data={"username": "next-check", "password": PASSWORD,
                                                    "next": "//evil.example/phish"})
    assert response.status_code == 303
    assert response.headers["location"] == "/rooms"


def test_logging_out_ends_the_session(server: ServerProcess) -> None:
    client = register(server)
    assert client.post("/logout").status_code == 303
    assert client.get("/rooms").status_code == 303


def test_a_private_room_is_not_found_for_a_non_member(server: ServerProcess) -> None:
    owner = register(server)
    room_id = create_room(owner, "Coordinators only", visibility="private")
    assert owner.get(f"/rooms/{room_id}").status_code == 200

    outsider = register(server)
    page = outsider.get(f"/rooms/{room_id}")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Coordinators only" not in page.text
    assert outsider.post(f"/rooms/{room_id}/join").status_code == 404
    assert "Coordinators only" not in outsider.get("/rooms").text
