"""Who owns a webinar's media (the lease), and the relay between processes, on SQLite and the in-process broker.

Two Ownership objects over one database stand for two processes; two relays over one memory
broker (its channels are shared by whoever subscribes) talk as two processes would over Redis.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from realtime.broker.memory import MemoryBroker
from recordings.media.leases import LeaseStore
from recordings.media.ownership import Ownership
from recordings.media.relay import MediaRelay, MediaUnavailable, OwnerGone, RelayError
from recordings.media.schema import media_leases
from rooms.errors import Forbidden, NotFound
from rooms.store import Stores
from rooms.store.schema import members, rooms, utcnow
from rooms.webinars.store.schema import webinars


@pytest.fixture
async def store(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/leases.db")
    await stores.db.migrate()
    now = utcnow()
    async with stores.db.write() as conn:
        await conn.execute(insert(members).values(id=1, username="host", display_name="Host", password_hash="x"))
        await conn.execute(insert(rooms).values(id=1, name="webinar", kind="webinar", created_by=1))
        await conn.execute(insert(webinars).values(
            id=7, room_id=1, title="t", description="", language="en", starts_at=now, ends_at=now + timedelta(hours=1),
            visibility="public", state="live", anonymous_questions=False, created_by=1, created_at=now))
    yield LeaseStore(stores.db)
    await stores.db.dispose()


async def _lapse(leases: LeaseStore, webinar_id: int) -> None:
    async with leases.db.write() as conn:
        await conn.execute(update(media_leases).where(media_leases.c.webinar_id == webinar_id)
                           .values(expires_at=utcnow() - timedelta(seconds=1)))


async def test_one_owner_at_a_time_and_a_lapsed_lease_is_taken_over_once(store):
    sessions: dict[str, set[int]] = {"a": {7}, "b": set()}
    lost: list[tuple[str, int]] = []

    def process(name: str) -> Ownership:
        async def on_lost(webinar_id: int) -> None:
            lost.append((name, webinar_id))
        return Ownership(store, name, 3.0, in_use=lambda w: w in sessions[name], on_lost=on_lost)

    a, b = process("a"), process("b")
    first = await a.owner_of(7)
    assert (first.owner, first.epoch) == ("a", 1) and a.holds(7)
    assert (await b.owner_of(7)).owner == "a" and not b.holds(7)    # live: b relays to a
    assert await b.current_owner(7) == first
    with pytest.raises(NotFound):
        await b.owner_of(404)                                        # no such webinar: no lease either

    await _lapse(store, 7)                                           # a died: it stopped renewing
    assert await b.current_owner(7) is None
    taken, again = await asyncio.gather(b.owner_of(7), b.owner_of(7))
    assert (taken.owner, taken.epoch) == (again.owner, again.epoch) == ("b", 2)
    sessions["b"].add(7)
    # a wakes up: its renewal finds the lease gone, and it closes its session.
    await a.renew_once()
    assert lost == [("a", 7)] and not a.holds(7)
    await b.renew_once()
    assert b.holds(7) and lost == [("a", 7)]
    # b's session ends: the lease is given up at the next renewal, and anyone may take it at once.
    sessions["b"].clear()
    b._acquired_at[7] = 0.0
    await b.renew_once()
    assert await store.holder(7) is None
    assert (await a.owner_of(7)).owner == "a"


async def test_relayed_requests_answers_errors_timeouts_and_an_owner_that_goes_away():
    broker = MemoryBroker()
    await broker.connect()
    edge, owner = MediaRelay(broker, "edge", "key", 0.5), MediaRelay(broker, "owner", "key", 0.5)
    stranger = MediaRelay(broker, "stranger", "another key", 0.5)
    for relay in (edge, owner, stranger):
        await relay.start()
    relays = {relay.channel: relay for relay in (edge, owner, stranger)}
    pump = asyncio.create_task(_pump(broker, relays))

    async def watch(sender: str, body: dict) -> dict:
        if body["member"] == 2:
            raise Forbidden("register for this webinar first")
        owner.push(sender, body["conn"], {"type": "media.publishers", "webinar": 7, "publishers": []})
        return {"type": "media.publishers", "webinar": 7, "publishers": [], "from": sender}

    owner.handlers["watch"] = watch
    pushed: list[tuple[str, dict]] = []
    edge.on_push = lambda conn, frame: pushed.append((conn, frame))
    answer = await edge.request("owner", "watch", {"member": 1, "conn": "c1"})
    assert answer["from"] == "edge"
    await asyncio.sleep(0.05)
    assert pushed == [("c1", {"type": "media.publishers", "webinar": 7, "publishers": []})]
    with pytest.raises(RelayError) as refused:
        await edge.request("owner", "watch", {"member": 2, "conn": "c2"})
    assert refused.value.code == "forbidden" and refused.value.message == "register for this webinar first"
    # A process with another key is not heard: its request times out.
    with pytest.raises(MediaUnavailable):
        await stranger.request("owner", "watch", {"member": 1, "conn": "c3"})
    # Nobody answers on a dead process's channel; the wait ends as soon as its lease is known to have lapsed.
    with pytest.raises(OwnerGone):
        await edge.request("dead", "watch", {"member": 1, "conn": "c4"}, timeout_s=30,
                           still_owner=_false, check_every_s=0.05)
    pump.cancel()
    for relay in (edge, owner, stranger):
        await relay.stop()


async def _false() -> bool:
    return False


async def _pump(broker: MemoryBroker, relays: dict[str, MediaRelay]) -> None:
    """What the hub does with the broker's messages on channels that are not rooms."""
    while True:
        item = await broker.next_published()
        relays[item.channel].receive(item.data)
