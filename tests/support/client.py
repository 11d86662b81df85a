"""A small protocol client for tests: connect, send frames, wait for the frames a user would see."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any, Callable

import httpx
import orjson
import websockets

Frame = dict[str, Any]
_refs = itertools.count(1)


class ChatClient:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.frames: list[Frame] = []
        self._changed = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.closed: asyncio.Future[tuple[int | None, str]] = asyncio.get_running_loop().create_future()

    @classmethod
    async def connect(cls, ws_url: str, token: str | None = None, *, origin: str | None = None,
                      cookie: str | None = None, wait_hello: bool = True) -> "ChatClient":
        headers = {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        ws = await websockets.connect(ws_url, additional_headers=headers, origin=origin,
                                      max_size=2**22, open_timeout=10)
        client = cls(ws)
        if wait_hello:
            await client.wait_for(lambda f: f["type"] == "hello")
        return client

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                async with self._changed:
                    self.frames.append(orjson.loads(text))
                    self._changed.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            if not self.closed.done():
                rcvd = self.ws.protocol.close_rcvd
                self.closed.set_result((rcvd.code if rcvd else None, rcvd.reason if rcvd else ""))
            async with self._changed:
                self._changed.notify_all()

    async def send(self, frame: Frame) -> None:
        await self.ws.send(orjson.dumps(frame).decode())

    async def send_raw(self, text: str | bytes) -> None:
        await self.ws.send(text)

    async def wait_for(self, predicate: Callable[[Frame], bool], timeout: float = 10.0, start: int = 0) -> Frame:
        """The first frame (from index `start`) matching the predicate, waiting for it if needed."""
        async def scan() -> Frame:
            index = start
            async with self._changed:
                while True:
                    for frame in self.frames[index:]:
                        if predicate(frame):
                            return frame
                    index = len(self.frames)
                    if self.closed.done():
                        raise ConnectionError(f"closed {self.closed.result()} while waiting")
                    await self._changed.wait()
        return await asyncio.wait_for(scan(), timeout)

    async def request(self, frame: Frame, timeout: float = 10.0) -> Frame:
        """Sends a frame with a fresh ref and answers the reply (or error) carrying that ref."""
        ref = f"r{next(_refs)}"
        start = len(self.frames)
        await self.send({**frame, "ref": ref})
        return await self.wait_for(lambda f: f.get("ref") == ref, timeout, start)

    async def subscribe(self, room: int, since: int | None = None) -> Frame:
        frame: Frame = {"type": "subscribe", "room": room}
        if since is not None:
            frame["since"] = since
        return await self.request(frame)

    async def say(self, room: int, body: str, client_id: str | None = None) -> Frame:
        return await self.request({"type": "send", "room": room, "body": body,
                                   "client_id": client_id or uuid.uuid4().hex})

    def events(self, room: int, kinds: tuple[str, ...] = ("message", "message.edited", "message.deleted")) -> list[Frame]:
        return [f for f in self.frames if f.get("room") == room and f["type"] in kinds and "seq" in f]

    async def wait_for_seq(self, room: int, seq: int, timeout: float = 10.0) -> None:
        await self.wait_for(lambda f: f.get("room") == room and f["type"].startswith("message")
                            and f.get("seq", 0) >= seq, timeout)

    async def closed_within(self, timeout: float) -> tuple[int | None, str]:
        """The close code and reason the server sent, waiting at most `timeout` seconds for it."""
        return await asyncio.wait_for(asyncio.shield(self.closed), timeout)

    async def close(self) -> None:
        await self.ws.close()
        await asyncio.gather(self._reader, return_exceptions=True)


class Api:
    """One member's HTTP session with the JSON API, authenticated with a bearer token."""

    def __init__(self, base_url: str, token: str, member: dict) -> None:
        self.base_url = base_url
        self.token = token
        self.member = member
        self.id: int = member["id"]
        self.http = httpx.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                      timeout=15)

    @classmethod
    async def register(cls, base_url: str, username: str | None = None,
                       display_name: str | None = None, password: str = "correct horse") -> "Api":
        username = username or f"m{uuid.uuid4().hex[:10]}"
        async with httpx.AsyncClient(base_url=base_url, timeout=15) as http:
            response = await http.post("/api/auth/register", json={
                "username": username, "password": password, "display_name": display_name or username.title()})
            assert response.status_code == 201, response.text
            response = await http.post("/api/auth/token", json={"username": username, "password": password})
            assert response.status_code == 201, response.text
            data = response.json()
        return cls(base_url, data["token"], data["member"])

    async def create_room(self, name: str = "room", visibility: str = "public") -> int:
        response = await self.http.post("/api/rooms", json={"name": name, "visibility": visibility})
        assert response.status_code == 201, response.text
        return response.json()["id"]

    async def join(self, room: int) -> httpx.Response:
        return await self.http.post(f"/api/rooms/{room}/join")

    async def connect(self, ws_url: str) -> ChatClient:
        return await ChatClient.connect(ws_url, self.token)

    async def connect_raw(self, ws_url: str) -> ChatClient:
        """Connected, but the hello frame left for the caller to check."""
        return await ChatClient.connect(ws_url, self.token, wait_hello=False)

    async def aclose(self) -> None:
        await self.http.aclose()
