"""A closed connection leaves presence PRESENCE_GRACE_S after it closed (rooms/presence.py): a member
whose connection blips and who is back meanwhile is never announced offline and online again; one
who does not come back is announced offline once the grace is over. On the embedded default, and
across two processes on Postgres + Redis (the member on one, the room's other member on the other)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import embedded_env, shared_env
from tests.integration.test_metrics import moved, scrape
from tests.support.client import Api
from tests.support.services import ServerProcess

GRACE_S = 1.5


@pytest.fixture(params=["embedded", "postgres"])
def servers(request: pytest.FixtureRequest) -> Iterator[list[ServerProcess]]:
    """[where alice is, where bob is]: one process on the embedded default, two on Postgres + Redis."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"convene-grace-{request.param}-"))
    if request.param == "embedded":
        envs = [embedded_env(data_dir, PRESENCE_GRACE_S=str(GRACE_S))]
    else:
        env = shared_env(request.getfixturevalue("postgres"), request.getfixturevalue("redis_server"), data_dir,
                         PRESENCE_GRACE_S=str(GRACE_S))
        envs = [env, env]
    processes = [ServerProcess(env=env) for env in envs]
    for process in processes:
        process.start()
    yield processes if len(processes) == 2 else processes * 2
    for process in processes:
        process.cleanup()


def _about(member_id: int):
    return lambda frame: frame["type"] == "presence" and frame["member"]["id"] == member_id


async def test_a_blip_is_not_announced_and_a_departure_is_once_the_grace_is_over(servers):
    here, there = servers
    alice, bob = await Api.register(here.url), await Api.register(there.url)
    room = await alice.create_room("field coordination")
    await bob.join(room)
    watcher = await alice.connect(here.ws_url)
    await watcher.subscribe(room)
    before = await scrape(there.url)

    phone = await bob.connect(there.ws_url)
    assert (await watcher.wait_for(_about(bob.id)))["status"] == "online"
    seen = len(watcher.frames)

    # The connection drops and the client is back a moment later: nobody is told anything.
    await phone.close()
    phone = await bob.connect(there.ws_url)
    await asyncio.sleep(GRACE_S + 1.0)
    assert [f for f in watcher.frames[seen:] if _about(bob.id)(f)] == []
    who = await watcher.request({"type": "who", "room": room})
    assert {m["id"]: m["status"] for m in who["members"]}[bob.id] == "online"

    # Gone for good: offline, once the grace is over, and only then.
    await phone.close()
    closed_at = time.monotonic()
    offline = await watcher.wait_for(_about(bob.id), timeout=GRACE_S + 5, start=seen)
    assert offline["status"] == "offline"
    assert time.monotonic() - closed_at >= GRACE_S - 0.1
    who = await watcher.request({"type": "who", "room": room})
    assert bob.id not in {m["id"] for m in who["members"]}

    # Where bob was connected: one departure absorbed, one announced.
    after = await scrape(there.url)
    assert moved(before, after, "convene_presence_departures_total", outcome="absorbed") == 1
    assert moved(before, after, "convene_presence_departures_total", outcome="announced") == 1
    await watcher.close()
