"""This process's live delivery: which sockets follow which rooms, fed from the broker, repaired from the store.

Each room served here has one RoomFeed, an actor that owns the room's state in
this process and handles its inputs one at a time, so delivery order never
depends on task scheduling. A feed knows the highest sequence number it has
delivered (its head). Events arriving from the broker are delivered when they
are next in line, dropped when already delivered, and a jump ahead is filled
from the store first. Each subscription keeps its own cursor, so a socket that
resumes catches up from the store at its own pace and joins the live stream
exactly where its replay ended: nothing missed, nothing twice.

History removed by retention (rooms/members_data) leaves the store's rows starting above a watermark.
Whoever would have been replayed events from below it is told so with one `retention` frame, then goes
on from the watermark: never an error, never a silent gap. `member.erased` and `history.removed` events
empty the feed's memory of recent events, so what they removed is not replayed from there either.

Metrics stay off the per-socket path: a fan-out counts its frames once and observes its latency
once (commit → written to every live socket here), whatever the number of sockets.

A moderation event that bans or kicks someone ends that member's subscriptions here as the feed
delivers it, whether it came from the broker or from gap repair: a ban holds on every process
even when the broker dropped its publish.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections import Counter, deque
from dataclasses import dataclass
from typing import Callable

import orjson

from realtime import log_context
from realtime.broker.base import RESYNC, Broker
from realtime.connection import Connection, Subscription
from rooms import metrics
from rooms.errors import Forbidden, StoreUnavailable
from rooms.fanout import decode, dumps, room_channel, room_of_channel
from rooms.models import EventKind, Room, RoomKind, Visibility
from rooms.moderation.models import ENDS_SUBSCRIPTIONS, Action, moderation_of
from rooms.store import Stores

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Sequenced:
    seq: int
    text: str
    committed_at: float | None = None


@dataclass(frozen=True)
class _Ephemeral:
    skip_member: int
    text: str
    departed_member: int | None = None
    presence: bool = False


@dataclass(frozen=True)
class _Check:
    """Compare with the store and deliver anything missing (after a gap, RESYNC, or a lost publish)."""
    store_head: int | None = None


# Events after which the recent events a feed remembers may hold text that is no longer in the store.
# Structured events put their own fields first, so the type is looked for anywhere: unescaped quotes
# around it cannot come from a member's text, which JSON escapes.
_FORGETTING = ('"type":"member.erased"', '"type":"history.removed"')


def retention_frame(room_id: int, removed_through: int) -> str:
    """Told to a subscription whose next events were removed by retention (docs/protocol.md, "Retention")."""
    metrics.retention_resumes.inc()
    metrics.count_sent("retention")
    return dumps({"type": "retention", "room": room_id, "removed_through": removed_through})


def forget_deleted(frame: dict, target: int) -> bool:
    """Blanks in `frame` what it says of the deleted message `target`; answers whether it changed."""
    if frame["type"] == "message" and frame["seq"] == target:
        for key in ("html", "edited_at", "mentions", "mentions_room", "reactions", "attachments"):
            frame.pop(key, None)
        frame.update(body="", deleted=True)
    elif frame["type"] == "message" and frame.get("reply_to") == target:
        frame["parent"] = {"sender": (frame.get("parent") or {}).get("sender"), "deleted": True}
    elif frame["type"] == "message.edited" and frame.get("target") == target:
        frame.update(body="", html="")
        frame.pop("mentions", None)
        frame.pop("mentions_room", None)
    else:
        return False
    return True


class RoomFeed:
    def __init__(self, room: Room, head: int, hub: "Hub") -> None:
        self.room_id = room.id
        self.public = room.kind is RoomKind.ROOM and room.visibility is Visibility.PUBLIC
        self.head = head
        self.hub = hub
        self.subscriptions: dict[str, Subscription] = {}
        # The newest events as sent, so a burst of resumes (a reconnect storm) replays from memory.
        self.recent: deque[tuple[int, str]] = deque(maxlen=hub.recent_events)
        self.inbox: asyncio.Queue = asyncio.Queue(maxsize=hub.feed_queue_size)
        self.needs_check = False
        # The feed belongs to the process, not to the socket whose subscription happened to create it:
        # a fresh context, so its log lines name the room, not that socket.
        self.task = asyncio.create_task(self._run(), name=f"room-feed-{room.id}", context=contextvars.Context())

    def offer(self, item: _Sequenced | _Ephemeral | _Check) -> None:
        try:
            self.inbox.put_nowait(item)
        except asyncio.QueueFull:
            # The store has every sequenced event: a later check delivers what was dropped here.
            self.needs_check = True

    async def _run(self) -> None:
        log_context.room.set(self.room_id)
        while True:
            item = await self.inbox.get()
            try:
                if isinstance(item, _Sequenced):
                    await self._on_sequenced(item)
                elif isinstance(item, _Ephemeral):
                    self._on_ephemeral(item)
                else:
                    await self._fill(item.store_head)
            except StoreUnavailable:
                self.needs_check = True
                log.warning("room %s: store unavailable during repair; will retry", self.room_id)
            except Exception:
                # The item's type only: its text is a member's message.
                log.exception("room %s: feed failed on a %s item", self.room_id, type(item).__name__.strip("_"))

    async def _on_sequenced(self, item: _Sequenced) -> None:
        if item.seq <= self.head:
            return                      # already delivered (a duplicate publish or a repaired event)
        if item.seq > self.head + 1:
            await self._fill(item.seq - 1)
            if self.head != item.seq - 1:
                self.needs_check = True  # could not close the gap now; never deliver past a hole
                return
        await self._deliver_paced(item.seq, item.text, item.committed_at)

    async def _deliver_paced(self, seq: int, text: str, committed_at: float | None) -> None:
        """Like _deliver, but a large room yields to the loop every `fanout_slice` sockets, so a
        send (and its ack) arriving meanwhile is not queued behind a thousand writers."""
        subscriptions = list(self.subscriptions.values())
        slice_size = self.hub.fanout_slice
        if len(subscriptions) <= slice_size:
            self._deliver(seq, text, committed_at)
            return
        # Head first: whoever subscribes during a pause replays this event (from `recent`) and
        # is not in the list below; whoever left or resubscribed is skipped by the identity check.
        self.head = seq
        self._remember(seq, text)
        written = 0
        for start in range(0, len(subscriptions), slice_size):
            if start:
                await asyncio.sleep(0)
            for sub in subscriptions[start:start + slice_size]:
                if sub.live and sub.delivered == seq - 1 and self.subscriptions.get(sub.conn.id) is sub:
                    if sub.conn.push(text):
                        sub.delivered = seq
                        written += 1
        _fanned_out(text, written, committed_at)
        self._end_subscriptions(text)

    async def _fill(self, upto: int | None) -> None:
        """Delivers events after head from the store, up to `upto` (the store's head when None)."""
        if upto is None:
            upto = (await self.hub.stores.rooms.heads([self.room_id])).get(self.room_id, self.head)
        while self.head < upto:
            events = await self.hub.stores.messages.after(self.room_id, self.head,
                                                          min(self.hub.replay_page, upto - self.head))
            if not events:
                break
            if events[0].seq > self.head + 1:
                self._skip_removed(events[0].seq - 1)
            for event in events:
                # Repaired from the store: its latency counts from the row's time (just before its commit).
                self._deliver(event.seq, dumps(event.frame()), event.created_at.timestamp())

    def _skip_removed(self, removed_through: int) -> None:
        """The store's rows start above this feed's head: retention removed the rest while it lagged."""
        for sub in list(self.subscriptions.values()):
            if sub.live and sub.delivered == self.head:
                sub.conn.push(retention_frame(self.room_id, removed_through))
                sub.delivered = removed_through
        self.head = removed_through
        self.recent.clear()

    def _deliver(self, seq: int, text: str, committed_at: float | None) -> None:
        written = 0
        for sub in list(self.subscriptions.values()):
            if sub.live and sub.delivered == seq - 1:
                if sub.conn.push(text):
                    sub.delivered = seq
                    written += 1
        self.head = seq
        self._remember(seq, text)
        _fanned_out(text, written, committed_at)
        self._end_subscriptions(text)

    def _end_subscriptions(self, text: str) -> None:
        """After a ban or kick is delivered (its target sees it too), the target's subscriptions end."""
        moderation = moderation_of(text)
        if moderation is not None and moderation[0] in ENDS_SUBSCRIPTIONS:
            reason = ENDS_SUBSCRIPTIONS[moderation[0]]
            metrics.subscriptions_ended_by[reason].inc(self._drop_member(moderation[1], reason))

    def _remember(self, seq: int, text: str) -> None:
        if (self.recent and self.recent[-1][0] != seq - 1) or any(kind in text for kind in _FORGETTING):
            self.recent.clear()   # keep the window contiguous, and forget what was just erased or removed
        self.recent.append((seq, text))
        if text.startswith('{"type":"message.deleted"'):
            # A deleted message's text must not be replayed from memory either: not the message,
            # not its edits, not the previews its replies show of it (the store blanks them all).
            target = orjson.loads(text)["target"]
            for index, (old_seq, old_text) in enumerate(self.recent):
                if old_seq >= target:
                    frame = orjson.loads(old_text)
                    if forget_deleted(frame, target):
                        self.recent[index] = (old_seq, dumps(frame))

    def recent_after(self, seq: int, limit: int) -> list[tuple[int, str]] | None:
        """Events after `seq` from memory, or None when the window does not reach back that far."""
        if not self.recent or self.recent[0][0] > seq + 1:
            return None
        start = seq + 1 - self.recent[0][0]
        return [self.recent[i] for i in range(start, min(len(self.recent), start + limit))]

    def _on_ephemeral(self, item: _Ephemeral) -> None:
        if item.departed_member is not None and not self.public:
            self._drop_member(item.departed_member)
        if item.presence and len(self.subscriptions) > self.hub.presence_fanout_max:
            # Every arrival told to everyone is quadratic: a 1,000-member room filling up sent
            # half a million presence frames. Large rooms answer `who` instead.
            return
        written = 0
        for sub in list(self.subscriptions.values()):
            if sub.live and sub.conn.member.id != item.skip_member and sub.conn.push_ephemeral(item.text):
                written += 1
        if written:
            metrics.count_sent(metrics.frame_type_of(item.text), written)

    def _drop_member(self, member_id: int, reason: str = "removed") -> int:
        """A member who left or was removed from a private room, or was banned or kicked from any
        room, stops receiving it at once. Answers how many subscriptions ended."""
        ended = 0
        for conn_id, sub in list(self.subscriptions.items()):
            if sub.conn.member.id == member_id:
                del self.subscriptions[conn_id]
                sub.conn.subscriptions.pop(self.room_id, None)
                sub.conn.push(dumps({"type": "unsubscribed", "room": self.room_id, "reason": reason}))
                metrics.count_sent("unsubscribed")
                ended += 1
        return ended

    async def stop(self) -> None:
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)


