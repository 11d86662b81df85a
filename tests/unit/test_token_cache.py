"""The token cache and its revocations: hits ask the store nothing, revocations and broker resyncs forget at once."""

from __future__ import annotations

import asyncio

import pytest

from realtime.broker.base import RESYNC
from realtime.broker.memory import MemoryBroker
from realtime.hub import Hub
from realtime.token_revocations import TokenRevocations
from rooms.accounts import AccountService, TokenKind
from rooms.store import Stores
from rooms.token_cache import TokenCache


class Lookups:
    """Counts the accounts store's token lookups."""

    def __init__(self, store) -> None:
        self.count = 0
        inner = store.member_for_token

        async def counted(token_hash, now):
            self.count += 1
            return await inner(token_hash, now)

        store.member_for_token = counted


@pytest.fixture
async def world(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/tokens.db")
    await stores.db.migrate()
    lookups = Lookups(stores.accounts)
    broker = MemoryBroker()
    await broker.connect()
    hub = Hub(stores, broker, repair_interval_s=3600)
    await hub.start()
    accounts = AccountService(stores, 3600, token_cache=TokenCache(ttl_s=300, size=100))
    revocations = TokenRevocations(hub, broker, accounts)
    await revocations.start()
    member = await stores.accounts.create_member("ann", "x", "Ann")
    yield accounts, lookups, broker, member
    await hub.stop()
    await stores.db.dispose()


async def test_a_cached_token_asks_the_store_once(world) -> None:
    accounts, store, _, member = world
    token = await accounts.issue_token(member, TokenKind.SESSION)
    for _ in range(5):
        assert (await accounts.member_for_token(token)).id == member.id
    assert store.count == 1


async def test_a_revoked_token_is_refused_at_once_and_the_broker_carries_it(world) -> None:
    accounts, store, broker, member = world
    token = await accounts.issue_token(member, TokenKind.SESSION)
    await accounts.member_for_token(token)
    await accounts.revoke(token)
    await asyncio.sleep(0.05)   # the hub reads the revocation back from the broker
    assert await accounts.member_for_token(token) is None


async def test_a_revocation_from_another_process_forgets_the_member(world) -> None:
    accounts, store, broker, member = world
    token = await accounts.issue_token(member, TokenKind.SESSION)
    await accounts.member_for_token(token)
    await broker.publish("convene:tokens", f"member:{member.id}")   # as another process would
    await asyncio.sleep(0.05)
    await accounts.member_for_token(token)
    assert store.count == 2


async def test_a_broker_resync_drops_the_whole_cache(world) -> None:
    accounts, store, broker, member = world
    token = await accounts.issue_token(member, TokenKind.SESSION)
    await accounts.member_for_token(token)
    broker._receive(RESYNC)   # what a Redis reconnect hands the hub
    await asyncio.sleep(0.05)
    assert len(accounts.tokens) == 0
    await accounts.member_for_token(token)
    assert store.count == 2


def test_a_lookup_that_overlapped_a_revocation_is_not_cached() -> None:
    from rooms.models import Member
    cache = TokenCache(ttl_s=300, size=10)
    epoch = cache.epoch
    cache.forget_token("h")          # a revocation while the store was being read
    cache.put("h", object.__new__(Member), epoch)
    assert cache.get("h") is None


def test_the_cache_is_bounded_and_never_outlives_the_token() -> None:
    from rooms.models import Member
    cache = TokenCache(ttl_s=300, size=2)
    member = object.__new__(Member)
    for name in ("a", "b", "c"):
        cache.put(name, member, cache.epoch)
    assert len(cache) == 2 and cache.get("a") is None
    cache.put("d", member, cache.epoch, expires_in_s=-1)   # already expired
    assert cache.get("d") is None
