"""The notifier: turns each room's sequence into notifications, durably, outside the send path.

A room's sequence is gap-free, so one cursor per room (notifier_cursors.notified_seq) says exactly
what has been looked at. A pass reads the events after the cursor, works out who they concern, and in
ONE transaction advances the cursor with a compare-and-set (UPDATE … WHERE notified_seq = what it
read) and inserts the notifications (unique per member, room, seq and kind) with their push jobs and
e-mail batch entries. When several processes try the same range, exactly one commits; the others
change nothing. A pass is started in-process right after a commit (`poke`, the fast path) and for
every room whose last_seq is ahead of its cursor, periodically and at start-up (the repair after a
crash). Only then are live frames published: a frame lost on the way costs nothing, the inbox has it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Awaitable, Callable

from sqlalchemy import select

from realtime.broker.base import Broker
from rooms import metrics
from rooms.errors import StoreUnavailable
from rooms.mail.schema import notification_addresses
from rooms.models import Event, Room, RoomKind
from rooms.notifications.live import publish_to_member
from rooms.notifications.models import BATCHED_KINDS, Channel, Kind, Notification, Preferences
from rooms.notifications.recipients import Planned, RoomPeople, concerned, needs_people
from rooms.notifications.settings import NotificationSettings
from rooms.notifications.store import NotificationStores
from rooms.store import Stores
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Which of these members have a socket open and are looking (they need no push).
Active = Callable[[list[int]], Awaitable[set[int]]]


class Notifier:
    def __init__(self, stores: Stores, nstores: NotificationStores, broker: Broker, settings: NotificationSettings,
                 active: Active, on_push: Callable[[], None] = lambda: None,
                 on_email: Callable[[], None] = lambda: None) -> None:
        self.stores = stores
        self.nstores = nstores
        self.broker = broker
        self.settings = settings
        self.active = active
        self.on_push = on_push
        self.on_email = on_email
        self._poked: set[int] = set()
        self._wake = asyncio.Event()
        # {room: (seen, to)}: the last run of quiet messages whose commit moved the cursor itself.
        self._moved: dict[int, tuple[int, int]] = {}

    def moved(self, room_id: int, seen: int, to: int) -> None:
        """A batch of sends moved this room's cursor from `seen` to `to` (rooms/notifications/quiet.py)."""
        self._moved[room_id] = (seen, to)

    def committed(self, event: Event) -> None:
        """An event was committed: look at it, unless its own commit already moved the cursor past it."""
        seen, to = self._moved.get(event.room_id, (0, 0))
        if not seen < event.seq <= to:
            self.poke(event.room_id)

    @property
    def pending(self) -> frozenset[int]:
        """Rooms poked and not yet looked at."""
        return frozenset(self._poked)

    def poke(self, room_id: int) -> None:
        """Something was committed in this room: look at it soon (without waiting for the sweep)."""
        self._poked.add(room_id)
        self._wake.set()

    async def run(self) -> None:
        """Fast path and sweep, forever. The first sweep runs at once: the repair after a restart."""
        sweep_due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                if loop.time() >= sweep_due:
                    sweep_due = loop.time() + self.settings.sweep_s
                    self._poked.update(await self.nstores.cursors.behind())
                    metrics.notifier_lag.set(await self.nstores.cursors.lag())
                while self._poked:
                    if self.settings.gather_s > 0:
                        await asyncio.sleep(self.settings.gather_s)
                    poked, self._poked = self._poked, set()
                    try:
                        await self.catch_up_rooms(sorted(poked))
                    except BaseException:
                        # Still to look at: the retry a second from now, not the next sweep's.
                        self._poked |= poked
                        raise
            except StoreUnavailable:
                await asyncio.sleep(1)
                continue   # the rooms it had taken are still poked: retry them now, without waiting
            except Exception:
                log.exception("notifier pass failed")
                await asyncio.sleep(1)
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, sweep_due - loop.time()))
            except asyncio.TimeoutError:
                pass
            self._wake.clear()

    async def catch_up_rooms(self, room_ids: list[int]) -> None:
        """Many rooms in one pass. Most new events concern nobody (plain messages in a room where
        nobody chose a notification level): those rooms' cursors move together, in one transaction,
        after three reads for all of them (not the events themselves: one aggregate row per room says
        whether any may concern someone, MessageStore.attention); the rest are processed one room at
        a time (catch_up). Before, every poked room cost two write transactions (each a WAL sync on
        the embedded default) and five reads, which made the notifier most of a busy server's CPU."""
        positions = {room_id: position for room_id, position in (await self.nstores.cursors.positions(room_ids)).items()
                     if position.seen < position.room.last_seq}
        if not positions:
            return
        attention = await self.stores.messages.attention({room_id: p.seen for room_id, p in positions.items()})
        with_levels = await self.nstores.preferences.rooms_with_levels(list(positions))
        quiet: dict[int, tuple[int, int]] = {}
        maybe: dict[int, int] = {}
        for room_id, position in positions.items():
            last, concerns = attention.get(room_id, (None, True))
            if last is None or concerns or position.room.kind is RoomKind.DM or room_id in with_levels:
                maybe[room_id] = position.seen
            else:
                quiet[room_id] = (position.seen, last)
        if quiet:
            await self.nstores.cursors.advance_many(quiet)
        if not maybe:
            return
        # Only the rooms where something may concern someone are read event by event.
        events = await self.stores.messages.after_rooms(maybe, self.settings.page)
        busy: list[tuple[datetime | None, int]] = []
        for room_id in maybe:
            got = events.get(room_id, [])
            busy.append((got[0].created_at if got else None, room_id))
        # In the order things happened, so a member's inbox (newest first) reads as the rooms went.
        for _, room_id in sorted(busy, key=lambda item: (item[0] is None, item[0] or _EPOCH, item[1])):
            await self.catch_up(room_id)

    async def catch_up(self, room_id: int) -> int:
        """Processes the room up to its head. Answers how many notifications this process created."""
        created = 0
        while True:
            seen, head = await self.nstores.cursors.position(room_id)
            if seen >= head:
                return created
            events = await self.stores.messages.after(room_id, seen, min(self.settings.page, head - seen))
            room = await self.stores.rooms.get(room_id)
            if not events or room is None:
                return created
            made = await self._commit(room, seen, events)
            if made is None:
                return created   # another process took this range: it carries on from there
            created += len(made)

    async def _commit(self, room: Room, seen: int, events: list[Event]) -> list[Notification] | None:
        planned = await self._plan(room, events)
        member_ids = sorted({p.member_id for p in planned})
        prefs = await self.nstores.preferences.get_many(member_ids)
        active = await self.active(member_ids) if member_ids else set()
        now = utcnow()
        async with self.stores.db.write() as conn:
            if not await self.nstores.cursors.advance(conn, room.id, seen, events[-1].seq):
                return None
            ids = await self.nstores.inbox.create_in(conn, [dict(
                member_id=p.member_id, kind=p.kind.value, room_id=room.id, seq=p.event.seq, actor_id=p.event.sender_id,
                excerpt=p.excerpt, data=p.data or None, created_at=now) for p in planned])
            made = await self.nstores.inbox.get_many(ids, conn)
            await self._channels_in(conn, made, prefs, active, now)
        for notification in made:
            metrics.notifications_created.labels(notification.kind.value).inc()
        await self.announce(made)
        return made

    async def _plan(self, room: Room, events: list[Event]) -> list[Planned]:
        levels = await self.nstores.preferences.levels(room.id)
        if not needs_people(room, events, bool(levels)):
            return []
        members = await self.stores.memberships.members_of(room.id)
        people = RoomPeople(roles={m.id: role for m, role in members}, levels=levels)
        return [p for event in events for p in concerned(room, event, people)]

    async def _channels_in(self, conn, made: list[Notification], prefs: dict[int, Preferences],
                           active: set[int], now) -> None:
        """Push jobs and e-mail batch entries for what was just created, as each member chose."""
        await add_channels(conn, self.nstores, self.settings, made, prefs, active, now)
        if made:
            self.on_push()
            self.on_email()

    async def announce(self, made: list[Notification]) -> None:
        """The live `notification` frame to each member's sockets, on whichever process they are."""
        if not made:
            return
        unread = {member_id: (await self.nstores.inbox.counts(member_id))[0]
                  for member_id in {n.member_id for n in made}}
        for notification in made:
            await publish_to_member(self.broker, notification.member_id, {
                "type": "notification", "notification": notification.public(),
                "unread": unread[notification.member_id]})


