"""Server processes killed, stopped gracefully, or overwhelmed by a client that stops reading."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time

import psutil
import websockets

from tests.support.client import Api, ChatClient
from tests.support.resilient import DeliveryChecker, ResilientReceiver, ResilientSender, wait_until


async def test_sigkill_clients_move_to_the_other_process_and_resume(start_servers):
    one, two = start_servers(2)
    owner = await Api.register(one.url)
    room = await owner.create_room("failover")
    people = [await Api.register(one.url) for _ in range(4)]
    for person in people:
        await person.join(room)
    urls = [one.ws_url, two.ws_url]   # clients try process one first, then the other
    checker = DeliveryChecker()
    receivers = [ResilientReceiver(f"r{i}", urls, p.token, [room], checker) for i, p in enumerate(people[:2])]
    senders = [ResilientSender(f"s{i}", urls, p.token, room, 120, checker) for i, p in enumerate(people[2:])]
    for receiver in receivers:
        receiver.start()
    await asyncio.gather(*(r.subscribed_once.wait() for r in receivers))
    for sender in senders:
        sender.start()
    await wait_until(lambda: len(checker.acked[room]) >= 50, 30, "traffic before the kill")

    one.kill()

    await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in senders)), 60)
    await wait_until(lambda: all(checker.caught_up(r.name, room) for r in receivers), 30, "receivers")
    for worker in (*senders, *receivers):
        await worker.stop()
    assert len(checker.acked[room]) == 240
    assert all(r.connects >= 2 for r in receivers), "receivers should have reconnected to process two"
    checker.assert_invariants()


async def test_sigterm_closes_with_1012_finishes_writes_and_exits_in_time(start_servers):
    one, two = start_servers(2)
    owner = await Api.register(one.url)
    room = await owner.create_room("rolling deploy")
    people = [await Api.register(one.url) for _ in range(3)]
    for person in people:
        await person.join(room)
    urls = [one.ws_url, two.ws_url]
    checker = DeliveryChecker()
    receiver = ResilientReceiver("r", urls, people[0].token, [room], checker)
    receiver.start()
    await receiver.subscribed_once.wait()
    senders = [ResilientSender(f"s{i}", urls, p.token, room, 100, checker, interval_s=0.005)
               for i, p in enumerate(people[1:])]
    for sender in senders:
        sender.start()
    await wait_until(lambda: len(checker.acked[room]) >= 40, 30, "traffic before the shutdown")

    started = time.monotonic()
    one.terminate()
    # uvicorn re-raises SIGTERM once its graceful shutdown is complete, hence -15.
    assert one.wait(timeout=one.shutdown_grace_s + 5) in (0, -15)
    assert "Traceback" not in one.log_tail(200)
    assert time.monotonic() - started < one.shutdown_grace_s + 5
    # New connections to the stopped process are refused; clients moved on.
    await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in senders)), 60)
    await wait_until(lambda: checker.caught_up("r", room), 30, "the receiver")
    for worker in (*senders, receiver):
        await worker.stop()
    assert 1012 in receiver.close_codes
    assert len(checker.acked[room]) == 200
    checker.assert_invariants()


async def test_slow_consumer_is_closed_with_4408_and_resumes_with_nothing_lost(start_servers):
    server, = start_servers(1, SEND_QUEUE_FRAMES="50", MAX_BODY_CHARS="16000", MAX_FRAME_BYTES="65536")
    talker, sleeper = await Api.register(server.url), await Api.register(server.url)
    room = await talker.create_room("firehose")
    await sleeper.join(room)
    # A client that stops reading: websockets stops reading the socket once 1 frame is queued,
    # and a small fixed receive buffer (no autotuning to 32 MB) makes the kernel push back soon.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 * 1024)
    sock.connect(("127.0.0.1", server.port))
    # No permessage-deflate either: what the test sends must arrive at full size.
    stalled = await websockets.connect(server.ws_url, sock=sock, max_queue=1, max_size=2**20, compression=None,
                                       additional_headers={"Authorization": f"Bearer {sleeper.token}"})
    await stalled.send('{"type":"subscribe","room":%d}' % room)
    rss_before = psutil.Process(server.pid).memory_info().rss
    t = await ChatClient.connect(server.ws_url, talker.token)
    overflowed = False
    for i in range(1500):
        last = await t.say(room, f"{i} {secrets.token_urlsafe(9000)}", client_id=f"f{i}")
        if i % 20 == 0 and "overflowed its send queue" in server.log_tail(300):
            overflowed = True
            break
    assert overflowed, "the stalled client was never cut off"
    rss_after = psutil.Process(server.pid).memory_info().rss
    # Draining what the socket buffered reveals the close code.
    seen = []
    try:
        async for text in stalled:
            if '"type":"message"' in text:
                seen.append(int(text.split('"seq":', 1)[1].split(",", 1)[0]))
    except websockets.ConnectionClosed:
        pass
    assert stalled.protocol.close_rcvd is not None and stalled.protocol.close_rcvd.code == 4408
    assert rss_after - rss_before < 60 * 2**20, "server memory grew without bound"
    # Resuming from the last message read gets everything after it, once.
    for i in range(5):
        last = await t.say(room, f"after {i}", client_id=f"after{i}")
    again = await ChatClient.connect(server.ws_url, sleeper.token)
    resumed_from = seen[-1] if seen else 0
    await again.subscribe(room, since=resumed_from)
    await again.wait_for_seq(room, last["seq"])
    assert [f["seq"] for f in again.events(room)] == list(range(resumed_from + 1, last["seq"] + 1))
    await t.close(), await again.close()
