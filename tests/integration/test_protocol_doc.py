"""Runs every example of docs/protocol.md against a live server, so the contract and the code agree."""

from __future__ import annotations

import re

import orjson
import pytest

from realtime.frames import all_frames
from tests.support.client import Api
from tests.support.doc_examples import DOC, LINE, run_example

FRAME_TYPES = all_frames().types

BLOCK = re.compile(r"```ws\n(.*?)```", re.S)


def examples() -> list[str]:
    return BLOCK.findall(DOC.read_text())


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
    variables = {"$room": room, "$alice": alice.id, "$bob": bob.id, "$private": private,
                 "$bob_username": bob.member["username"]}
    if "$attachment" in block:   # a file Alice uploaded to $room and has not sent yet (docs/attachments.md)
        uploaded = await alice.http.post(f"/api/rooms/{room}/attachments",
                                         files={"file": ("agenda.txt", b"1. welcome\n", "text/plain")})
        variables["$attachment"] = uploaded.json()["attachment"]["id"]
    clients = {"alice": await alice.connect_raw(server.ws_url), "bob": await bob.connect(server.ws_url)}
    await run_example(block, clients, variables)
    for client in clients.values():
        await client.close()
