"""The notifier takes many rooms in one pass (rooms/notifications/notifier.py, catch_up_rooms).

Most new events concern nobody; a busy server must not pay two write transactions per room for them.
The pass still notifies exactly who it must, once, and leaves every cursor at its room's head.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from realtime.broker.memory import MemoryBroker
from rooms.management import RoomService
from rooms.models import Visibility
from rooms.notifications.service import NotificationServices
from rooms.service import ChatService


async def _nobody_is_looking(member_ids: list[int]) -> set[int]:
    return set()


async def _chat_with_notifications(stores, tmp_path) -> tuple[RoomService, ChatService, NotificationServices]:
    broker = MemoryBroker()
    await broker.connect()
    rooms = RoomService(stores)
    chat = ChatService(stores, rooms, broker, max_body_chars=1000)
    notifications = NotificationServices.build(stores, rooms, broker, secret_key="s" * 32, data_dir=tmp_path,
                                               active=_nobody_is_looking)
    return rooms, chat, notifications


async def test_one_pass_moves_quiet_rooms_together_and_notifies_the_mentioned_once(domain_stores, tmp_path):
    stores = domain_stores
    rooms, chat, notifications = await _chat_with_notifications(stores, tmp_path)
    notifier = notifications.notifier
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bea = await stores.accounts.create_member("bea", "x", "Bea")
    made = []
    for n in range(30):
        room = await rooms.create(ann, f"room {n}", Visibility.PUBLIC)
        await rooms.join(bea, room.id)
        made.append(room)
    room_ids = [room.id for room in made]
    await notifier.catch_up_rooms(room_ids)   # the joins: nobody to notify

    for n, room in enumerate(made):
        plain, _ = await chat.send(ann, room.id, f"plain-{n}", "a message that concerns nobody in particular")
        # An edit is a quiet event the notifier itself must move past (only new messages move it in their commit).
        await chat.edit(ann, room.id, plain.seq, "a message that concerns nobody at all")
        if n < 5:
            await chat.send(ann, room.id, f"mention-{n}", "@bea have a look at this")

    writes = 0
    real_write = stores.db.write

    @asynccontextmanager
    async def counted_write():
        nonlocal writes
        writes += 1
        async with real_write() as conn:
            yield conn

    stores.db.write = counted_write
    await notifier.catch_up_rooms(room_ids)
    # Five rooms with a mention: one transaction each; the other 25 rooms' cursors in one more.
    assert writes == 6
    unread, _ = await notifications.nstores.inbox.counts(bea.id)
    assert unread == 5
    positions = await notifications.nstores.cursors.positions(room_ids)
    assert all(p.seen == p.room.last_seq for p in positions.values())

    writes = 0
    await notifier.catch_up_rooms(room_ids)   # nothing new: no write at all, nothing twice
    assert writes == 0
    assert (await notifications.nstores.inbox.counts(bea.id))[0] == 5
    stores.db.write = real_write
    chat.composer.formatter.close()


async def test_the_attention_summary_reads_events_as_needs_people_does(domain_stores, tmp_path):
    """The pass skips reading a room's events when MessageStore.attention says none may concern
    anyone: the aggregate must flag exactly what needs_people flags from the whole events."""
    from rooms.notifications.recipients import needs_people

    stores = domain_stores
    broker = MemoryBroker()
    await broker.connect()
    rooms = RoomService(stores)
    chat = ChatService(stores, rooms, broker, max_body_chars=1000)
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bea = await stores.accounts.create_member("bea", "x", "Bea")

    async def room_with(name: str) -> tuple[int, int]:
        room = await rooms.create(ann, name, Visibility.PUBLIC)
        await rooms.join(bea, room.id)
        head = (await stores.rooms.get(room.id)).last_seq
        return room.id, head

    cases: dict[str, tuple[int, int]] = {}
    cases["plain"] = await room_with("plain")
    await chat.send(ann, cases["plain"][0], "p1", "nothing for anyone here")
    await chat.send(bea, cases["plain"][0], "p2", "an e-mail address: bea@example.org is not a mention")
    cases["mention"] = await room_with("mention")
    await chat.send(ann, cases["mention"][0], "m1", "a plain one first")
    await chat.send(ann, cases["mention"][0], "m2", "@bea look")
    cases["room"] = await room_with("room")
    await chat.send(ann, cases["room"][0], "r1", "@room meeting at noon")
    cases["reply"] = await room_with("reply")
    parent, _ = await chat.send(bea, cases["reply"][0], "q1", "a question")
    await chat.send(ann, cases["reply"][0], "q2", "an answer", reply_to=parent.seq)
    cases["edited"] = await room_with("edited")
    first, _ = await chat.send(ann, cases["edited"][0], "e1", "typo")
    await chat.edit(ann, cases["edited"][0], first.seq, "typo fixed")
    await chat.delete(ann, cases["edited"][0], first.seq)

    attention = await stores.messages.attention({room_id: head for room_id, head in cases.values()})
    for name, (room_id, head) in cases.items():
        room = await stores.rooms.get(room_id)
        events = await stores.messages.after(room_id, head, 100)
        last, concerns = attention[room_id]
        assert last == events[-1].seq == room.last_seq, name
        assert concerns is needs_people(room, events, False), name
    assert {name for name, (room_id, _) in cases.items() if attention[room_id][1]} == {"mention", "room", "reply"}
    assert await stores.messages.attention({cases["plain"][0]: attention[cases["plain"][0]][0]}) == {}
    chat.composer.formatter.close()


async def test_plain_messages_move_the_cursor_in_their_own_commit_and_the_rest_wait_for_the_notifier(
        domain_stores, tmp_path):
    """rooms/notifications/quiet.py: a batch of sends moves the notifier's cursor past the messages that
    concern nobody, and the notifier is not woken for them; a mention, a reply, a DM, a room where a
    member chose a level, or a cursor that is behind are the notifier's, who notifies as before."""
    import asyncio

    from rooms.notifications.models import RoomLevel

    stores = domain_stores
    rooms, chat, notifications = await _chat_with_notifications(stores, tmp_path)
    notifier, cursors = notifications.notifier, notifications.nstores.cursors
    chat.on_event.append(notifier.committed)   # as realtime/services.py wires it
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bea = await stores.accounts.create_member("bea", "x", "Bea")
    plain = await rooms.create(ann, "plain", Visibility.PUBLIC)
    leveled = await rooms.create(ann, "leveled", Visibility.PUBLIC)
    for room in (plain, leveled):
        await rooms.join(bea, room.id)
    dm = await rooms.open_dm(ann, [bea.id])
    await notifications.nstores.preferences.set_level(leveled.id, bea.id, RoomLevel.ALL)
    await notifier.catch_up_rooms([plain.id, leveled.id, dm.id])

    async def unread() -> int:
        return (await notifications.nstores.inbox.counts(bea.id))[0]

    async def notifier_pass() -> None:
        await notifier.catch_up_rooms(sorted(notifier.pending))
        notifier._poked.clear()

    # Plain messages: the cursor is at the head as soon as they are acknowledged; nothing to wake for.
    for n in range(3):
        await chat.send(ann, plain.id, f"p{n}", "nothing for anyone")
    head = (await stores.rooms.get(plain.id)).last_seq
    assert await cursors.position(plain.id) == (head, head)
    assert notifier.pending == frozenset()

    # Sends committed together: the cursor stops before the one that concerns someone, whatever order
    # they were stored in (a batch's run stops there: unit/test_group_commit.py tests the runs).
    first, mention, after = await asyncio.gather(
        chat.send(ann, plain.id, "b1", "plain first"), chat.send(ann, plain.id, "b2", "@bea in the middle"),
        chat.send(ann, plain.id, "b3", "plain after"))
    assert sorted((first[0].seq, mention[0].seq, after[0].seq)) == [head + 1, head + 2, head + 3]
    assert await cursors.position(plain.id) == (mention[0].seq - 1, head + 3)
    assert notifier.pending == {plain.id}
    # A plain message while the cursor is behind is left where it is: the notifier takes the range.
    behind, _ = await chat.send(bea, plain.id, "b4", "still plain")
    assert await cursors.position(plain.id) == (mention[0].seq - 1, behind.seq)
    await notifier_pass()
    assert await cursors.position(plain.id) == (behind.seq, behind.seq)
    assert await unread() == 1

    # A reply concerns the author of what it answers.
    reply, _ = await chat.send(bea, plain.id, "r1", "an answer", reply_to=first[0].seq)
    assert await cursors.position(plain.id) == (behind.seq, reply.seq)
    assert notifier.pending == {plain.id}
    await notifier_pass()
    assert (await notifications.nstores.inbox.counts(ann.id))[0] == 1

    # A DM and a room where bea chose every message: each plain message is the notifier's, and notifies.
    for room in (dm, leveled):
        sent, _ = await chat.send(ann, room.id, f"to-{room.id}", "hello there")
        assert await cursors.position(room.id) == (sent.seq - 1, sent.seq)
        assert room.id in notifier.pending
    await notifier_pass()
    assert await unread() == 3
    for room in (plain, leveled, dm):
        seen, head = await cursors.position(room.id)
        assert seen == head
    chat.composer.formatter.close()


