"""Runs the ```ws examples of docs/protocol.md: frames sent by Alice or Bob, frames they must receive,
and (in blocks whose runner passes the members' APIs) HTTP requests they make, with the status they get."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import orjson

from tests.support.client import Api, ChatClient

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
LINE = re.compile(r"^(?:(alice|bob) )?(→|←) (.*)$")
# alice POST /api/rooms/$room/mutes {"member_id": "$bob", "minutes": 10} ⇒ 201
HTTP_LINE = re.compile(r"^(alice|bob) (GET|POST|PUT|PATCH|DELETE) (\S+)(?: (\{.*\}))? ⇒ (\d{3})$")


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


def substitute(text: str, variables: dict[str, int | str]) -> str:
    """A number variable replaces its quoted name ("$room" becomes 12); a text one its name anywhere
    ($bob_username). Longer names first, so $bob_username is not taken for $bob."""
    for name in sorted(variables, key=len, reverse=True):
        value = variables[name]
        text = text.replace(name, value) if isinstance(value, str) else text.replace(f'"{name}"', str(value))
    return text


async def run_example(block: str, clients: dict[str, ChatClient], variables: dict[str, int | str],
                      apis: dict[str, Api] | None = None) -> None:
    """Plays one example: `→` lines are sent, `←` lines must arrive, in order, per member; with `apis`,
    HTTP lines are requests whose status must be the one written (a path takes any variable's value)."""
    cursors = {"alice": 0, "bob": len(clients["bob"].frames)}
    for line in block.strip().splitlines():
        request = HTTP_LINE.match(line)
        if request is not None and apis is not None:
            actor, method, path, body, status = request.groups()
            for name in sorted(variables, key=len, reverse=True):
                path = path.replace(name, str(variables[name]))
            json = orjson.loads(substitute(body, variables)) if body else None
            response = await apis[actor].http.request(method, path, json=json)
            assert response.status_code == int(status), f"{line}: {response.status_code} {response.text}"
            continue
        actor, direction, text = LINE.match(line).groups()
        actor = actor or "alice"
        frame = orjson.loads(substitute(text, variables))
        if direction == "→":
            await clients[actor].send(frame)
        else:
            cursors[actor] = await expect(clients[actor], cursors[actor], frame)
