"""Sharded pub/sub on a Redis Cluster (SPUBLISH/SSUBSCRIBE, Redis >= 7): fan-out that grows with the shards.

A room's channel belongs to the shard that owns its hash slot. SPUBLISH goes to that shard alone,
and each process holds one subscriber connection per primary, carrying the channels of the rooms it
serves whose slots that primary owns. So every shard carries only its share of the traffic, where
plain PUBLISH on a cluster is copied to every node.

When a shard's connection breaks (its primary died and a replica took over, a slot moved), the
broker asks the cluster who owns the slots now, subscribes the channels there and reports RESYNC:
the hub then repairs from the store whatever was published in between. A slot can also change hands
without breaking our connection (a partitioned primary, a resharding), so the topology is checked
every few seconds as well.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random

import redis.asyncio as aioredis
from redis.crc import key_slot

from realtime.broker.base import RESYNC, Broker, BrokerState, BrokerUnavailable, Published
from realtime.redis_client import REDIS_FAILURES, ClusterTarget, cluster_client, node_client
from rooms import metrics

log = logging.getLogger(__name__)

TOPOLOGY_CHECK_S = 5.0


class _SlotMoved(Exception):
    """The node told us it no longer serves a channel we hold there."""


class _Shard:
    """This process's subscriber connection to one primary, and the channels it holds there."""

    def __init__(self, name: str, client: aioredis.Redis) -> None:
        self.name = name
        self.client = client
        self.pubsub = client.pubsub()
        self.channels: set[str] = set()
        self.reader: asyncio.Task | None = None

    @property
    def broken(self) -> bool:
        return self.reader is not None and self.reader.done()

    async def close(self) -> None:
        if self.reader is not None:
            self.reader.cancel()
            await asyncio.gather(self.reader, return_exceptions=True)
        try:
            await self.pubsub.aclose()
            await self.client.aclose()
        except Exception:  # already broken: nothing left to close cleanly
            pass


