"""The hub in-process: gap repair from the store, duplicates dropped, resume joins live exactly once."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from realtime.broker.memory import MemoryBroker
from realtime.connection import Connection
from realtime.hub import Hub
from rooms.fanout import encode_event, encode_presence, room_channel
from rooms.models import RoomKind, Visibility
from rooms.store import Stores


@pytest.fixture
async def world(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    await stores.db.migrate()
    broker = MemoryBroker()
    await broker.connect()
    hub = Hub(stores, broker, repair_interval_s=3600)
    await hub.start()
    member = await stores.accounts.create_member("ann", "x", "Ann")
    room = await stores.rooms.create(name="r", kind=RoomKind.ROOM, visibility=Visibility.PUBLIC,
                                     topic="", owner_id=member.id)
    yield stores, broker, hub, member, room
    await hub.stop()
    await stores.db.dispose()


def seqs(conn: Connection) -> list[int]:
    frames = []
    while not conn.outbox.empty():
        frames.append(orjson.loads(conn.outbox.get_nowait()))
    return [f["seq"] for f in frames if "seq" in f]


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.01)


async def test_events_the_broker_lost_are_repaired_from_the_store(world):
    stores, broker, hub, member, room = world
    conn = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    await hub.subscribe(conn, room, None)
    events = [(await stores.messages.append(room.id, member.id, f"c{i}", f"m{i}"))[0] for i in range(5)]
    # Only the last one is published: 1-4 were "lost"; the jump makes the feed fill the gap.
    await broker.publish(room_channel(room.id), encode_event(events[-1]))
    await settle()
    assert seqs(conn) == [1, 2, 3, 4, 5]
    # Duplicates and late copies are dropped.
    await broker.publish(room_channel(room.id), encode_event(events[2]))
    await broker.publish(room_channel(room.id), encode_event(events[-1]))
    await settle()
    assert seqs(conn) == []


async def test_a_check_delivers_what_was_never_published(world):
    stores, broker, hub, member, room = world
    conn = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    await hub.subscribe(conn, room, None)
    for i in range(3):
        await stores.messages.append(room.id, member.id, f"c{i}", f"m{i}")
    await hub.check_all()
    await settle()
    assert seqs(conn) == [1, 2, 3]


async def test_resume_replays_then_continues_live_without_duplicates(world):
    stores, broker, hub, member, room = world
    for i in range(10):
        await stores.messages.append(room.id, member.id, f"old{i}", "old")
    conn = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    assert await hub.subscribe(conn, room, since=4) == 10
    event, _ = await stores.messages.append(room.id, member.id, "new", "new")
    await broker.publish(room_channel(room.id), encode_event(event))
    await settle()
    assert seqs(conn) == [5, 6, 7, 8, 9, 10, 11]


async def test_overflowing_connection_is_reported_not_buffered(world):
    stores, broker, hub, member, room = world
    overflowed: list[Connection] = []
    conn = Connection(member=member, queue_size=3, on_overflow=overflowed.append)
    await hub.subscribe(conn, room, None)
    for i in range(6):
        event, _ = await stores.messages.append(room.id, member.id, f"c{i}", "x")
        await broker.publish(room_channel(room.id), encode_event(event))
    await settle()
    assert overflowed == [conn] and conn.outbox.qsize() == 3


async def test_resume_within_the_memory_window_needs_no_store_and_hides_deleted_text(world):
    stores, broker, hub, member, room = world
    watcher = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    await hub.subscribe(watcher, room, None)
    secret, _ = await stores.messages.append(room.id, member.id, "s", "my phone number is ...")
    await broker.publish(room_channel(room.id), encode_event(secret))
    removal, _ = await stores.messages.delete(room.id, secret.seq, member.id)
    await broker.publish(room_channel(room.id), encode_event(removal))
    await settle()
    assert [seq for seq, _ in hub.feeds[room.id].recent] == [1, 2]

    late = Connection(member=member, queue_size=100, on_overflow=lambda c: None)
    assert await hub.subscribe(late, room, since=0) == 2
    replayed = [orjson.loads(late.outbox.get_nowait()) for _ in range(2)]
    assert [f["seq"] for f in replayed] == [1, 2]
    assert replayed[0]["body"] == "" and replayed[0]["deleted"] is True


async def test_presence_is_not_fanned_out_in_large_rooms(world):
    stores, broker, hub, member, room = world
    hub.presence_fanout_max = 2
    conns = [Connection(member=member, queue_size=100, on_overflow=lambda c: None) for _ in range(3)]
    await hub.subscribe(conns[0], room, None)
    frame = {"type": "presence", "room": room.id, "member": {"id": 9}, "status": "online"}
    await broker.publish(room_channel(room.id), encode_presence(frame, 9))
    await settle()
    assert conns[0].outbox.qsize() == 1
    conns[0].outbox.get_nowait()
    for conn in conns[1:]:
        await hub.subscribe(conn, room, None)
    await broker.publish(room_channel(room.id), encode_presence(frame, 9))
    await settle()
    assert [conn.outbox.qsize() for conn in conns] == [0, 0, 0]
