"""Moderation at the store and hub level: the send path's own refusal, expiry, and bans seen by the hub."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest

from realtime.broker.memory import MemoryBroker
from realtime.connection import Connection
from realtime.hub import Hub
from rooms.errors import Forbidden
from rooms.models import Draft, RoomKind, Visibility
from rooms.moderation.models import Restriction
from rooms.moderation.store import ModerationStores
from rooms.store import Stores
from rooms.store.schema import utcnow


@pytest.fixture
async def world(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/moderation.db")
    await stores.db.migrate()
    broker = MemoryBroker()
    await broker.connect()
    hub = Hub(stores, broker, repair_interval_s=3600)
    await hub.start()
    owner = await stores.accounts.create_member("owner", "x", "Owner")
    member = await stores.accounts.create_member("member", "x", "Member")
    room = await stores.rooms.create(name="r", kind=RoomKind.ROOM, visibility=Visibility.PUBLIC,
                                     topic="", owner_id=owner.id)
    await stores.memberships.add(room.id, member.id)
    yield stores, ModerationStores.over(stores), hub, owner, member, room
    await hub.stop()
    await stores.db.dispose()


async def open_room(room) -> None:
    return None


def frames(conn: Connection) -> list[dict]:
    found = []
    while not conn.outbox.empty():
        found.append(orjson.loads(conn.outbox.get_nowait()))
    return found


async def test_the_send_path_refuses_a_muted_member_until_the_mute_ends(world):
    stores, moderation, hub, owner, member, room = world
    fields = {"action": "mute", "member": member.brief()}
    await moderation.restrictions.impose(room.id, member.id, Restriction.MUTE, utcnow() + timedelta(minutes=5), "",
                                         owner.id, fields)
    assert await stores.messages.send(room.id, member.id, "c1", Draft("hello"), open_room) is None
    # A mute that has run out is ignored: no job needs to clear it first.
    await moderation.restrictions.impose(room.id, member.id, Restriction.MUTE, utcnow() - timedelta(seconds=1), "",
                                         owner.id, fields)
    sent = await stores.messages.send(room.id, member.id, "c1", Draft("hello"), open_room)
    assert sent is not None and sent[1] is True
    assert (await stores.rooms.access(room.id, member.id)).muted_until is None


async def test_a_ban_made_between_the_access_check_and_the_subscription_refuses_it(world):
    stores, moderation, hub, owner, member, room = world
    checked = await stores.rooms.get(room.id)   # what the access check saw
    await moderation.restrictions.impose(room.id, member.id, Restriction.BAN, None, "", owner.id,
                                         {"action": "ban", "member": member.brief()})
    conn = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    with pytest.raises(Forbidden):
        await hub.subscribe(conn, checked, None)
    assert room.id not in conn.subscriptions
    # Lifted before the subscription: allowed again.
    await moderation.restrictions.lift(room.id, member.id, Restriction.BAN, owner.id,
                                       {"action": "unban", "member": member.brief()})
    assert await hub.subscribe(conn, checked, None) == 2


async def test_a_ban_the_broker_never_carried_ends_the_subscription_at_the_next_check(world):
    stores, moderation, hub, owner, member, room = world
    conn = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    other = Connection(member=owner, queue_size=100, on_overflow=lambda c: None)
    await hub.subscribe(conn, room, None)
    await hub.subscribe(other, room, None)
    await moderation.restrictions.impose(room.id, member.id, Restriction.BAN, None, "", owner.id,
                                         {"action": "ban", "member": member.brief()})   # never published
    await hub.check_all()
    for _ in range(20):
        await asyncio.sleep(0.01)
    seen = frames(conn)
    assert [f["type"] for f in seen] == ["moderation", "unsubscribed"]
    assert seen[1] == {"type": "unsubscribed", "room": room.id, "reason": "banned"}
    assert room.id not in conn.subscriptions and room.id in other.subscriptions
    assert [f["type"] for f in frames(other)] == ["moderation"]
