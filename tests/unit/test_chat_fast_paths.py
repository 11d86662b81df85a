"""The chat core's fast paths keep its guarantees: one-transaction send, paced fan-out, the socket's outbox."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from realtime.broker.memory import MemoryBroker
from realtime.connection import Connection, Outbox
from realtime.hub import Hub
from rooms.errors import Forbidden, NotFound
from rooms.fanout import encode_event, room_channel
from rooms.management import RoomService
from rooms.models import Room, RoomKind, Visibility
from rooms.store import Stores


async def test_one_transaction_send_is_idempotent_refuses_precisely_and_leaves_no_hole(chat):
    stores, rooms, service = chat
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bob = await stores.accounts.create_member("bob", "x", "Bob")
    public = await rooms.create(ann, "open", Visibility.PUBLIC)
    private = await rooms.create(ann, "closed", Visibility.PRIVATE)

    first, created = await service.send(ann, public.id, "c1", "hello")
    again, created_again = await service.send(ann, public.id, "c1", "hello")
    assert (first.seq, created, first.sender_name) == (1, True, "Ann")
    assert (again.seq, created_again, again.body) == (1, False, "hello")

    with pytest.raises(Forbidden):
        await service.send(bob, public.id, "b1", "not a member yet")
    with pytest.raises(NotFound):
        await service.send(bob, private.id, "b1", "cannot see this room")
    with pytest.raises(NotFound):
        await service.send(ann, 999, "x", "no such room")

    async def closed(room: Room) -> None:
        raise Forbidden("closed for the test")

    rooms.guard_writes(RoomKind.ROOM, closed)
    with pytest.raises(Forbidden):
        await service.send(ann, public.id, "c2", "refused by a guard")
    rooms.write_guards[RoomKind.ROOM].remove(closed)

    await rooms.join(bob, public.id)
    second, _ = await service.send(bob, public.id, "b1", "now a member")
    assert second.seq == 2   # refusals rolled their increment back
    stored = (await stores.messages.page(public.id, None, 10)).events
    assert [(e.seq, e.client_id, e.sender_name) for e in stored] == [(2, "b1", "Bob"), (1, "c1", "Ann")]


def drain(conn: Connection) -> list[int]:
    seqs = []
    while not conn.outbox.empty():
        seqs.append(orjson.loads(conn.outbox.get_nowait())["seq"])
    return seqs


async def test_a_paced_fan_out_delivers_once_in_order_to_sockets_that_come_and_go(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    await stores.db.migrate()
    broker = MemoryBroker()
    await broker.connect()
    hub = Hub(stores, broker, repair_interval_s=3600, fanout_slice=3)
    await hub.start()
    try:
        member = await stores.accounts.create_member("ann", "x", "Ann")
        room = await RoomService(stores).create(member, "big", Visibility.PUBLIC)
        conns = [Connection(member=member, queue_size=100, on_overflow=lambda c: None) for _ in range(10)]
        for conn in conns:
            await hub.subscribe(conn, room, None)
        late = [Connection(member=member, queue_size=100, on_overflow=lambda c: None) for _ in range(3)]
        for i in range(8):
            event, _ = await stores.messages.append(room.id, member.id, f"c{i}", f"m{i}")
            await broker.publish(room_channel(room.id), encode_event(event))
            await asyncio.sleep(0)
            if i == 2:
                # Mid fan-out: one socket resubscribes saying it has seq 1, new ones arrive from the start.
                drain(conns[7])
                await hub.subscribe(conns[7], room, since=1)
                for conn in late:
                    await hub.subscribe(conn, room, since=0)
        for _ in range(20):
            await asyncio.sleep(0.01)
        for conn in conns + late:
            assert drain(conn) == list(range(2 if conn is conns[7] else 1, 9))
    finally:
        await hub.stop()
        await stores.db.dispose()


async def test_the_outbox_is_bounded_and_paces_waiting_writers():
    outbox = Outbox(2)
    outbox.put_nowait("a")
    outbox.put_nowait("b")
    with pytest.raises(asyncio.QueueFull):
        outbox.put_nowait("c")
    waiting = asyncio.create_task(outbox.put("c"))
    await asyncio.sleep(0)
    assert not waiting.done()
    assert outbox.get_nowait() == "a"
    await asyncio.wait_for(waiting, 1)
    assert outbox.get_nowait() == "b"
    getter = asyncio.create_task(outbox.get())
    assert await getter == "c" and outbox.empty()
    later = asyncio.create_task(outbox.get())
    await asyncio.sleep(0)
    outbox.put_nowait("d")
    assert await asyncio.wait_for(later, 1) == "d"
