"""This process's media leases: which webinars' media it owns, renewed while their sessions live, given up after.

Any process may be asked about any webinar's media. `owner_of` answers who owns it, taking the
lease when nobody holds it or its holder stopped renewing (the holder died: its lease lapses
after `lease_s`). A renewal every third of the lease keeps ours; a renewal that finds a lease
taken over (this process stalled past its lease) reports it lost, and the media hub closes
that session so two processes never keep serving one webinar.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from typing import Awaitable, Callable

from recordings.media.leases import Lease, LeaseStore
from rooms import metrics

log = logging.getLogger(__name__)


def process_id() -> str:
    """Names this process in leases and on the relay: host, pid and a random part (pids are reused)."""
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{secrets.token_hex(4)}"


class Ownership:
    def __init__(self, leases: LeaseStore, me: str, lease_s: float, in_use: Callable[[int], bool],
                 on_lost: Callable[[int], Awaitable[None]]) -> None:
        self.leases = leases
        self.me = me
        self.lease_s = lease_s
        self.in_use = in_use              # does this process still have a media session for the webinar?
        self.on_lost = on_lost            # called when a lease of ours was taken over
        self.held: dict[int, Lease] = {}
        self._acquired_at: dict[int, float] = {}
        self._task: asyncio.Task | None = None

    @property
    def renew_every_s(self) -> float:
        return self.lease_s / 3

    def holds(self, webinar_id: int) -> bool:
        return webinar_id in self.held

    async def current_owner(self, webinar_id: int) -> Lease | None:
        """Who owns the webinar's media now, without taking it: None when nobody does (or the lease lapsed)."""
        ours = self.held.get(webinar_id)
        if ours is not None:
            return ours
        current = await self.leases.holder(webinar_id)
        return current if current is not None and not current.lapsed() else None

    async def owner_of(self, webinar_id: int) -> Lease:
        """The lease of the process that owns the webinar's media now: this one when it was free or lapsed."""
        ours = self.held.get(webinar_id)
        if ours is not None:
            return ours
        current = await self.leases.holder(webinar_id)
        if current is not None and current.owner != self.me and not current.lapsed():
            return current
        acquired = await self.leases.acquire(webinar_id, self.me, self.lease_s)
        if acquired.lease.owner == self.me:
            self.held[webinar_id] = acquired.lease
            self._acquired_at[webinar_id] = time.monotonic()
            if acquired.taken_over:
                metrics.media_leases_taken_over.inc()
                log.warning("webinar %s: took over its media (the previous owner stopped renewing)", webinar_id)
            else:
                log.info("webinar %s: this process owns its media (epoch %s)", webinar_id, acquired.lease.epoch)
        return acquired.lease

    async def start(self) -> None:
        self._task = asyncio.create_task(self._renew_forever(), name="media-leases")

    async def stop(self) -> None:
        """Stops renewing and gives every lease up, so another process takes the media at once."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        held, self.held = list(self.held), {}
        try:
            await self.leases.release(self.me, held)
        except Exception as error:   # the store is away: the leases lapse by themselves
            log.warning("media leases not released (%s); they lapse in %s s", error, self.lease_s)

    async def release(self, webinar_id: int) -> None:
        if self.held.pop(webinar_id, None) is not None:
            self._acquired_at.pop(webinar_id, None)
            await self.leases.release(self.me, [webinar_id])

    async def renew_once(self) -> None:
        now = time.monotonic()
        # A lease just taken is kept a moment without a session: the request that took it is opening one.
        keep = [w for w in self.held if self.in_use(w) or now - self._acquired_at.get(w, 0.0) < self.lease_s]
        idle = [w for w in self.held if w not in keep]
        if idle:
            for webinar_id in idle:
                self.held.pop(webinar_id, None)
                self._acquired_at.pop(webinar_id, None)
            await self.leases.release(self.me, idle)
        renewed = await self.leases.renew(self.me, keep, self.lease_s)
        for webinar_id in keep:
            if webinar_id in renewed:
                if webinar_id in self.held:
                    self.held[webinar_id] = renewed[webinar_id]
                continue
            if self.held.pop(webinar_id, None) is None:
                continue   # released meanwhile
            self._acquired_at.pop(webinar_id, None)
            log.error("webinar %s: another process took its media over (this one stalled past its lease)", webinar_id)
            await self.on_lost(webinar_id)

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                await self.renew_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:   # the store is away: try again; a lease lost meanwhile is found then
                log.warning("renewing media leases failed: %s", error)
