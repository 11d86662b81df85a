"""Presence in Redis, shared by every process.

Keys (all under "convene:presence:"):
  m:{member}   hash  "{process}/{conn}" -> status, one field per live connection
  p:{process}  string with a TTL: the process is alive while it exists
  pm:{process} set of members with a connection on that process (for reaping)
  procs        set of every process that has registered
A field counts only while its process key exists, so a crashed process's
members read as offline as soon as its key expires; the reaper then removes
the stale fields and announces the change.
"""

from __future__ import annotations

import logging
import uuid

from redis.exceptions import RedisError

from rooms.models import PresenceStatus
from realtime.presence.base import Change, PresenceBackend, aggregate
from realtime.redis_client import redis_client

log = logging.getLogger(__name__)
PREFIX = "convene:presence:"

# Sets or removes one connection's field and answers the member's status before and after,
# atomically and in one round trip (0 offline, 1 away, 2 online). Fields of processes whose
# liveness key has expired do not count.
_CHANGE = """
local function status()
  local best = 0
  local fields = redis.call('HGETALL', KEYS[1])
  for i = 1, #fields, 2 do
    local process = string.match(fields[i], '^([^/]+)/')
    if process and redis.call('EXISTS', ARGV[3] .. process) == 1 then
      if fields[i + 1] == 'online' then return 2 end
      if fields[i + 1] == 'away' then best = 1 end
    end
  end
  return best
end
local before = status()
if ARGV[2] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('SADD', KEYS[2], ARGV[4])
end
return {before, status()}
"""
_STATUS = (PresenceStatus.OFFLINE, PresenceStatus.AWAY, PresenceStatus.ONLINE)


class RedisPresence(PresenceBackend):
    def __init__(self, url: str, ttl_s: float) -> None:
        self._redis = redis_client(url)
        self._change = self._redis.register_script(_CHANGE)
        self._ttl_ms = int(ttl_s * 1000)
        self.process_id = uuid.uuid4().hex[:12]
        # What this process has told Redis, so a heartbeat after a Redis restart can restore it.
        self._local: dict[int, dict[str, PresenceStatus]] = {}

    async def start(self) -> None:
        try:
            await self._refresh()
        except (RedisError, OSError) as error:
            log.warning("presence: redis unreachable at start: %s", error)

    async def stop(self) -> None:
        try:
            pipe = self._redis.pipeline()
            for member_id, conns in self._local.items():
                pipe.hdel(self._member_key(member_id), *[self._field(c) for c in conns])
            pipe.delete(PREFIX + "p:" + self.process_id, PREFIX + "pm:" + self.process_id)
            pipe.srem(PREFIX + "procs", self.process_id)
            await pipe.execute()
        except (RedisError, OSError):
            pass
        self._local.clear()
        await self._redis.aclose()

    @staticmethod
    def _member_key(member_id: int) -> str:
        return f"{PREFIX}m:{member_id}"

    def _field(self, conn_id: str) -> str:
        return f"{self.process_id}/{conn_id}"

    async def set(self, member_id: int, conn_id: str, status: PresenceStatus) -> Change:
        self._local.setdefault(member_id, {})[conn_id] = status
        return await self._apply(member_id, conn_id, status.value)

    async def remove(self, member_id: int, conn_id: str) -> Change:
        conns = self._local.get(member_id, {})
        conns.pop(conn_id, None)
        if not conns:
            self._local.pop(member_id, None)
        return await self._apply(member_id, conn_id, "")

    async def _apply(self, member_id: int, conn_id: str, status: str) -> Change:
        keys = [self._member_key(member_id), PREFIX + "pm:" + self.process_id]
        before, after = await self._change(keys=keys, args=[self._field(conn_id), status, PREFIX + "p:", member_id])
        return _STATUS[int(before)], _STATUS[int(after)]

    async def statuses(self, member_ids: list[int]) -> dict[int, PresenceStatus]:
        if not member_ids:
            return {}
        pipe = self._redis.pipeline()
        for member_id in member_ids:
            pipe.hgetall(self._member_key(member_id))
        hashes = await pipe.execute()
        processes = sorted({field.decode().split("/", 1)[0] for h in hashes for field in h})
        alive: set[str] = set()
        if processes:
            flags = await self._redis.mget([PREFIX + "p:" + p for p in processes])
            alive = {p for p, flag in zip(processes, flags) if flag is not None}
        result = {}
        for member_id, fields in zip(member_ids, hashes):
            live = [PresenceStatus(v.decode()) for f, v in fields.items()
                    if f.decode().split("/", 1)[0] in alive]
            result[member_id] = aggregate(live)
        return result

    async def heartbeat(self) -> dict[int, Change]:
        await self._refresh()
        return await self._reap()

    async def _refresh(self) -> None:
        pipe = self._redis.pipeline()
        pipe.set(PREFIX + "p:" + self.process_id, "1", px=self._ttl_ms)
        pipe.sadd(PREFIX + "procs", self.process_id)
        # Re-assert our fields: after a Redis restart they would otherwise be gone for good.
        for member_id, conns in self._local.items():
            pipe.hset(self._member_key(member_id),
                      mapping={self._field(c): s.value for c, s in conns.items()})
            pipe.sadd(PREFIX + "pm:" + self.process_id, member_id)
        await pipe.execute()

    async def _reap(self) -> dict[int, Change]:
        changes: dict[int, Change] = {}
        for raw in await self._redis.smembers(PREFIX + "procs"):
            process = raw.decode()
            if process == self.process_id or await self._redis.exists(PREFIX + "p:" + process):
                continue
            # Only one live process reaps a dead one.
            if not await self._redis.set(PREFIX + "reap:" + process, self.process_id, nx=True, ex=60):
                continue
            members = [int(m) for m in await self._redis.smembers(PREFIX + "pm:" + process)]
            for member_id in members:
                key = self._member_key(member_id)
                stale = [f for f in await self._redis.hkeys(key) if f.decode().startswith(process + "/")]
                if stale:
                    await self._redis.hdel(key, *stale)
                after = (await self.statuses([member_id]))[member_id]
                if after is PresenceStatus.OFFLINE:
                    # Its fields stopped counting when the process key expired: it was already offline
                    # to readers, but nobody had been told.
                    changes[member_id] = (PresenceStatus.ONLINE, after)
            await self._redis.delete(PREFIX + "pm:" + process)
            await self._redis.srem(PREFIX + "procs", process)
            log.info("presence: reaped dead process %s (%d members)", process, len(members))
        return changes
