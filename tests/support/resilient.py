"""Clients that behave like a good real client under faults, and the checker of the delivery invariants.

A ResilientReceiver reconnects with back-off (to any of several servers) and
resumes every room from the last sequence number it saw. A ResilientSender
keeps each message until it is acknowledged, resending it with the same
client_id after errors and reconnects. The DeliveryChecker records every
acknowledgement and every delivery and asserts, for every receiver and room:
every acknowledged message arrived, none twice, all in sequence order.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field

import orjson
import websockets

from tests.support.client import Api


@dataclass
class DeliveryChecker:
    acked: dict[int, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))      # room -> seq -> client_id
    delivered: dict[tuple[str, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    starts: dict[tuple[str, int], int] = field(default_factory=dict)   # first live seq per receiver/room
    errors: list[dict] = field(default_factory=list)

    def ack(self, room: int, seq: int, client_id: str) -> None:
        previous = self.acked[room].get(seq)
        assert previous in (None, client_id), f"seq {seq} acknowledged for two messages"
        self.acked[room][seq] = client_id

    def deliver(self, receiver: str, room: int, seq: int) -> None:
        self.delivered[(receiver, room)].append(seq)

    def max_acked(self, room: int) -> int:
        return max(self.acked[room], default=0)

    def caught_up(self, receiver: str, room: int) -> bool:
        seqs = self.delivered[(receiver, room)]
        return bool(seqs) and seqs[-1] >= self.max_acked(room) or not self.acked[room]

    def assert_invariants(self) -> None:
        assert self.acked, "nothing was acknowledged: the test proved nothing"
        for (receiver, room), seqs in self.delivered.items():
            start = self.starts.get((receiver, room), 0)
            duplicates = len(seqs) - len(set(seqs))
            assert duplicates == 0, f"{receiver} got {duplicates} duplicates in room {room}"
            assert seqs == sorted(seqs), f"{receiver} got room {room} out of order"
            missing = sorted(set(s for s in self.acked[room] if s > start) - set(seqs))
            assert not missing, f"{receiver} never got acknowledged seqs {missing[:20]} in room {room}"
            # Gap-free as well: every seq between the first and last delivered arrived.
            if seqs:
                assert seqs == list(range(seqs[0], seqs[-1] + 1)), f"{receiver} saw a gap in room {room}"


def _backoff(attempt: int) -> float:
    return min(2.0, 0.05 * 2 ** attempt) * random.uniform(0.5, 1.5)


class _Reconnecting:
    """Shared reconnect loop: connect to one of the URLs, run a session, back off, repeat."""

    def __init__(self, name: str, ws_urls: list[str], token: str) -> None:
        self.name = name
        self.ws_urls = ws_urls
        self.token = token
        self.close_codes: list[int | None] = []
        self.connects = 0
        self._stop = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        self._stop.set()
        if self.task:
            await asyncio.wait_for(asyncio.gather(self.task, return_exceptions=True), 20)

    async def _loop(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            url = self.ws_urls[(self.connects + attempt) % len(self.ws_urls)]
            try:
                async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {self.token}"},
                                              open_timeout=10, max_size=2**22) as ws:
                    self.connects += 1
                    attempt = 0
                    await self._session(ws)
                    self.close_codes.append(ws.protocol.close_rcvd.code if ws.protocol.close_rcvd else None)
            except (OSError, websockets.WebSocketException, asyncio.TimeoutError) as error:
                code = getattr(getattr(error, "rcvd", None), "code", None)
                self.close_codes.append(code)
            if self._stop.is_set():
                return
            attempt += 1
            await asyncio.sleep(_backoff(attempt))

    async def _session(self, ws: websockets.ClientConnection) -> None:
        raise NotImplementedError

    async def _frames(self, ws: websockets.ClientConnection):
        stop = asyncio.ensure_future(self._stop.wait())
        try:
            while True:
                recv = asyncio.ensure_future(ws.recv())
                done, _ = await asyncio.wait({recv, stop}, return_when=asyncio.FIRST_COMPLETED)
                if stop in done:
                    recv.cancel()
                    return
                yield orjson.loads(recv.result())
        finally:
            stop.cancel()


class ResilientReceiver(_Reconnecting):
    def __init__(self, name: str, ws_urls: list[str], token: str, rooms: list[int],
                 checker: DeliveryChecker) -> None:
        super().__init__(name, ws_urls, token)
        self.rooms = rooms
        self.checker = checker
        self.last_seq: dict[int, int | None] = {room: None for room in rooms}
        self.subscribed_once = asyncio.Event()
        self._pending = set(rooms)

    async def _session(self, ws: websockets.ClientConnection) -> None:
        for room in self.rooms:
            frame = {"type": "subscribe", "room": room}
            if self.last_seq[room] is not None:
                frame["since"] = self.last_seq[room]
            await ws.send(orjson.dumps(frame).decode())
        async for frame in self._frames(ws):
            kind, room = frame["type"], frame.get("room")
            if kind.startswith("message") and "seq" in frame:
                self.checker.deliver(self.name, room, frame["seq"])
                self.last_seq[room] = frame["seq"]
            elif kind == "subscribed":
                if self.last_seq[room] is None:
                    self.last_seq[room] = frame["last_seq"]
                    self.checker.starts[(self.name, room)] = frame["last_seq"]
                self._pending.discard(room)
                if not self._pending:
                    self.subscribed_once.set()
            elif kind == "error":
                self.checker.errors.append({"receiver": self.name, **frame})


class ResilientSender(_Reconnecting):
    """Sends `count` messages to a room, one at a time, each resent until acknowledged."""

    _ids = itertools.count()

    def __init__(self, name: str, ws_urls: list[str], token: str, room: int, count: int,
                 checker: DeliveryChecker, interval_s: float = 0.01) -> None:
        super().__init__(name, ws_urls, token)
        self.room = room
        self.checker = checker
        self.interval_s = interval_s
        self.outbox = [f"{name}-{next(self._ids)}-{i}" for i in range(count)]
        self.refusals: list[str] = []
        self.done = asyncio.Event()

    async def _session(self, ws: websockets.ClientConnection) -> None:
        frames = self._frames(ws)
        while self.outbox:
            client_id = self.outbox[0]
            await ws.send(orjson.dumps({"type": "send", "room": self.room, "client_id": client_id,
                                        "body": f"message {client_id}", "ref": client_id}).decode())
            async for frame in frames:
                if frame.get("ref") != client_id:
                    continue
                if frame["type"] == "ack":
                    self.checker.ack(self.room, frame["seq"], client_id)
                    self.outbox.pop(0)
                else:
                    self.refusals.append(frame["code"])
                    await asyncio.sleep(min(frame.get("retry_after") or 0.2, 1.0))
                break
            else:
                return   # the stream ended: reconnect and resend the same client_id
            await asyncio.sleep(self.interval_s)
        self.done.set()
        self._stop.set()


async def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.05)



@dataclass
class RoomTraffic:
    """One room carried by two processes: a receiver per member on alternating processes and a
    sender on each process, checked delivery by delivery."""

    room: int
    people: list[Api]
    checker: DeliveryChecker
    receivers: list[ResilientReceiver]
    senders: list[ResilientSender]
    expected: int

    @classmethod
    async def start(cls, one, two, name: str, per_sender: int = 150) -> "RoomTraffic":
        owner = await Api.register(one.url)
        room = await owner.create_room(name)
        processes = (one, two, one, two)
        people = [await Api.register(p.url) for p in processes]
        for person in people:
            await person.join(room)
        checker = DeliveryChecker()
        receivers = [ResilientReceiver(f"r{i}", [p.ws_url], person.token, [room], checker)
                     for i, (person, p) in enumerate(zip(people, processes))]
        for receiver in receivers:
            receiver.start()
        await asyncio.gather(*(r.subscribed_once.wait() for r in receivers))
        senders = [ResilientSender(f"s{i}", [p.ws_url], people[i].token, room, per_sender, checker, interval_s=0.01)
                   for i, p in enumerate((one, two))]
        for sender in senders:
            sender.start()
        return cls(room, people, checker, receivers, senders, expected=per_sender * len(senders))

    def acked(self) -> int:
        return len(self.checker.acked[self.room])

    async def finish(self, timeout: float = 60) -> None:
        """Waits until every message is acknowledged and delivered, then checks it all: each
        acknowledged message reached every receiver once and in order, and no error frame came."""
        await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in self.senders)), timeout)
        await wait_until(lambda: all(self.checker.caught_up(r.name, self.room) for r in self.receivers), 30,
                         "receivers to catch up")
        for worker in (*self.senders, *self.receivers):
            await worker.stop()
        assert self.acked() == self.expected
        self.checker.assert_invariants()
        assert not self.checker.errors
