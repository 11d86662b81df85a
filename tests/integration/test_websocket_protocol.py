"""The server's websocket protocol (realtime/websocket_protocol.py): compression shared by every socket by
default, a kept context for a member who asks to save data, and the plain ASGI path on a stock server."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Iterator

import pytest
import websockets
from tests.conftest import embedded_env
from tests.support.client import Api, ChatClient
from tests.support.services import ServerProcess

# Varied enough that compression saves something but not everything, as chat does.
BODIES = [f"Message {i}: could you share the slides from the session on peer supervision in district {i % 7}?"
          for i in range(30)]


class CountingClient(ChatClient):
    """A chat client that also counts the bytes the server wrote to it."""

    @classmethod
    async def open(cls, ws_url: str, token: str, query: str = "", compression: str | None = "deflate") -> "CountingClient":
        ws = await websockets.connect(ws_url + query, additional_headers={"Authorization": f"Bearer {token}"},
                                      compression=compression, open_timeout=10)
        client = cls(ws)
        client.received_bytes = 0
        receive_data = ws.protocol.receive_data

        def counting(data: bytes) -> None:
            client.received_bytes += len(data)
            receive_data(data)

        ws.protocol.receive_data = counting   # type: ignore[method-assign]
        await client.wait_for(lambda f: f["type"] == "hello")
        return client


async def test_compression_is_shared_unless_a_socket_asks_for_a_context(server):
    alice, bob, carol, dan = [await Api.register(server.url) for _ in range(4)]
    room = await alice.create_room("compression")
    for member in (bob, carol, dan):
        assert (await member.join(room)).status_code == 200
    shared = await CountingClient.open(server.ws_url, bob.token)
    context = await CountingClient.open(server.ws_url, carol.token, query="?v=1&compression=context")
    plain = await CountingClient.open(server.ws_url, dan.token, compression=None)
    server_side = lambda client: client.ws.protocol.extensions[0]   # noqa: E731 - the server's parameters as agreed
    assert server_side(shared).remote_no_context_takeover and server_side(shared).local_no_context_takeover
    assert not server_side(context).remote_no_context_takeover and server_side(context).remote_max_window_bits == 12
    assert server_side(context).local_no_context_takeover      # client frames are compressed on their own
    assert plain.ws.protocol.extensions == []
    for client in (shared, context, plain):
        await client.subscribe(room)
        client.received_bytes = 0
    sender = await alice.connect(server.ws_url)
    await sender.subscribe(room)
    acks = [await sender.say(room, body) for body in BODIES]

    for client in (shared, context, plain):
        await client.wait_for_seq(room, acks[-1]["seq"])
        assert [f["body"] for f in client.events(room)] == BODIES
    # Every frame compressed on its own saves less than a kept context, but saves.
    assert context.received_bytes < shared.received_bytes < plain.received_bytes
    # A replay (resuming from a seq) is written in one go (realtime/hub.py, push_many_now): each kind
    # of socket decodes it whole and in order, and the frames after it still decode.
    for client in (shared, context, plain):
        start = len(client.frames)
        assert (await client.subscribe(room, since=acks[0]["seq"]))["type"] == "subscribed"
        replay = [f for f in client.frames[start:] if f["type"] == "message"]
        assert [f["body"] for f in replay] == BODIES[1:]
        assert [f["seq"] for f in replay] == [ack["seq"] for ack in acks[1:]]
    last = await sender.say(room, "after the replay")
    for client in (shared, context, plain):
        await client.wait_for_seq(room, last["seq"])
        assert client.events(room)[-1]["body"] == "after the replay"
    for client in (shared, context, plain, sender):
        await client.close()


@pytest.fixture(scope="module")
def stock_server() -> Iterator[ServerProcess]:
    """The app on uvicorn's own sans-I/O protocol: no `convene.socket` extension, so frames go through ASGI."""
    process = ServerProcess(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-stock-"))),
                            ws_protocol="websockets-sansio")
    process.start()
    yield process
    process.cleanup()


async def test_the_app_works_on_a_server_without_the_direct_path(stock_server):
    alice, bob = await Api.register(stock_server.url), await Api.register(stock_server.url)
    room = await alice.create_room("stock")
    await bob.join(room)
    a, b = await alice.connect(stock_server.ws_url), await bob.connect(stock_server.ws_url)
    await a.subscribe(room), await b.subscribe(room)
    acks = [await a.say(room, f"over ASGI {i}") for i in range(10)]
    await b.wait_for_seq(room, acks[-1]["seq"])
    assert [f["body"] for f in b.events(room)] == [f"over ASGI {i}" for i in range(10)]
    await a.close(), await b.close()
    refused = await ChatClient.connect(stock_server.ws_url, "not-a-token", wait_hello=False)
    assert (await refused.wait_for(lambda f: f["type"] == "error"))["code"] == "unauthenticated"
    assert (await refused.closed)[0] == 4401
