"""Presence in Redis, shared by every process; one server or a Redis Cluster alike.

Keys:
  convene:presence:m:{member}   hash "{process}/{conn}" -> status, one field per live connection.
                                Each member's hash lands on its own slot, so members spread
                                over the shards of a cluster.
  {convene:presence:procs}             set of every process that has registered
  {convene:presence:procs}:alive:{p}   string with a TTL: the process is alive while it exists
  {convene:presence:procs}:members:{p} set of members with a connection on that process
  {convene:presence:procs}:reaper:{p}  which live process reaps a dead one
The process registry shares one hash tag, so it sits on one shard and its multi-key commands
(MGET of the liveness keys, DEL on stop) never cross slots. A member's change is one script on
that member's hash alone.

A field counts while its process's liveness key exists. Each heartbeat reads the registry once and
remembers which processes were alive and which were dead; a read only looks up a process it has
not seen since (one MGET, on the registry's shard), so the common read is one round trip to the
members' shards. The reaper removes dead processes' fields and announces the change: a crashed
process's members read as offline within presence_ttl_s + presence_heartbeat_s.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from redis.asyncio.cluster import RedisCluster

from rooms.models import PresenceStatus
from realtime.presence.base import Change, PresenceBackend, aggregate
from realtime.redis_client import REDIS_FAILURES, redis_client

log = logging.getLogger(__name__)
MEMBER_PREFIX = "convene:presence:m:"
REGISTRY = "{convene:presence:procs}"

# Sets (ARGV[2] a status) or removes (ARGV[2] '') one connection's field, atomically, and answers
# the member's fields as they were before: the caller knows the change and works out both statuses.
_CHANGE = """
local before = redis.call('HGETALL', KEYS[1])
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return before
"""


def _alive_key(process: str) -> str:
    return f"{REGISTRY}:alive:{process}"


def _members_key(process: str) -> str:
    return f"{REGISTRY}:members:{process}"


def _process_of(field: str) -> str:
    return field.split("/", 1)[0]


class RedisPresence(PresenceBackend):
    def __init__(self, url: str, ttl_s: float) -> None:
        self._redis = redis_client(url)
        self._change = self._redis.register_script(_CHANGE)
        self._ttl_ms = int(ttl_s * 1000)
        self.process_id = uuid.uuid4().hex[:12]
        # What this process has told Redis, so a heartbeat after a Redis restart can restore it.
        self._local: dict[int, dict[str, PresenceStatus]] = {}
        # Whether each process's liveness key existed when last looked at (every heartbeat).
        self._alive: set[str] = {self.process_id}
        self._dead: set[str] = set()

    async def start(self) -> None:
        try:
            await self._refresh()
        except REDIS_FAILURES as error:
            log.warning("presence: redis unreachable at start: %s", error)

    async def stop(self) -> None:
        try:
            pipe = self._redis.pipeline(transaction=False)
            for member_id, conns in self._local.items():
                pipe.hdel(self._member_key(member_id), *[self._field(c) for c in conns])
            pipe.delete(_alive_key(self.process_id), _members_key(self.process_id))
            pipe.srem(REGISTRY, self.process_id)
            await pipe.execute()
        except REDIS_FAILURES:
            pass
        self._local.clear()
        await self._redis.aclose()

    @staticmethod
    def _member_key(member_id: int) -> str:
        return f"{MEMBER_PREFIX}{member_id}"

    def _field(self, conn_id: str) -> str:
        return f"{self.process_id}/{conn_id}"

    async def _statuses(self, hashes: list[dict[str, str]]) -> list[PresenceStatus]:
        unknown = {_process_of(field) for fields in hashes for field in fields} - self._alive - self._dead
        if unknown:
            await self._look_up(sorted(unknown))
        return [aggregate(PresenceStatus(status) for field, status in fields.items()
                          if _process_of(field) in self._alive) for fields in hashes]

    async def _look_up(self, processes: list[str]) -> None:
        # One slot (the registry's hash tag): one MGET even on a cluster.
        flags = await self._redis.mget([_alive_key(p) for p in processes])
        for process, flag in zip(processes, flags):
            (self._alive if flag is not None else self._dead).add(process)

    async def set(self, member_id: int, conn_id: str, status: PresenceStatus) -> Change:
        new_here = member_id not in self._local
        # Remembered first: if Redis (or the key's shard) fails now, the next heartbeat writes it.
        self._local.setdefault(member_id, {})[conn_id] = status
        if new_here:
            # Registered before the field exists, so a crash in between still gets it reaped.
            await self._redis.sadd(_members_key(self.process_id), member_id)
        return await self._apply(member_id, conn_id, status.value)

    async def remove(self, member_id: int, conn_id: str) -> Change:
        conns = self._local.get(member_id, {})
        conns.pop(conn_id, None)
        if not conns:
            self._local.pop(member_id, None)
        return await self._apply(member_id, conn_id, "")

    async def _apply(self, member_id: int, conn_id: str, status: str) -> Change:
        field = self._field(conn_id)
        flat = await self._change(keys=[self._member_key(member_id)], args=[field, status])
        before = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
        after = dict(before)
        if status:
            after[field] = status
        else:
            after.pop(field, None)
        status_before, status_after = await self._statuses([before, after])
        return status_before, status_after

    async def apply(self, changes: list[tuple[int, str, PresenceStatus | None]]) -> dict[int, Change]:
        """A batch in one round trip on one server (a pipeline of the change script), concurrent
        requests on a cluster (each member's hash on its own shard)."""
        if not changes:
            return {}
        new_members = []
        for member_id, conn_id, status in changes:
            if status is None:
                conns = self._local.get(member_id, {})
                conns.pop(conn_id, None)
                if not conns:
                    self._local.pop(member_id, None)
            else:
                if member_id not in self._local and member_id not in new_members:
                    new_members.append(member_id)
                self._local.setdefault(member_id, {})[conn_id] = status
        if new_members:
            # Registered before the fields exist, so a crash in between still gets them reaped.
            await self._redis.sadd(_members_key(self.process_id), *new_members)
        calls = [(self._member_key(m), [self._field(c), "" if s is None else s.value]) for m, c, s in changes]
        if isinstance(self._redis, RedisCluster):
            replies = await asyncio.gather(*(self._change(keys=[key], args=args) for key, args in calls))
        else:
            pipe = self._redis.pipeline(transaction=False)
            for key, args in calls:
                await self._change(keys=[key], args=args, client=pipe)
            replies = await pipe.execute()
        firsts: dict[int, dict[str, str]] = {}
        lasts: dict[int, dict[str, str]] = {}
        for (member_id, conn_id, status), flat in zip(changes, replies):
            before = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
            firsts.setdefault(member_id, before)
            after = dict(before)
            if status is None:
                after.pop(self._field(conn_id), None)
            else:
                after[self._field(conn_id)] = status.value
            lasts[member_id] = after
        members = list(firsts)
        statuses = await self._statuses([firsts[m] for m in members] + [lasts[m] for m in members])
        return {m: (statuses[i], statuses[len(members) + i]) for i, m in enumerate(members)}

    async def statuses(self, member_ids: list[int]) -> dict[int, PresenceStatus]:
        if not member_ids:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for member_id in member_ids:
            pipe.hgetall(self._member_key(member_id))
        hashes = [{f.decode(): v.decode() for f, v in fields.items()} for fields in await pipe.execute()]
        return dict(zip(member_ids, await self._statuses(hashes)))

    async def heartbeat(self) -> dict[int, Change]:
        await self._refresh()
        return await self._reap()

    async def _refresh(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(_alive_key(self.process_id), "1", px=self._ttl_ms)
        pipe.sadd(REGISTRY, self.process_id)
        # Re-assert our fields: after a Redis restart (or a shard's failover) they would be gone.
        if self._local:
            pipe.sadd(_members_key(self.process_id), *self._local)
        for member_id, conns in self._local.items():
            pipe.hset(self._member_key(member_id), mapping={self._field(c): s.value for c, s in conns.items()})
        await pipe.execute()

    async def _look_at_registry(self) -> list[str]:
        """Every registered process's liveness, remembered; answers the dead ones."""
        processes = sorted(p.decode() for p in await self._redis.smembers(REGISTRY))
        self._alive, self._dead = {self.process_id}, set()
        others = [p for p in processes if p != self.process_id]
        if others:
            await self._look_up(others)
        return sorted(self._dead)

    async def _reap(self) -> dict[int, Change]:
        changes: dict[int, Change] = {}
        for process in await self._look_at_registry():
            # Only one live process reaps a dead one.
            if not await self._redis.set(f"{REGISTRY}:reaper:{process}", self.process_id, nx=True, ex=60):
                continue
            members = [int(m) for m in await self._redis.smembers(_members_key(process))]
            for member_id in members:
                key = self._member_key(member_id)
                stale = [f for f in await self._redis.hkeys(key) if _process_of(f.decode()) == process]
                if stale:
                    await self._redis.hdel(key, *stale)
                after = (await self.statuses([member_id]))[member_id]
                if after is PresenceStatus.OFFLINE:
                    # Its fields stopped counting when the process was found dead: it was already
                    # offline to readers, but nobody had been told.
                    changes[member_id] = (PresenceStatus.ONLINE, after)
            await self._redis.delete(_members_key(process))
            await self._redis.srem(REGISTRY, process)
            log.info("presence: reaped dead process %s (%d members)", process, len(members))
        return changes
