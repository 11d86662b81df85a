"""Group commit (rooms/store/group_commit.py) keeps every promise of a lone send, on both backends.

Sends that arrive together are stored in one transaction; each is answered after the commit that holds
it, a room's sequence stays gap-free and in the order its sends were queued, a client id is still one
message, and whatever a batch does not take (a refusal, a resend, slow mode, a guarded room, a failed
batch) is decided by the full send path, without disturbing the sends around it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from rooms import metrics
from rooms.errors import Forbidden, StoreUnavailable
from rooms.models import Draft, Room, RoomKind, Visibility
from rooms.store import Stores
from rooms.store.group_commit import GroupCommit
from rooms.notifications.quiet import quiet_messages
from rooms.notifications.store.schema import notifier_cursors
from rooms.store.schema import room_restrictions, rooms, utcnow


class _Recording:
    """The real writer, noting the size of every batch it commits."""

    def __init__(self, writer) -> None:
        self.writer = writer
        self.sizes: list[int] = []

    async def write(self, batch):
        self.sizes.append(len(batch))
        return await self.writer.write(batch)


async def _no_guard(room: Room) -> None:
    return None


async def _world(stores: Stores, rooms_count: int, members_count: int):
    members = [await stores.accounts.create_member(f"m{i}", "x", f"Member {i}") for i in range(members_count)]
    made = []
    for r in range(rooms_count):
        made.append(await stores.rooms.create(name=f"room {r}", kind=RoomKind.ROOM, visibility=Visibility.PUBLIC,
                                              topic="", owner_id=members[0].id,
                                              other_member_ids=tuple(m.id for m in members[1:])))
    return members, made


def _send(stores: Stores, room_id: int, member_id: int, client_id: str, body: str, check=_no_guard,
          kinds: tuple[str, ...] = ()):
    return stores.messages.send(room_id, member_id, client_id, Draft(body=body), check=check, checked_kinds=kinds)


async def test_sends_that_arrive_together_share_a_commit_and_keep_each_rooms_order(domain_stores):
    stores = domain_stores
    members, made = await _world(stores, rooms_count=3, members_count=4)
    recording = stores.messages.group_commit.writer = _Recording(stores.messages.group_commit.writer)
    acked: dict[int, list[tuple[int, str]]] = defaultdict(list)

    async def member_writes(member_id: int, room_id: int) -> None:
        for n in range(20):
            client_id = f"{member_id}-{n}"
            event, created = await _send(stores, room_id, member_id, client_id, f"message {n} from {member_id}")
            assert created and event.room_id == room_id and event.client_id == client_id
            # Answered after the commit: another connection already reads it.
            stored = await stores.messages.by_client_id(room_id, member_id, client_id)
            assert stored is not None and (stored.seq, stored.body, stored.sender_name) == (
                event.seq, event.body, event.sender_name)
            acked[room_id].append((event.seq, client_id))

    await asyncio.gather(*(member_writes(m.id, r.id) for m in members for r in made))

    assert max(recording.sizes) > 1, "sends that arrived together were committed one by one"
    assert sum(recording.sizes) == len(members) * len(made) * 20
    for room in made:
        events = await stores.messages.after(room.id, 0, 1000)
        assert [e.seq for e in events] == list(range(1, len(members) * 20 + 1)), "a gap or a duplicate"
        assert sorted(acked[room.id]) == [(e.seq, e.client_id) for e in events]
        for member in members:   # each member's messages in the order they were sent
            mine = [int(e.client_id.split("-")[1]) for e in events if e.sender_id == member.id]
            assert mine == list(range(20))


async def test_a_client_id_sent_twice_in_one_batch_and_again_later_is_one_message(domain_stores):
    stores = domain_stores
    members, (room, *_) = await _world(stores, rooms_count=1, members_count=2)
    answers = await asyncio.gather(*(_send(stores, room.id, members[1].id, "same", "once only") for _ in range(3)),
                                   _send(stores, room.id, members[0].id, "other", "beside it"))
    later = await _send(stores, room.id, members[1].id, "same", "once only")
    same = [answers[0], answers[1], answers[2], later]
    assert len({event.seq for event, _ in same}) == 1
    assert [created for _, created in same].count(True) == 1
    events = await stores.messages.after(room.id, 0, 100)
    assert sorted(e.client_id for e in events) == ["other", "same"]
    assert [e.seq for e in events] == [1, 2]


async def test_what_a_batch_does_not_take_is_decided_alone_without_disturbing_the_others(domain_stores):
    stores = domain_stores
    members, (plain, slow, guarded) = await _world(stores, rooms_count=3, members_count=3)
    outsider = await stores.accounts.create_member("outsider", "x", "Outsider")
    muted = members[2]
    async with stores.db.write() as conn:
        await conn.execute(update(rooms).where(rooms.c.id == slow.id).values(slow_mode_s=60))
        await conn.execute(update(rooms).where(rooms.c.id == guarded.id).values(kind=RoomKind.EMERGENCY.value))
        await conn.execute(insert(room_restrictions).values(
            room_id=plain.id, member_id=muted.id, kind="mute", until=utcnow() + timedelta(hours=1), reason="",
            created_by=members[0].id, created_at=utcnow()))

    async def closed(room: Room) -> None:
        if room.kind is RoomKind.EMERGENCY:
            raise Forbidden("this emergency is closed")

    guarded_kinds = (RoomKind.EMERGENCY.value,)
    before = metrics.send_batch_failures._value.get()
    outcomes = await asyncio.gather(
        _send(stores, plain.id, members[0].id, "a1", "first", closed, guarded_kinds),
        _send(stores, plain.id, outsider.id, "x1", "not a member", closed, guarded_kinds),
        _send(stores, plain.id, muted.id, "m1", "muted", closed, guarded_kinds),
        _send(stores, slow.id, members[1].id, "s1", "slow one", closed, guarded_kinds),
        _send(stores, slow.id, members[1].id, "s2", "slow two, too soon", closed, guarded_kinds),
        _send(stores, guarded.id, members[0].id, "g1", "into a closed emergency", closed, guarded_kinds),
        _send(stores, plain.id, members[1].id, "b1", "second", closed, guarded_kinds),
        return_exceptions=True)
    first, outsider_sent, muted_sent, slow_one, slow_two, into_closed, second = outcomes
    assert outsider_sent is None and muted_sent is None   # the caller (ChatService) names the refusal
    assert isinstance(into_closed, Forbidden)
    # Two concurrent lone sends from one member into a slow room: either may take the row lock first;
    # exactly one is stored and the other is refused for slow mode.
    slow_outcomes = sorted([slow_one, slow_two], key=lambda outcome: isinstance(outcome, Exception))
    assert slow_outcomes[0][1] is True and type(slow_outcomes[1]).__name__ == "SlowMode"
    assert (first[0].seq, second[0].seq) == (1, 2)
    assert [e.client_id for e in await stores.messages.after(plain.id, 0, 10)] == ["a1", "b1"]
    assert [e.client_id for e in await stores.messages.after(slow.id, 0, 10)] == [slow_outcomes[0][0].client_id]
    assert await stores.messages.after(guarded.id, 0, 10) == []
    assert metrics.send_batch_failures._value.get() == before   # none of this made a batch fail


async def test_a_batch_that_cannot_commit_is_stored_one_by_one(domain_stores, monkeypatch):
    stores = domain_stores
    members, (room, *_) = await _world(stores, rooms_count=1, members_count=3)
    group: GroupCommit = stores.messages.group_commit
    real = group.writer.write
    failed = []

    async def fail_once(batch):
        if not failed:
            failed.append(len(batch))
            raise RuntimeError("a constraint nobody expected")
        return await real(batch)

    monkeypatch.setattr(group.writer, "write", fail_once)
    before = metrics.send_batch_failures._value.get()
    answers = await asyncio.gather(*(_send(stores, room.id, m.id, f"c{m.id}", f"from {m.id}") for m in members))
    assert failed and metrics.send_batch_failures._value.get() == before + 1
    assert sorted(event.seq for event, created in answers if created) == [1, 2, 3]
    assert len(await stores.messages.after(room.id, 0, 10)) == 3


async def test_an_outage_answers_every_send_of_the_batch_with_store_unavailable(domain_stores, monkeypatch):
    stores = domain_stores
    members, (room, *_) = await _world(stores, rooms_count=1, members_count=2)
    group: GroupCommit = stores.messages.group_commit

    async def away(batch):
        raise StoreUnavailable("the message store is unreachable; nothing was stored", retry_after=1.0)

    monkeypatch.setattr(group.writer, "write", away)
    answers = await asyncio.gather(*(_send(stores, room.id, m.id, "c", "hello") for m in members),
                                   return_exceptions=True)
    assert all(isinstance(answer, StoreUnavailable) for answer in answers)
    monkeypatch.undo()
    assert await stores.messages.after(room.id, 0, 10) == []


class _CountingConnection:
    """The driver connection a writer gets, naming each call it makes (each is a round trip)."""

    def __init__(self, conn, calls: list[str]) -> None:
        self._conn, self._calls = conn, calls

    def __getattr__(self, name: str):
        if name in ("fetchrow", "execute", "executemany", "transaction"):
            self._calls.append(name)
        return getattr(self._conn, name)


async def test_a_lone_send_keeps_every_promise_and_is_one_statement_on_postgres(domain_stores, monkeypatch):
    stores = domain_stores
    members, (room,) = await _world(stores, rooms_count=1, members_count=3)
    outsider = await stores.accounts.create_member("outsider", "x", "Outsider")
    async with stores.db.write() as conn:
        await conn.execute(insert(notifier_cursors).values(room_id=room.id, notified_seq=0))
    took: list[tuple[int, int, int]] = []
    stores.messages.group_commit.also(quiet_messages(lambda *run: took.append(run)))
    calls: list[str] = []
    raw_write = stores.db.raw_write

    @contextlib.asynccontextmanager
    async def counting():
        async with raw_write() as conn:
            yield _CountingConnection(conn, calls) if stores.db.dialect == "postgresql" else conn

    monkeypatch.setattr(stores.db, "raw_write", counting)
    postgres = stores.db.dialect == "postgresql"

    first, created = await _send(stores, room.id, members[0].id, "a1", "hello")
    assert (first.seq, created) == (1, True) and first.sender_name == "Member 0"
    assert took == [(room.id, 0, 1)]                       # the notifier's cursor moved with it
    assert calls == (["fetchrow"] if postgres else [])     # bump, insert and cursor: one statement

    again, created = await _send(stores, room.id, members[0].id, "a1", "hello")
    assert (again.seq, created) == (1, False)
    assert await _send(stores, room.id, outsider.id, "x1", "not a member") is None

    calls.clear()
    mentioned, _ = await stores.messages.send(room.id, members[0].id, "m1", Draft(body="@m1 hi", mentions=(members[1].id,)),
                                              check=_no_guard, checked_kinds=())
    assert mentioned.seq == 2 and mentioned.mentions == (members[1].id,)
    if postgres:
        assert "transaction" in calls                       # mentions: the batch's own transaction

    later, _ = await _send(stores, room.id, members[1].id, "b1", "after the mention")
    assert later.seq == 3
    assert took == [(room.id, 0, 1)]    # the cursor is behind the mention: that run is the notifier's
    async with stores.db.read() as conn:
        cursor = (await conn.execute(select(notifier_cursors.c.notified_seq)
                                     .where(notifier_cursors.c.room_id == room.id))).scalar_one()
    assert cursor == 1
    assert [e.client_id for e in await stores.messages.after(room.id, 0, 10)] == ["a1", "m1", "b1"]