class Hub:
    def __init__(self, stores: Stores, broker: Broker, *, replay_page: int = 500,
                 repair_interval_s: float = 2.0, replay_wait_s: float = 30.0,
                 feed_queue_size: int = 10_000, handshake_concurrency: int = 64,
                 recent_events: int = 256, presence_fanout_max: int = 200, fanout_slice: int = 200) -> None:
        self.stores = stores
        self.broker = broker
        self.replay_page = replay_page
        self.repair_interval_s = repair_interval_s
        self.replay_wait_s = replay_wait_s
        self.feed_queue_size = feed_queue_size
        self.recent_events = recent_events
        self.presence_fanout_max = presence_fanout_max
        self.fanout_slice = fanout_slice
        self.feeds: dict[int, RoomFeed] = {}
        self.connections: dict[str, Connection] = {}
        # Broker channels that are not rooms, and who reads them (the media relay's per-process channel).
        self.channel_readers: dict[str, Callable[[str], None]] = {}
        # Told when the broker may have lost messages (RESYNC): what only pub/sub tells (token
        # revocations) cannot be repaired from the store the way rooms are.
        self.on_resync: list[Callable[[], None]] = []
        # Each member's sockets on this process: frames for a member (notifications) go straight there.
        self.by_member: dict[int, set[Connection]] = {}
        self.admission = asyncio.Semaphore(handshake_concurrency)
        self._feed_locks: dict[int, asyncio.Lock] = {}
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._consume(), name="hub-consume"),
                       asyncio.create_task(self._check_periodically(), name="hub-check")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for feed in list(self.feeds.values()):
            await feed.stop()
        self.feeds.clear()

    # Connections and subscriptions.

    def register(self, conn: Connection) -> None:
        self.connections[conn.id] = conn
        metrics.open_sockets.inc()
        self.by_member.setdefault(conn.member.id, set()).add(conn)

    def close_member(self, member_id: int, code: int, reason: str) -> int:
        """Closes every socket of the member on this process; answers how many."""
        closing = [conn for conn in list(self.connections.values()) if conn.member.id == member_id]
        for conn in closing:
            conn.close(code, reason)
        return len(closing)

    def member_ids(self) -> set[int]:
        return {conn.member.id for conn in list(self.connections.values())}

    async def unregister(self, conn: Connection) -> None:
        if self.connections.pop(conn.id, None) is not None:
            metrics.open_sockets.dec()
        mine = self.by_member.get(conn.member.id)
        if mine is not None:
            mine.discard(conn)
            if not mine:
                del self.by_member[conn.member.id]
        for room_id in list(conn.subscriptions):
            await self.unsubscribe(conn, room_id)

    async def subscribe(self, conn: Connection, room: Room, since: int | None) -> int:
        """Replays what the connection missed after `since`, then makes it live. Answers the
        sequence number it is live from. Authorization is the caller's job."""
        feed = await self._feed(room)
        previous = conn.subscriptions.pop(room.id, None)
        if previous is not None:
            feed.subscriptions.pop(conn.id, None)
        if since is None:
            # A fresh subscription starts at the store's head as the caller's access check read it
            # (room.last_seq, the same row: no second round trip), or at what this feed has already
            # delivered if that is newer; anything committed in between is replayed or delivered below.
            start = max(room.last_seq, feed.head)
        elif since > feed.head:
            # A cursor ahead of this feed is checked against the store's head (it may be from the
            # future, e.g. a restored database).
            start = min(since, room.last_seq)
        else:
            start = since
        if start < room.removed_through:
            conn.push(retention_frame(room.id, room.removed_through))
            start = room.removed_through
        sub = Subscription(conn=conn, room_id=room.id, delivered=start)
        conn.subscriptions[room.id] = sub
        feed.subscriptions[conn.id] = sub
        replayed: Counter[str] = Counter()
        # From here on the feed ends this subscription if the member is banned or kicked; what it
        # delivered before, since the caller checked access (room.last_seq), is looked at below.
        delivered_before = feed.head
        try:
            if delivered_before > room.last_seq:
                await self._refuse_if_ended(feed, room, conn, delivered_before)
            while True:
                # No await between this check and going live: the feed cannot deliver in between.
                if sub.delivered >= feed.head:
                    sub.live = True
                    return sub.delivered
                backlog = feed.recent_after(sub.delivered, self.replay_page)
                if backlog is None:
                    events = await self.stores.messages.after(room.id, sub.delivered, self.replay_page)
                    backlog = [(event.seq, dumps(event.frame())) for event in events]
                    if backlog and backlog[0][0] > sub.delivered + 1:
                        # Retention removed history since the caller read the room's watermark.
                        if not await conn.push_waiting(retention_frame(room.id, backlog[0][0] - 1),
                                                       self.replay_wait_s):
                            return sub.delivered
                        sub.delivered = backlog[0][0] - 1
                if not backlog:
                    # The store has nothing newer yet the feed is ahead: cannot happen unless the
                    # feed delivered from a newer store head; go live from there.
                    sub.delivered = max(sub.delivered, feed.head)
                    continue
                if conn.subscriptions.get(room.id) is not sub:
                    return sub.delivered
                if conn.push_many_now([text for _, text in backlog]):
                    sub.delivered = backlog[-1][0]
                    for _, text in backlog:
                        replayed[metrics.frame_type_of(text)] += 1
                    continue
                for seq, text in backlog:
                    if conn.subscriptions.get(room.id) is not sub:
                        return sub.delivered
                    if not await conn.push_waiting(text, self.replay_wait_s):
                        return sub.delivered
                    sub.delivered = seq
                    replayed[metrics.frame_type_of(text)] += 1
        except BaseException:
            await self.unsubscribe(conn, room.id)
            raise
        finally:
            for frame_type, n in replayed.items():
                metrics.count_sent(frame_type, n)

    async def _refuse_if_ended(self, feed: RoomFeed, room: Room, conn: Connection, upto: int) -> None:
        """A ban (or a kick from a private room) of this member between the caller's access check and
        this subscription: refused, as if the check had come after it."""
        window = feed.recent_after(room.last_seq, upto - room.last_seq)
        if window is not None and window and window[-1][0] >= upto:
            texts = [text for seq, text in window if seq <= upto]
        else:
            events = await self.stores.messages.after(room.id, room.last_seq, self.replay_page,
                                                      kinds=(EventKind.MODERATION,), upto=upto)
            texts = [dumps(event.frame()) for event in events]
        ended = False
        for text in texts:
            moderation = moderation_of(text)
            if moderation is None or moderation[1] != conn.member.id:
                continue
            action = moderation[0]
            if action == Action.BAN.value or (action == Action.KICK.value and not feed.public):
                ended = True
            elif action == Action.UNBAN.value:
                ended = False
        if ended:
            raise Forbidden("you can no longer read this room")

    async def unsubscribe(self, conn: Connection, room_id: int) -> bool:
        sub = conn.subscriptions.pop(room_id, None)
        feed = self.feeds.get(room_id)
        if feed is not None:
            feed.subscriptions.pop(conn.id, None)
            if not feed.subscriptions:
                await self._retire(feed)
        return sub is not None

    async def _feed(self, room: Room) -> RoomFeed:
        feed = self.feeds.get(room.id)
        if feed is not None:
            return feed
        lock = self._feed_locks.setdefault(room.id, asyncio.Lock())
        async with lock:
            feed = self.feeds.get(room.id)
            if feed is None:
                # Subscribe before reading the head: whatever is published in between arrives
                # via the broker and is dropped or delivered by sequence number.
                await self.broker.subscribe(room_channel(room.id))
                head = (await self.stores.rooms.heads([room.id]))[room.id]
                feed = self.feeds[room.id] = RoomFeed(room, head, self)
        return feed

    async def _retire(self, feed: RoomFeed) -> None:
        if self.feeds.get(feed.room_id) is feed:
            del self.feeds[feed.room_id]
            self._feed_locks.pop(feed.room_id, None)
            await self.broker.unsubscribe(room_channel(feed.room_id))
            await feed.stop()

    def head_of(self, room_id: int) -> int:
        """The highest seq this process has delivered in the room (0 when it does not serve it)."""
        feed = self.feeds.get(room_id)
        return feed.head if feed is not None else 0

    # Inputs: the broker, periodic checks, and local hints.

    def poke(self, room_id: int) -> None:
        """Something was stored for this room that the broker may not bring: check the store."""
        feed = self.feeds.get(room_id)
        if feed is not None:
            feed.offer(_Check())

    async def _consume(self) -> None:
        while True:
            item = await self.broker.next_published()
            if item is RESYNC:
                for listener in self.on_resync:
                    listener()
                await self.check_all()
                continue
            room_id = room_of_channel(item.channel)
            if room_id is None:
                self._read_channel(item.channel, item.data)
                continue
            feed = self.feeds.get(room_id)
            if feed is None:
                continue
            try:
                envelope = decode(item.data)
            except ValueError:
                log.warning("hub: undecodable broker message on %s", item.channel)
                continue
            if envelope.kind == "E":
                feed.offer(_Sequenced(envelope.number, envelope.frame_text, envelope.committed_at))
            elif envelope.kind == "L":
                feed.offer(_Ephemeral(0, envelope.frame_text, departed_member=envelope.number))
            elif envelope.kind == "P":
                feed.offer(_Ephemeral(0, envelope.frame_text, presence=True))
            else:
                feed.offer(_Ephemeral(envelope.number, envelope.frame_text))

    def _read_channel(self, channel: str, data: str) -> None:
        reader = self.channel_readers.get(channel)
        if reader is None:
            return
        try:
            reader(data)
        except Exception:
            log.exception("hub: the reader of %s failed", channel)

    def push_to_member(self, member_id: int, text: str) -> int:
        """Queues a frame on every socket of the member on this process. Answers how many."""
        conns = self.by_member.get(member_id, ())
        for conn in conns:
            conn.push_ephemeral(text)
        return len(conns)

    async def check_all(self) -> None:
        """One query for the heads of every room served here; feeds that are behind catch up."""
        if not self.feeds:
            return
        heads = await self.stores.rooms.heads(list(self.feeds))
        for room_id, head in heads.items():
            feed = self.feeds.get(room_id)
            if feed is not None and (head > feed.head or feed.needs_check):
                feed.needs_check = False
                feed.offer(_Check(head))

    async def _check_periodically(self) -> None:
        while True:
            await asyncio.sleep(self.repair_interval_s)
            try:
                await self.check_all()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("hub: periodic check failed")


def _fanned_out(text: str, written: int, committed_at: float | None) -> None:
    """One event's fan-out on this process is done: its frames counted, its latency observed, once."""
    if not written:
        return
    metrics.count_sent(metrics.frame_type_of(text), written)
    if committed_at is not None:
        metrics.fanout_seconds.observe(max(0.0, time.time() - committed_at))
