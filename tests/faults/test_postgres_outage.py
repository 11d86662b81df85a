"""Postgres stopped: sends are refused as retryable and never acknowledged; service recovers by itself."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.client import Api, ChatClient
from tests.support.resilient import DeliveryChecker, ResilientReceiver, ResilientSender, wait_until


async def test_postgres_outage_refuses_retryably_and_recovers_without_restart(start_servers, private_postgres):
    server, = start_servers(1)
    alice, bob = await Api.register(server.url), await Api.register(server.url)
    room = await alice.create_room("outage")
    await bob.join(room)
    checker = DeliveryChecker()
    receiver = ResilientReceiver("bob", [server.ws_url], bob.token, [room], checker)
    receiver.start()
    await receiver.subscribed_once.wait()
    a = await ChatClient.connect(server.ws_url, alice.token)
    before = await a.say(room, "before the outage", client_id="before")
    checker.ack(room, before["seq"], "before")

    private_postgres.stop()
    refused = await a.say(room, "during the outage", client_id="during")
    assert refused["type"] == "error" and refused["code"] == "store_unavailable"
    assert refused["retryable"] is True and refused["retry_after"] > 0
    async with httpx.AsyncClient() as http:
        readiness = await http.get(server.url + "/readyz")
        assert readiness.status_code == 503 and readiness.json()["store"] == "unavailable"

        private_postgres.start()
        # The client retries the same message, as the error told it to.
        for _ in range(100):
            retried = await a.say(room, "during the outage", client_id="during")
            if retried["type"] == "ack":
                break
            await asyncio.sleep(0.2)
        assert retried["type"] == "ack" and retried["duplicate"] is False
        checker.ack(room, retried["seq"], "during")
        assert (await http.get(server.url + "/readyz")).status_code == 200

    sender = ResilientSender("alice", [server.ws_url], alice.token, room, 20, checker)
    sender.start()
    await asyncio.wait_for(sender.done.wait(), 30)
    await wait_until(lambda: checker.caught_up("bob", room), 20, "bob to receive everything")
    await sender.stop(), await receiver.stop()
    page = (await alice.http.get(f"/api/rooms/{room}/messages", params={"limit": 100})).json()["messages"]
    assert [m["client_id"] for m in page][:2] == ["before", "during"] and len(page) == 22
    checker.assert_invariants()
    await a.close()


async def test_postgres_killed_mid_stream_loses_nothing_acknowledged(start_servers, private_postgres):
    one, two = start_servers(2)
    owner = await Api.register(one.url)
    room = await owner.create_room("crash of the store")
    people = [await Api.register(one.url) for _ in range(3)]
    for person in people:
        await person.join(room)
    checker = DeliveryChecker()
    receiver = ResilientReceiver("r", [two.ws_url], people[2].token, [room], checker)
    receiver.start()
    await receiver.subscribed_once.wait()
    senders = [ResilientSender(f"s{i}", [p.ws_url], people[i].token, room, 80, checker)
               for i, p in enumerate((one, two))]
    for sender in senders:
        sender.start()
    await wait_until(lambda: len(checker.acked[room]) >= 30, 30, "traffic before the crash")
    private_postgres.kill()
    await asyncio.sleep(1.0)
    private_postgres.start()
    await asyncio.wait_for(asyncio.gather(*(s.done.wait() for s in senders)), 90)
    await wait_until(lambda: checker.caught_up("r", room), 30, "the receiver to catch up")
    for worker in (*senders, receiver):
        await worker.stop()
    assert len(checker.acked[room]) == 160
    assert "store_unavailable" in {code for s in senders for code in s.refusals}
    checker.assert_invariants()
    # What the store holds is exactly what was acknowledged: nothing extra, nothing missing.
    page = (await owner.http.get(f"/api/rooms/{room}/messages", params={"limit": 100})).json()
    older = (await owner.http.get(f"/api/rooms/{room}/messages",
                                  params={"limit": 100, "before": page["messages"][0]["seq"]})).json()
    stored = {m["seq"]: m["client_id"] for m in older["messages"] + page["messages"]}
    assert stored == checker.acked[room]
