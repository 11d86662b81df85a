"""Recently verified tokens in this process: a cached handshake asks the store nothing.

Bounded (the oldest entry goes first) and short-lived (TOKEN_CACHE_TTL_S, and never past the token's own
expiry). Revocation must not wait for the TTL: a logout, a suspension or a deleted account drops the
entries here (`forget_token`, `forget_member`) and, through the web layer's revocation channel
(realtime/token_revocations.py), on every other process; when that channel may have lost messages (a
broker reconnect) the whole cache is dropped. A lookup that overlapped a revocation does not cache its
answer (the store may have been read just before the revocation's commit).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from rooms import metrics
from rooms.models import Member


@dataclass(frozen=True, slots=True)
class _Entry:
    member: Member
    until: float      # time.monotonic() after which the store is asked again


class TokenCache:
    def __init__(self, ttl_s: float = 300.0, size: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Bumped by every revocation: a lookup that started before one does not cache its answer.
        self.epoch = 0

    def get(self, token_hash: str) -> Member | None:
        entry = self._entries.get(token_hash)
        if entry is not None and entry.until > time.monotonic():
            metrics.token_cache["hit"].inc()
            return entry.member
        if entry is not None:
            del self._entries[token_hash]
        metrics.token_cache["miss"].inc()
        return None

    def put(self, token_hash: str, member: Member, epoch: int, expires_in_s: float | None = None) -> None:
        """Caches a lookup that started at `epoch`, unless a revocation came in meanwhile."""
        if epoch != self.epoch or self.ttl_s <= 0 or self.size <= 0:
            return
        ttl = self.ttl_s if expires_in_s is None else min(self.ttl_s, expires_in_s)
        if ttl <= 0:
            return
        self._entries[token_hash] = _Entry(member, time.monotonic() + ttl)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget_token(self, token_hash: str) -> None:
        self.epoch += 1
        metrics.revocations_by_kind["token"].inc()
        self._entries.pop(token_hash, None)

    def forget_member(self, member_id: int) -> None:
        self.epoch += 1
        metrics.revocations_by_kind["member"].inc()
        for token_hash in [h for h, e in self._entries.items() if e.member.id == member_id]:
            del self._entries[token_hash]

    def clear(self) -> None:
        """Revocations may have been missed (the broker reconnected): nothing cached is trusted."""
        self.epoch += 1
        metrics.revocations_by_kind["all"].inc()
        self._entries.clear()

    def member_ids(self) -> set[int]:
        return {entry.member.id for entry in self._entries.values()}

    def __len__(self) -> int:
        return len(self._entries)