class RedisClusterBroker(Broker):
    def __init__(self, target: ClusterTarget, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        self._target = target
        self._cluster = cluster_client(target)
        self._channels: set[str] = set()          # what the hub wants
        self._shards: dict[str, _Shard] = {}      # primary node name -> its subscriber connection
        self._broken = asyncio.Event()
        self._lock = asyncio.Lock()               # one change of the shards at a time
        self._supervisor: asyncio.Task | None = None

    async def connect(self) -> None:
        self._supervisor = asyncio.create_task(self._supervise(), name="redis-cluster-broker")

    async def disconnect(self) -> None:
        if self._supervisor:
            self._supervisor.cancel()
            await asyncio.gather(self._supervisor, return_exceptions=True)
        for shard in list(self._shards.values()):
            await shard.close()
        self._shards.clear()
        metrics.broker_cluster_shards.set(0)
        await self._cluster.aclose()
        self.state = BrokerState.DISCONNECTED

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self.state is BrokerState.CONNECTED:
            try:
                async with self._lock:
                    await self._attach(channel)
            except REDIS_FAILURES as error:
                log.warning("redis cluster: subscribing %s failed: %s", channel, error)
                self._broken.set()   # the supervisor re-homes every channel

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self.state is BrokerState.CONNECTED:
            async with self._lock:
                await self._detach(channel)

    async def publish(self, channel: str, data: str) -> None:
        try:
            await self._cluster.spublish(channel, data)
        except REDIS_FAILURES as error:
            metrics.broker_publish_failures.inc()
            raise BrokerUnavailable(str(error)) from error

    async def cluster_state(self) -> dict:
        """CLUSTER INFO as /readyz reports it: the cluster's own verdict, from the first node that
        answers, primaries first."""
        nodes = sorted(self._cluster.get_nodes(), key=lambda node: node.server_type != "primary")
        for node in nodes:
            try:
                info = await asyncio.wait_for(self._cluster.cluster_info(target_nodes=node), 2)
            except (*REDIS_FAILURES, asyncio.TimeoutError):
                continue
            return {"state": info.get("cluster_state"), "primaries": int(info.get("cluster_size", 0)),
                    "slots_ok": int(info.get("cluster_slots_ok", 0)), "subscribed_shards": len(self._shards)}
        return {"state": "unreachable", "subscribed_shards": len(self._shards)}

    # The supervisor: (re)builds the shards, then watches for breakage and topology changes.

    async def _supervise(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                await self._cluster.initialize()               # the first time: slots and commands
                await self._cluster.nodes_manager.initialize()  # later: who owns the slots now
                async with self._lock:
                    await self._rehome()
                    # No await between the re-home's last check and going live: a subscribe()
                    # meanwhile was either re-homed above or sees CONNECTED and attaches itself.
                    self.state = BrokerState.CONNECTED
                if not first:
                    metrics.broker_reconnects.inc()
                    log.warning("redis cluster broker: channels re-subscribed; resyncing rooms")
                    self._receive(RESYNC)
                first, delay = False, 0.1
                await self._watch()
            except asyncio.CancelledError:
                raise
            except REDIS_FAILURES as error:
                if self.state is BrokerState.CONNECTED:
                    log.warning("redis cluster broker lost a shard: %s", error)
                self.state = BrokerState.DEGRADED
                first = False
                await asyncio.sleep(delay + random.uniform(0, delay))
                delay = min(delay * 2, 1.0)   # a failover takes seconds: look again soon

    async def _watch(self) -> None:
        """Returns (DEGRADED) when a shard broke or a slot we hold moved; raises if the cluster is
        unreachable."""
        while True:
            try:
                await asyncio.wait_for(self._broken.wait(), TOPOLOGY_CHECK_S)
            except asyncio.TimeoutError:
                await self._cluster.nodes_manager.initialize()
                if not self._misplaced():
                    continue
                log.warning("redis cluster broker: slots changed hands; re-homing channels")
            self._broken.clear()
            self.state = BrokerState.DEGRADED
            return

    def _owner(self, channel: str) -> str:
        return self._cluster.nodes_manager.get_node_from_slot(key_slot(channel.encode())).name

    def _misplaced(self) -> bool:
        return any(shard.broken or any(self._owner(c) != name for c in shard.channels)
                   for name, shard in self._shards.items())

    async def _rehome(self) -> None:
        """Every wanted channel subscribed on the primary that owns its slot now."""
        for name, shard in list(self._shards.items()):
            if shard.broken or name not in {n.name for n in self._cluster.get_primaries()}:
                del self._shards[name]
                await shard.close()
        for shard in list(self._shards.values()):
            for channel in list(shard.channels):
                if self._owner(channel) != shard.name:
                    await self._detach(channel)
        # Until what is held is what is wanted: a subscribe() or unsubscribe() while this awaits only
        # changes the wanted set.
        while True:
            held = {channel for shard in self._shards.values() for channel in shard.channels}
            missing, unwanted = self._channels - held, held - self._channels
            if not missing and not unwanted:
                break
            for channel in unwanted:
                await self._detach(channel)
            for channel in missing:
                await self._attach(channel)
        metrics.broker_cluster_shards.set(len(self._shards))

    async def _attach(self, channel: str) -> None:
        name = self._owner(channel)
        shard = self._shards.get(name)
        if shard is None:
            node = self._cluster.get_node(node_name=name)
            shard = self._shards[name] = _Shard(name, node_client(self._target, node.host, node.port))
            metrics.broker_cluster_shards.set(len(self._shards))
        if channel in shard.channels:
            return
        shard.channels.add(channel)
        try:
            await shard.pubsub.ssubscribe(channel)
        except BaseException:
            shard.channels.discard(channel)
            raise
        if shard.reader is None:
            # The process's, not the socket's whose subscription opened the shard: a fresh context.
            shard.reader = asyncio.create_task(self._read(shard), name=f"redis-shard-{name}",
                                               context=contextvars.Context())

    async def _detach(self, channel: str) -> None:
        for name, shard in list(self._shards.items()):
            if channel not in shard.channels:
                continue
            shard.channels.discard(channel)
            if not shard.channels:
                # Nothing left on that primary: its connection goes too.
                del self._shards[name]
                await shard.close()
                metrics.broker_cluster_shards.set(len(self._shards))
            elif not shard.broken:
                try:
                    await shard.pubsub.sunsubscribe(channel)
                except REDIS_FAILURES:
                    self._broken.set()

    async def _read(self, shard: _Shard) -> None:
        try:
            while True:
                message = await shard.pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                kind = message["type"]
                if kind == "smessage":
                    self._receive(Published(message["channel"].decode(), message["data"].decode()))
                elif kind == "sunsubscribe" and message["channel"].decode() in shard.channels:
                    # We did not ask: the node gave the slot away (failover, resharding).
                    raise _SlotMoved(message["channel"].decode())
        except asyncio.CancelledError:
            raise
        except (*REDIS_FAILURES, _SlotMoved) as error:
            log.warning("redis cluster broker: shard %s stopped: %r", shard.name, error)
            self._broken.set()
