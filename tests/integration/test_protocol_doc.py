"""Runs every example of docs/protocol.md against a live server, so the contract and the code agree."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson
import pytest

from realtime.protocol import FRAME_TYPES
from tests.support.client import Api, ChatClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
BLOCK = re.compile(r"```ws\n(.*?)```", re.S)
LINE = re.compile(r"^(?:(alice|bob) )?(→|←) (.*)$")


def examples() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def matches(expected: object, actual: object) -> bool:
    """Expected is a subset of actual; "..." stands for any value."""
    if expected == "...":
        return True
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(
            key in actual and matches(value, actual[key]) for key, value in expected.items())
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(
            matches(e, a) for e, a in zip(expected, actual))
    return expected == actual


async def expect(client: ChatClient, cursor: int, expected: dict) -> int:
    """Waits for a frame at or after `cursor` that matches; answers the index after it."""
    async def scan() -> int:
        index = cursor
        while True:
            while index < len(client.frames):
                if matches(expected, client.frames[index]):
                    return index + 1
                index += 1
            await client.wait_for(lambda f: True, start=index)
    try:
        return await asyncio.wait_for(scan(), 10)
    except asyncio.TimeoutError:
        raise AssertionError(f"no frame matching {expected}; got {client.frames[cursor:]}") from None


def test_every_client_frame_type_has_an_example():
    sent = {orjson.loads(LINE.match(line).group(3))["type"]
            for block in examples() for line in block.strip().splitlines() if LINE.match(line).group(2) == "→"}
    assert set(FRAME_TYPES) <= sent


@pytest.mark.parametrize("number", range(len(examples())))
async def test_protocol_example(server, number):
    block = examples()[number]
    alice = await Api.register(server.url, display_name="Alice")
    bob = await Api.register(server.url, display_name="Bob")
    room = await alice.create_room("example")
    await bob.join(room)
    private = await bob.create_room("bob only", visibility="private")
    variables = {"$room": room, "$alice": alice.id, "$bob": bob.id, "$private": private}
    clients = {"alice": await alice.connect_raw(server.ws_url), "bob": await bob.connect(server.ws_url)}
    cursors = {"alice": 0, "bob": len(clients["bob"].frames)}
    for line in block.strip().splitlines():
        actor, direction, text = LINE.match(line).groups()
        actor = actor or "alice"
        for name, value in variables.items():
            text = text.replace(f'"{name}"', str(value))
        frame = orjson.loads(text)
        if direction == "→":
            await clients[actor].send(frame)
        else:
            cursors[actor] = await expect(clients[actor], cursors[actor], frame)
    for client in clients.values():
        await client.close()
