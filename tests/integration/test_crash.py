"""A process killed with SIGKILL: its members go offline within the documented bound."""

from __future__ import annotations

import tempfile
import time

from tests.support.client import Api
from tests.support.services import ServerProcess

# docs/protocol.md: offline within PRESENCE_TTL_S + PRESENCE_HEARTBEAT_S (2 + 0.5 s in tests).
BOUND_S = 2.0 + 0.5


async def test_members_of_a_killed_process_go_offline_within_the_bound(process_pair):
    survivor = process_pair[0]
    # The same Postgres and Redis (one server, or a cluster) as the survivor.
    victim = ServerProcess(env={**survivor.env, "CONVENE_DATA_DIR": tempfile.mkdtemp()})
    victim.start()
    try:
        alice, bob = await Api.register(survivor.url), await Api.register(victim.url)
        room = await alice.create_room("crash")
        await bob.join(room)
        a = await alice.connect(survivor.ws_url)
        await a.subscribe(room)
        await bob.connect(victim.ws_url)
        await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id
                         and f["status"] == "online")
        victim.kill()
        killed_at = time.monotonic()
        await a.wait_for(lambda f: f["type"] == "presence" and f["member"]["id"] == bob.id
                         and f["status"] == "offline", timeout=BOUND_S + 5)
        elapsed = time.monotonic() - killed_at
        # One heartbeat of slack for the reaper's own schedule and the test's clock.
        assert elapsed <= BOUND_S + 0.5 + 0.5, elapsed
        who = await a.request({"type": "who", "room": room})
        assert [m["id"] for m in who["members"]] == [alice.id]
        await a.close()
    finally:
        victim.cleanup()
