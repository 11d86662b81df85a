"""Messages in rooms: send = persist, then publish, then acknowledge; edit, delete, history, read markers.

The store is the source of truth: an event is acknowledged only once it is
committed, and publishing is best effort because the hub repairs any gap from
the store. Nothing here knows which database or broker is running.
"""

from __future__ import annotations

import logging
import time
from typing import Callable, Protocol, Sequence

from realtime.broker.base import Broker, BrokerUnavailable
from rooms import metrics
from rooms.errors import BadRequest, Forbidden, NotFound
from rooms.fanout import encode_departure, encode_ephemeral, encode_event, encode_presence, room_channel
from rooms.management import RoomService
from rooms.models import Event, EventKind, Member, Page, Room
from rooms.store import Stores
from rooms.store.messages import AfterInsert

log = logging.getLogger(__name__)


class MessageAttachments(Protocol):
    """What sending and deleting ask of attachments (rooms/attachments/service.py), when they are built."""

    async def for_message(self, member_id: int, room_id: int, ids: Sequence[int]) -> list[dict]: ...

    def claim(self, member_id: int, room_id: int, ids: Sequence[int]) -> AfterInsert: ...

    async def message_deleted(self, room_id: int, seq: int) -> None: ...


class ChatService:
    def __init__(self, stores: Stores, rooms: RoomService, broker: Broker, *,
                 max_body_chars: int, on_publish_failure: Callable[[int], None] = lambda room_id: None) -> None:
        self.stores = stores
        self.rooms = rooms
        self.broker = broker
        self.max_body_chars = max_body_chars
        self.on_publish_failure = on_publish_failure
        self.attachments: MessageAttachments | None = None

    def _check_body(self, body: str, attachments: Sequence[int] = ()) -> str:
        if not body.strip() and not attachments:
            raise BadRequest("a message needs some text", field="body")
        if len(body) > self.max_body_chars:
            raise BadRequest(f"at most {self.max_body_chars} characters", field="body")
        return body

    async def send(self, member: Member, room_id: int, client_id: str, body: str,
                   attachments: Sequence[int] = ()) -> tuple[Event, bool]:
        """Stores the message once per client id and publishes it. Answers (event, created)."""
        self._check_body(body, attachments)
        extra = await self._attaching(member, room_id, client_id, attachments)
        if isinstance(extra, Event):
            return extra, False
        # One transaction: the membership test, the write guards and the idempotent insert.
        sent = await self.stores.messages.send(room_id, member.id, client_id, body,
                                               check=self.rooms.ensure_open, **extra)
        if sent is None:
            await self.rooms.writable(member, room_id)   # raises the precise refusal
            # Joined in between: the retry is as good as the first try.
            sent = await self.stores.messages.send(room_id, member.id, client_id, body,
                                                   check=self.rooms.ensure_open, **extra)
            if sent is None:
                raise Forbidden("join the room first")
        event, created = sent
        if created:
            metrics.messages_stored.inc()
            await self.publish(event)
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

    async def edit(self, member: Member, room_id: int, target_seq: int, body: str) -> Event:
        self._check_body(body)
        room, _ = await self.rooms.writable(member, room_id)
        await self.rooms.ensure_open(room)
        target = await self._message(room_id, target_seq)
        if target.sender_id != member.id:
            raise Forbidden("only the author edits a message")
        event = await self.stores.messages.edit(room_id, target_seq, member.id, body)
        await self.publish(event)
        return event

    async def delete(self, member: Member, room_id: int, target_seq: int) -> Event:
        room, membership = await self.rooms.writable(member, room_id)
        await self.rooms.ensure_open(room)
        target = await self._message(room_id, target_seq)
        if target.sender_id != member.id and not membership.role.can_moderate:
            raise Forbidden("only the author or a moderator deletes a message")
        event = await self.stores.messages.delete(room_id, target_seq, member.id)
        await self.publish(event)
        if target.attachments and self.attachments is not None:
            await self.attachments.message_deleted(room_id, target_seq)   # its files go with it
        return event

    async def _message(self, room_id: int, seq: int) -> Event:
        event = await self.stores.messages.get(room_id, seq)
        if event is None or event.kind is not EventKind.MESSAGE or event.deleted:
            raise NotFound("no such message", field="target")
        return event

    async def history(self, member: Member, room_id: int, before: int | None, limit: int, *,
                      subscribed: bool = False) -> Page:
        """`subscribed`: the asking socket follows this room live. Its access was checked when it
        subscribed and the hub ends that subscription when the member leaves a private room, so
        what it may receive live it may read back; the check (a round trip) is skipped."""
        if subscribed:
            return await self.stores.messages.page(room_id, before, limit)
        # Otherwise the access rule rides in the page query (one round trip, not two). Only an empty
        # answer, which may mean "not allowed" as well as "nothing there", asks RoomService for the
        # verdict and its precise error, then reads again (access may have changed in between).
        page = await self.stores.messages.page(room_id, before, limit, reader=member.id)
        if page.events:
            return page
        await self.rooms.readable(member, room_id)
        return await self.stores.messages.page(room_id, before, limit)

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

    async def publish_ephemeral(self, room_id: int, frame: dict, skip_member: int | None = None) -> None:
        await self._publish(room_id, encode_ephemeral(frame, skip_member), frame.get("type", ""))

    async def publish_presence(self, room_id: int, frame: dict, member_id: int) -> None:
        await self._publish(room_id, encode_presence(frame, member_id), "presence")

    async def _publish(self, room_id: int, data: str, what: str) -> None:
        try:
            await self.broker.publish(room_channel(room_id), data)
        except BrokerUnavailable as error:
            log.info("ephemeral %s for room %s dropped: %s", what, room_id, error)
