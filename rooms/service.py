"""Messages in rooms: send = persist, then publish, then acknowledge; edit, delete, history, read markers.

The store is the source of truth: an event is acknowledged only once it is
committed, and publishing is best effort because the hub repairs any gap from
the store. Nothing here knows which database or broker is running.

Before it is stored, a message is composed once (rooms/conversations/compose.py): its
Markdown formatted to safe HTML, its `@username` mentions resolved against the room's
members (`@room` only from owners and moderators), the message it replies to checked.

**Listeners** (`ChatService.listeners`) hear about every message once it is committed
and published, and before its sender's ack: each is awaited with a `MessageCommitted`
(the event, the members it newly mentions with the author left out, whether it
addresses the whole room, and the author of the message it answers). Edits call them
too (`edited=True`), naming only the members the new text adds. Resends of a client id
do not. This is the hook for notifications: a listener should record what is to be done
(a row, a queue entry) and return, because the sender waits for it; a listener that
raises is logged and does not fail the send, which is already durable.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Awaitable, Callable, Protocol, Sequence

from realtime.broker.base import Broker, BrokerUnavailable
from rooms import metrics
from rooms.conversations.compose import Composer
from rooms.conversations.formatting import ChatFormatter
from rooms.errors import BadRequest, Forbidden, NotFound, SlowMode
from rooms.fanout import encode_departure, encode_ephemeral, encode_event, encode_presence, room_channel
from rooms.management import RoomService
from rooms.models import Event, EventKind, Member, Page, Room
from rooms.store import Stores
from rooms.store.messages import AfterInsert
from rooms.store.replica import KnownHeads

log = logging.getLogger(__name__)

DEFAULT_RENDER_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class MessageCommitted:
    """What listeners hear once a message (or an edit) is stored and published."""

    event: Event                    # the `message` event, or the `message.edited` one
    mentioned: tuple[int, ...]      # member ids named (newly, for an edit), the author left out
    room: bool                      # addressed to the whole room with @room (newly, for an edit)
    reply_author: int | None        # the author of the message this one answers, if it is a reply
    edited: bool = False


MessageListener = Callable[[MessageCommitted], Awaitable[None]]


class MessageAttachments(Protocol):
    """What sending and deleting ask of attachments (rooms/attachments/service.py), when they are built."""

    async def for_message(self, member_id: int, room_id: int, ids: Sequence[int]) -> list[dict]: ...

    def claim(self, member_id: int, room_id: int, ids: Sequence[int]) -> AfterInsert: ...

    async def message_deleted(self, room_id: int, seq: int) -> None: ...


class ChatService:
    def __init__(self, stores: Stores, rooms: RoomService, broker: Broker, *,
                 max_body_chars: int, composer: Composer | None = None,
                 on_publish_failure: Callable[[int], None] = lambda room_id: None) -> None:
        self.stores = stores
        self.rooms = rooms
        self.broker = broker
        self.max_body_chars = max_body_chars
        self.composer = composer or Composer(stores, ChatFormatter(DEFAULT_RENDER_TIMEOUT_S))
        self.on_publish_failure = on_publish_failure
        self.attachments: MessageAttachments | None = None
        self.listeners: list[MessageListener] = []
        # Called with each committed event after it is published (notifications look at the room).
        self.on_event: list[Callable[[Event], None]] = []
        # What a read replica must have reached before it answers a subscribed socket's history:
        # every event this process commits (told before its ack), and the hub's live heads.
        self.heads = KnownHeads()
        self.on_event.append(lambda event: self.heads.saw(event.room_id, event.seq))

    def _check_body(self, body: str, attachments: Sequence[int] = ()) -> str:
        if not body.strip() and not attachments:
            raise BadRequest("a message needs some text", field="body")
        if len(body) > self.max_body_chars:
            raise BadRequest(f"at most {self.max_body_chars} characters", field="body")
        return body

    async def send(self, member: Member, room_id: int, client_id: str, body: str,
                   attachments: Sequence[int] = (), reply_to: int | None = None) -> tuple[Event, bool]:
        """Stores the message once per client id and publishes it. Answers (event, created)."""
        self._check_body(body, attachments)
        extra = await self._attaching(member, room_id, client_id, attachments)
        if isinstance(extra, Event):
            return extra, False
        if reply_to is not None:
            # The room first: whether a message exists in a room the member may not use must not leak.
            await self.rooms.writable(member, room_id)
        draft = await self.composer.draft(room_id, member, body, reply_to)
        # One transaction: the membership, mute and ban test, the write guards, slow mode and the
        # idempotent insert.
        try:
            sent = await self.stores.messages.send(room_id, member.id, client_id, draft,
                                                   check=self.rooms.ensure_open,
                                                   checked_kinds=self.rooms.guarded_kinds, **extra)
        except SlowMode:
            metrics.moderation_refusal["slow_mode"].inc()
            raise
        if sent is None:
            await self.rooms.may_write(member, room_id)   # raises the precise refusal
            # Joined (or the mute ended) in between: the retry is as good as the first try.
            sent = await self.stores.messages.send(room_id, member.id, client_id, draft,
                                                   check=self.rooms.ensure_open,
                                                   checked_kinds=self.rooms.guarded_kinds, **extra)
            if sent is None:
                raise Forbidden("join the room first")
        event, created = sent
        if created:
            metrics.messages_stored.inc()
            if reply_to is not None:
                metrics.replies_sent.inc()
            _count_mentions(event.mentions, event.mentions_room)
            await self.publish(event)
            await self._tell(MessageCommitted(event, _others(event.mentions, member.id), event.mentions_room,
                                              draft.parent_author))
        return event, created

    async def _attaching(self, member: Member, room_id: int, client_id: str,
                         ids: Sequence[int]) -> dict | Event:
        """The store's arguments for a message with attachments, or the message already stored under this
        client id (a resend: its attachments were used by the first send, which stands)."""
        if not ids:
            return {}
        if self.attachments is None:
            raise BadRequest("attachments are not available here", field="attachments")
        existing = await self.stores.messages.by_client_id(room_id, member.id, client_id)
        if existing is not None:
            return existing
        return {"attachments": await self.attachments.for_message(member.id, room_id, ids),
                "after_insert": self.attachments.claim(member.id, room_id, ids)}

    async def edit(self, member: Member, room_id: int, target_seq: int, body: str,
                   client_id: str | None = None) -> tuple[Event, bool]:
        """Replaces the author's text. With a client id (an offline outbox), a resend is
        answered with the first edit instead of editing twice. Answers (event, created)."""
        self._check_body(body)
        if (resent := await self._resent(room_id, member, client_id, EventKind.EDIT)) is not None:
            return resent, False
        await self.rooms.may_write(member, room_id)
        target = await self._message(room_id, target_seq)
        if target.sender_id != member.id:
            raise Forbidden("only the author edits a message")
        draft = await self.composer.draft(room_id, member, body)
        event, created = await self.stores.messages.edit(room_id, target_seq, member.id, draft, client_id)
        if created:
            added = tuple(m for m in draft.mentions if m not in target.mentions)
            _count_mentions(added, draft.mentions_room and not target.mentions_room)
            await self.publish(event)
            await self._tell(MessageCommitted(event, _others(added, member.id),
                                              draft.mentions_room and not target.mentions_room, None, edited=True))
        return event, created

    async def delete(self, member: Member, room_id: int, target_seq: int,
                     client_id: str | None = None) -> tuple[Event, bool]:
        if (resent := await self._resent(room_id, member, client_id, EventKind.DELETE)) is not None:
            return resent, False
        room, membership = await self.rooms.writable(member, room_id)
        await self.rooms.ensure_open(room)
        target = await self._message(room_id, target_seq)
        if target.sender_id != member.id and not membership.role.can_moderate:
            raise Forbidden("only the author or a moderator deletes a message")
        return await self._remove(member, target, client_id)

    async def remove_reported(self, moderator: Member, room_id: int, target_seq: int) -> Event | None:
        """A deletion decided on a report (rooms/moderation, which checked who may): None when the
        message is already gone."""
        target = await self.stores.messages.get(room_id, target_seq)
        if target is None or target.kind is not EventKind.MESSAGE or target.deleted:
            return None
        event, _ = await self._remove(moderator, target)
        return event

    async def _remove(self, member: Member, target: Event, client_id: str | None = None) -> tuple[Event, bool]:
        event, created = await self.stores.messages.delete(target.room_id, target.seq, member.id, client_id)
        if created:
            await self.publish(event)
            if target.attachments and self.attachments is not None:
                await self.attachments.message_deleted(target.room_id, target.seq)   # its files go with it
        return event, created

    async def _resent(self, room_id: int, member: Member, client_id: str | None, kind: EventKind) -> Event | None:
        """The change this client id already made, if any: resending it is answered, not applied again."""
        if client_id is None:
            return None
        event = await self.stores.messages.by_client_id(room_id, member.id, client_id)
        if event is not None and event.kind is not kind:
            raise BadRequest("this client_id was used for something else", field="client_id")
        return event

    async def _message(self, room_id: int, seq: int) -> Event:
        event = await self.stores.messages.get(room_id, seq)
        if event is None or event.kind is not EventKind.MESSAGE or event.deleted:
            raise NotFound("no such message", field="target")
        return event

    async def history(self, member: Member, room_id: int, before: int | None, limit: int, *,
                      subscribed: bool = False, thread: int | None = None, mentioning_me: bool = False) -> Page:
        """`subscribed`: the asking socket follows this room live. Its access was checked when it
        subscribed and the hub ends that subscription when the member leaves a private room, so
        what it may receive live it may read back; the check (a round trip) is skipped.
        `thread`: only the replies to that message; `mentioning_me`: only messages naming the member
        (or the whole room)."""
        filters = {"thread": thread, "mentioning": member.id if mentioning_me else None}
        # With a read replica: the seq it must have reached in this room (rooms/store/replica.py).
        floor = self.heads.floor(room_id)
        if subscribed:
            return await self.stores.messages.page(room_id, before, limit, floor=floor, **filters)
        # Otherwise the access rule rides in the page query (one round trip, not two). Only an empty
        # answer, which may mean "not allowed" as well as "nothing there", asks RoomService for the
        # verdict and its precise error, then reads again (access may have changed in between).
        page = await self.stores.messages.page(room_id, before, limit, reader=member.id, floor=floor, **filters)
        if page.events:
            return page
        room, _ = await self.rooms.readable(member, room_id)
        return await self.stores.messages.page(room_id, before, limit, floor=max(floor, room.last_seq), **filters)

    async def thread(self, member: Member, room_id: int, parent_seq: int, before: int | None, limit: int, *,
                     subscribed: bool = False) -> tuple[Event, Page]:
        """A message and a page of its replies (oldest first once reversed, like history)."""
        page = await self.history(member, room_id, before, limit, subscribed=subscribed, thread=parent_seq)
        parent = await self.stores.messages.get(room_id, parent_seq)
        if parent is None or parent.kind is not EventKind.MESSAGE:
            raise NotFound("no such message", field="thread")
        return parent, page

    async def _tell(self, committed: MessageCommitted) -> None:
        for listener in self.listeners:
            try:
                await listener(committed)
            except Exception:
                log.exception("message listener %r failed for room %s seq %s", listener,
                              committed.event.room_id, committed.event.seq)

    async def mark_read(self, member: Member, room_id: int, seq: int) -> int:
        room, _ = await self.rooms.writable(member, room_id)
        return await self.stores.memberships.mark_read(room_id, member.id, min(seq, room.last_seq))

    async def typing(self, member: Member, room_id: int, active: bool) -> None:
        await self.rooms.writable(member, room_id)
        await self.publish_ephemeral(room_id, {"type": "typing", "room": room_id, "member": member.brief(),
                                               "active": active}, skip_member=member.id)

    async def announce_membership(self, room: Room, member: Member, joined: bool) -> None:
        if joined:
            await self.publish_ephemeral(room.id, {"type": "member.joined", "room": room.id,
                                                   "member": member.brief()})
            return
        frame = {"type": "member.left", "room": room.id, "member": member.brief()}
        await self._publish(room.id, encode_departure(frame, member.id), "member.left")

    async def publish(self, event: Event) -> None:
        """Called right after the event's transaction committed: that moment travels with it, and
        each process's hub measures its fan-out latency from there."""
        try:
            await self.broker.publish(room_channel(event.room_id), encode_event(event, time.time()))
        except BrokerUnavailable as error:
            # Durable already; the hub's gap repair delivers it once the broker is back.
            log.warning("publish failed for room %s seq %s: %s", event.room_id, event.seq, error)
            self.on_publish_failure(event.room_id)
        for hook in self.on_event:
            hook(event)

    async def publish_ephemeral(self, room_id: int, frame: dict, skip_member: int | None = None) -> None:
        await self._publish(room_id, encode_ephemeral(frame, skip_member), frame.get("type", ""))

    async def publish_presence(self, room_id: int, frame: dict, member_id: int) -> None:
        await self._publish(room_id, encode_presence(frame, member_id), "presence")

    async def _publish(self, room_id: int, data: str, what: str) -> None:
        try:
            await self.broker.publish(room_channel(room_id), data)
        except BrokerUnavailable as error:
            log.info("ephemeral %s for room %s dropped: %s", what, room_id, error)


def _others(mentioned: tuple[int, ...], author_id: int) -> tuple[int, ...]:
    return tuple(member_id for member_id in mentioned if member_id != author_id)


def _count_mentions(mentioned: tuple[int, ...], room: bool) -> None:
    if mentioned:
        metrics.mentions_by_kind["member"].inc(len(mentioned))
    if room:
        metrics.mentions_by_kind["room"].inc()
