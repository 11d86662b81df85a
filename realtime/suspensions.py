"""Ends a suspended (or deleted) member's sockets on this process: at once on the broker's control message, and
from the store every REPAIR_INTERVAL_S when that message was lost (Redis down or restarting).

Suspension is per member, not per room, so it travels on the control channel rather than on a
room's sequence; the store stays the authority (members.suspended_at, erased_at). A pass asks it
only for the members suspended or deleted since the previous pass (with an overlap that covers
clocks of other hosts a little apart), a handful of rows whatever the number of sockets, and ends
those of them connected here or holding a recently verified token. A member suspended before this
process started never got a socket here: authentication refuses them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from realtime import protocol as p
from realtime.broker.base import Broker, BrokerUnavailable
from realtime.hub import Hub
from rooms import metrics
from rooms.accounts import AccountService
from rooms.errors import StoreUnavailable
from rooms.fanout import CONTROL_CHANNEL, ERASED, SUSPENDED, decode_control, dumps, encode_control
from rooms.moderation.store import ModerationStores
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

CLOSE_REASON = "account suspended"
# A deleted account (rooms/members_data) ends the same way, on the same channel, with its own words.
ENDINGS = {SUSPENDED: ("this account is suspended", CLOSE_REASON),
           ERASED: ("this account was deleted", "account deleted")}
MembersSince = Callable[[datetime], Awaitable[set[int]]]
# How far back each pass looks beyond the previous one: suspensions are stamped by the clock of the
# process that made them, which may run a little behind this one's.
CLOCK_OVERLAP = timedelta(seconds=60)


class SuspensionEnforcer:
    def __init__(self, hub: Hub, broker: Broker, accounts: AccountService, stores: ModerationStores,
                 interval_s: float, erased_since: MembersSince | None = None) -> None:
        self.hub = hub
        self.erased_since = erased_since
        self.checked_from = utcnow() - CLOCK_OVERLAP
        self.broker = broker
        self.accounts = accounts
        self.stores = stores
        self.interval_s = interval_s
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        # The control channel is not a room's: the hub hands what arrives on it to this reader.
        self.hub.channel_readers[CONTROL_CHANNEL] = self.on_control
        await self.broker.subscribe(CONTROL_CHANNEL)
        self._task = asyncio.create_task(self._check_periodically(), name="suspension-check")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def suspended(self, member_id: int) -> None:
        """A member was just suspended through this process: close here, and tell every other process."""
        await self._end_everywhere(member_id, SUSPENDED)

    async def erased(self, member_id: int) -> None:
        """A member deleted their account through this process: the same, with its own close reason."""
        await self._end_everywhere(member_id, ERASED)

    async def _end_everywhere(self, member_id: int, what: str) -> None:
        self.enforce(member_id, what)
        try:
            await self.broker.publish(CONTROL_CHANNEL, encode_control(what, member_id))
        except BrokerUnavailable as error:
            # The other processes find out from the store within REPAIR_INTERVAL_S.
            log.warning("%s of member %s not announced: %s", what, member_id, error)

    def on_control(self, data: str) -> None:
        what, member_id = decode_control(data)
        if what in ENDINGS:
            self.enforce(member_id, what)

    def enforce(self, member_id: int, what: str = SUSPENDED) -> None:
        message, reason = ENDINGS[what]
        self.accounts.forget_member(member_id)
        told = 0
        for conn in [c for c in list(self.hub.connections.values()) if c.member.id == member_id]:
            told += conn.push(dumps({"type": "error", "code": "unauthenticated", "message": message}))
        metrics.count_sent("error", told)
        closed = self.hub.close_member(member_id, p.CLOSE_UNAUTHENTICATED, reason)
        if closed:
            log.info("member %s %s: closed %d sockets", member_id, what, closed)
            if what == SUSPENDED:
                metrics.suspended_sockets_closed.inc(closed)

    async def check(self) -> None:
        """One pass: the members suspended or deleted lately who are connected here (or whose tokens are cached)."""
        started = utcnow()
        suspended = await self.stores.accounts.suspended_since(self.checked_from)
        erased = await self.erased_since(self.checked_from) if self.erased_since is not None else set()
        if suspended or erased:
            here = self.hub.member_ids() | self.accounts.cached_member_ids()
            for member_id in suspended & here:
                self.enforce(member_id)
            for member_id in erased & here:
                self.enforce(member_id, ERASED)
        self.checked_from = started - CLOCK_OVERLAP   # moves on only after a pass that reached the store

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("suspension check failed")
