"""Keepalive pings go only to silent sockets (realtime/websocket_protocol.py): a socket that sent
something during the interval is not pinged; a silent one is, and one that does not answer is
closed. A real uvicorn with half-second pings, real websockets clients."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Iterator

import pytest
from websockets.frames import Frame, Opcode

from tests.conftest import embedded_env
from tests.integration.test_metrics import moved, scrape
from tests.support.client import Api, ChatClient
from tests.support.services import ServerProcess

PING_S = 0.5


class PingingServer(ServerProcess):
    def command(self) -> list[str]:
        return [*super().command(), "--ws-ping-interval", str(PING_S), "--ws-ping-timeout", str(PING_S)]


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    process = PingingServer(env=embedded_env(Path(tempfile.mkdtemp(prefix="convene-keepalive-"))))
    process.start()
    yield process
    process.cleanup()


def count_pings(client: ChatClient) -> list[Frame]:
    """The websocket-level pings the client receives (its protocol still answers each)."""
    pings: list[Frame] = []
    events_received = client.ws.protocol.events_received

    def spying() -> list:
        events = events_received()
        pings.extend(e for e in events if isinstance(e, Frame) and e.opcode is Opcode.PING)
        return events

    client.ws.protocol.events_received = spying   # type: ignore[method-assign]
    return pings


async def test_a_talking_socket_is_not_pinged_and_a_silent_one_is(server):
    talker_api, silent_api = await Api.register(server.url), await Api.register(server.url)
    talker, silent = await talker_api.connect(server.ws_url), await silent_api.connect(server.ws_url)
    talked, heard = count_pings(talker), count_pings(silent)
    before = await scrape(server.url)

    for _ in range(int(PING_S * 8 / 0.2)):   # four intervals, a frame every fifth of one
        assert (await talker.request({"type": "ping"}))["type"] == "pong"
        await asyncio.sleep(0.2)

    assert talked == []
    assert len(heard) >= 3                    # about one per interval, each answered: still open
    assert not silent.closed.done()
    after = await scrape(server.url)
    assert moved(before, after, "convene_keepalive_pings_total", outcome="skipped") >= 3
    assert moved(before, after, "convene_keepalive_pings_total", outcome="sent") >= 3

    # Falling silent, the talker is pinged again.
    await asyncio.sleep(PING_S * 3)
    assert len(talked) >= 1 and not talker.closed.done()
    for client in (talker, silent):
        await client.close()


async def test_a_socket_that_stops_answering_is_closed_even_after_talking(server):
    api = await Api.register(server.url)
    client = await api.connect(server.ws_url)
    for _ in range(3):
        assert (await client.request({"type": "ping"}))["type"] == "pong"
        await asyncio.sleep(PING_S / 2)
    # A peer gone dark: nothing read, so no pong goes back.
    client.ws.transport.pause_reading()
    await asyncio.sleep(PING_S * 2 + PING_S + 1.0)   # two intervals at most, then the pong's timeout
    client.ws.transport.resume_reading()
    code, _ = await client.closed_within(5)
    assert code == 1011