async def add_channels(conn, nstores: NotificationStores, settings: NotificationSettings,
                       made: list[Notification], prefs: dict[int, Preferences], active: set[int], now) -> None:
    """Shared by the notifier and the webinar jobs: push jobs and e-mail entries in the caller's transaction."""
    if not made:
        return
    members = sorted({n.member_id for n in made})
    subscriptions = await nstores.push.subscription_ids_in(conn, members)
    addresses = {row.member_id for row in (await conn.execute(
        select(notification_addresses.c.member_id).where(notification_addresses.c.member_id.in_(members),
                                                         notification_addresses.c.verified_at.is_not(None)))).all()}
    push_rows, email_rows = [], []
    for n in made:
        chosen = prefs.get(n.member_id) or Preferences()
        quiet = chosen.quiet_at(now) and not n.kind.urgent
        if chosen.wants(n.kind, Channel.PUSH) and not quiet and n.member_id not in active:
            push_rows += [dict(notification_id=n.id, subscription_id=s, created_at=now, due_at=now, attempts=0)
                          for s in subscriptions.get(n.member_id, ())]
        if n.kind in BATCHED_KINDS and chosen.wants(n.kind, Channel.EMAIL) and n.member_id in addresses:
            if n.kind.urgent:
                due = now
            else:
                due = chosen.after_quiet(now + timedelta(seconds=settings.email_delay(chosen.email_timing)))
            email_rows.append(dict(notification_id=n.id, member_id=n.member_id, due_at=due, state="pending"))
    await nstores.push.create_in(conn, push_rows)
    await nstores.emails.create_in(conn, email_rows)


__all__ = ["Notifier", "add_channels", "Kind"]
