"""Scaling-out configuration: how REDIS_URL names a cluster, the keys' hash slots, and the read
replica's settings and floors."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from realtime.limits.redis import bucket_key
from realtime.presence.redis import REGISTRY, RedisPresence, _alive_key, _members_key
from realtime.redis_client import ClusterTarget, cluster_target
from realtime.settings import Settings
from rooms.store import Stores
from rooms.store.replica import KnownHeads


def test_a_cluster_is_named_by_its_seed_nodes_and_shared_credentials():
    assert cluster_target("redis+cluster://10.0.0.1:7000,10.0.0.2:7001/") == ClusterTarget(
        seeds=(("10.0.0.1", 7000), ("10.0.0.2", 7001)))
    secure = cluster_target("rediss+cluster://app:s%40cret@redis-a:6380,[::1]:6381")
    assert secure == ClusterTarget(seeds=(("redis-a", 6380), ("::1", 6381)), username="app",
                                   password="s@cret", ssl=True)


def test_one_redis_is_not_a_cluster_and_a_cluster_needs_a_seed():
    assert cluster_target("redis://127.0.0.1:6379/0") is None
    with pytest.raises(ValueError, match="seed"):
        cluster_target("redis+cluster:///")
    with pytest.raises(ValueError, match="host:port"):
        cluster_target("redis+cluster://redis-a/")


def test_the_presence_registry_sits_on_one_slot_and_members_spread_over_many():
    registry = {key_slot(key.encode()) for key in (REGISTRY, _alive_key("a1"), _alive_key("b2"), _members_key("a1"))}
    assert len(registry) == 1, "the registry's multi-key commands would cross slots"
    members = {key_slot(RedisPresence._member_key(member).encode()) for member in range(1, 200)}
    assert len(members) > 150


def test_a_rate_limit_bucket_is_one_key_whose_slot_follows_its_name():
    assert bucket_key("msg:m:42") == "convene:limit:{msg:m:42}"
    assert key_slot(bucket_key("msg:m:42").encode()) == key_slot(b"msg:m:42")
    assert key_slot(bucket_key("msg:m:42").encode()) != key_slot(bucket_key("msg:m:43").encode())


def test_the_replica_settings_are_read_from_the_environment():
    settings = Settings.from_env({"SECRET_KEY": "k", "DATABASE_URL": "postgresql://p/db",
                                  "DATABASE_REPLICA_URL": "postgres://r/db", "DATABASE_REPLICA_RETRY_S": "2.5"})
    assert settings.sqlalchemy_replica_url == "postgresql+asyncpg://r/db"
    assert settings.database_replica_retry_s == 2.5
    assert Settings.from_env({"SECRET_KEY": "k"}).sqlalchemy_replica_url == ""


def test_a_replica_needs_a_postgres_primary(tmp_path):
    with pytest.raises(ValueError, match="Postgres primary"):
        Stores.open(f"sqlite+aiosqlite:///{tmp_path}/x.db", replica_url="postgresql+asyncpg://r/db")
    with pytest.raises(ValueError, match="streaming replica"):
        Stores.open("postgresql+asyncpg://p/db", replica_url=f"sqlite+aiosqlite:///{tmp_path}/y.db")


def test_a_subscribed_sockets_floor_is_the_most_this_process_knows_of_the_room():
    heads = KnownHeads(capacity=2)
    heads.live = lambda room: {7: 12}.get(room, 0)   # the hub's feed head: room 7 is served here
    heads.saw(7, 10)
    heads.saw(8, 3)
    assert heads.floor(7) == 12 and heads.floor(8) == 3 and heads.floor(9) == 0
    heads.saw(8, 2)                  # an older seq never lowers the floor
    assert heads.floor(8) == 3
    heads.saw(9, 5)                  # past capacity the least recently written room (7) is forgotten,
    heads.saw(10, 1)                 # then the next (8)
    assert heads.floor(8) == 0 and heads.floor(9) == 5 and heads.floor(10) == 1
    assert heads.floor(7) == 12      # a forgotten room served here keeps its live feed's head
