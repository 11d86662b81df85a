"""Redis pub/sub broker (redis.asyncio), for any number of processes on any number of hosts.

It reconnects by itself with back-off after Redis goes away, subscribes again to
every channel, and then reports RESYNC so the hub repairs what was missed.
"""

from __future__ import annotations

import asyncio
import logging
import random

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from realtime.broker.base import RESYNC, Broker, BrokerState, BrokerUnavailable, Published
from realtime.redis_client import redis_client
from rooms import metrics

log = logging.getLogger(__name__)


class RedisBroker(Broker):
    def __init__(self, url: str, queue_size: int = 10_000) -> None:
        super().__init__(queue_size)
        self._url = url
        self._client = redis_client(url)
        self._channels: set[str] = set()
        self._pubsub: aioredis.client.PubSub | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Event()

    async def connect(self) -> None:
        self._reader = asyncio.create_task(self._read_forever(), name="redis-broker-reader")

    async def disconnect(self) -> None:
        if self._reader:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
        await self._close_pubsub()
        await self._client.aclose()
        self.state = BrokerState.DISCONNECTED

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        if self._pubsub is not None and self.state is BrokerState.CONNECTED:
            try:
                await self._pubsub.subscribe(channel)
            except (RedisError, OSError):
                self._changed.set()   # the reader will resubscribe everything
        else:
            # The reader may be connecting with the channel list it read before this one was added.
            self._changed.set()

    async def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._pubsub is not None and self.state is BrokerState.CONNECTED:
            try:
                await self._pubsub.unsubscribe(channel)
            except (RedisError, OSError):
                pass

    async def publish(self, channel: str, data: str) -> None:
        try:
            await self._client.publish(channel, data)
        except (RedisError, OSError) as error:
            metrics.broker_publish_failures.inc()
            raise BrokerUnavailable(str(error)) from error

    async def _read_forever(self) -> None:
        delay = 0.1
        first = True
        while True:
            try:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                # A dummy channel keeps the pub/sub connection open even when no room is served yet.
                await self._pubsub.subscribe("convene:keepalive", *self._channels)
                self.state = BrokerState.CONNECTED
                if not first:
                    metrics.broker_reconnects.inc()
                    log.warning("redis broker reconnected; resyncing rooms")
                    self._receive(RESYNC)
                first, delay = False, 0.1
                await self._pump(self._pubsub)
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as error:
                if self.state is BrokerState.CONNECTED:
                    log.warning("redis broker lost its connection: %s", error)
                self.state = BrokerState.DEGRADED
                first = False
            await self._close_pubsub()
            await asyncio.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 5.0)

    async def _pump(self, pubsub: aioredis.client.PubSub) -> None:
        while True:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            if message is not None and message["type"] == "message":
                channel = message["channel"].decode()
                self._receive(Published(channel, message["data"].decode()))
            if self._changed.is_set():
                self._changed.clear()
                missing = self._channels - {c.decode() for c in pubsub.channels}
                if missing:
                    await pubsub.subscribe(*missing)

    async def _close_pubsub(self) -> None:
        if self._pubsub is not None:
            try:
                await self._pubsub.aclose()
            except Exception:  # already broken: nothing left to close cleanly
                pass
            self._pubsub = None