async def test_a_failed_pass_keeps_its_rooms_for_the_retry_a_second_later(domain_stores, tmp_path):
    """A pass that fails (the store blips mid-pass) must not drop the rooms it had taken: the mention
    still notifies on the retry a second later, not only at the next sweep (an hour away here)."""
    import asyncio
    import dataclasses

    stores = domain_stores
    rooms, chat, notifications = await _chat_with_notifications(stores, tmp_path)
    notifier, cursors = notifications.notifier, notifications.nstores.cursors
    notifier.settings = dataclasses.replace(notifier.settings, sweep_s=3600.0, gather_s=0.0)
    chat.on_event.append(notifier.committed)
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    bea = await stores.accounts.create_member("bea", "x", "Bea")
    room = await rooms.create(ann, "field notes", Visibility.PUBLIC)
    await rooms.join(bea, room.id)
    await notifier.catch_up_rooms([room.id])

    real_positions, failures = cursors.positions, []

    async def positions_failing_once(room_ids):
        if not failures:
            failures.append(room_ids)
            raise RuntimeError("the store blipped")
        return await real_positions(room_ids)

    runner = asyncio.create_task(notifier.run())
    await asyncio.sleep(0.2)                     # its first sweep, with nothing behind
    cursors.positions = positions_failing_once
    await chat.send(ann, room.id, "m1", "@bea the new rota is up")
    for _ in range(50):
        if (await notifications.nstores.inbox.counts(bea.id))[0]:
            break
        await asyncio.sleep(0.1)
    assert failures == [[room.id]]
    assert (await notifications.nstores.inbox.counts(bea.id))[0] == 1
    runner.cancel()
    await asyncio.gather(runner, return_exceptions=True)
    chat.composer.formatter.close()
