"""Runs the emergency-room examples of docs/protocol.md (```ws emergency blocks) against a live server.

$room is an emergency room that Alice coordinates and Bob was added to; the other
conventions are those of test_protocol_doc.py.
"""

from __future__ import annotations

import re

import pytest

from tests.support.client import Api
from tests.support.doc_examples import DOC, run_example
from tests.support.emergency import open_emergency

BLOCK = re.compile(r"```ws emergency\n(.*?)```", re.S)


def examples() -> list[str]:
    return BLOCK.findall(DOC.read_text())


def test_there_are_emergency_examples():
    assert len(examples()) >= 2


@pytest.mark.parametrize("number", range(len(examples())))
async def test_emergency_protocol_example(server, number):
    alice = await Api.register(server.url, display_name="Alice")
    bob = await Api.register(server.url, display_name="Bob")
    room = await open_emergency(alice, [bob], name="example")
    variables = {"$room": room, "$alice": alice.id, "$bob": bob.id}
    clients = {"alice": await alice.connect_raw(server.ws_url), "bob": await bob.connect(server.ws_url)}
    await run_example(examples()[number], clients, variables)
    for client in clients.values():
        await client.close()
