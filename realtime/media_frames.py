"""Socket frames of webinar media (media.publish, media.view, media.watch, media.stop), and the room events the media hub follows."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Awaitable, Callable

import orjson

from realtime import protocol as p
from realtime.connection import Connection
from realtime.hub import Hub
from realtime.ratelimit import TokenBucket
from rooms.errors import RateLimited
from rooms.fanout import dumps
from rooms.management import RoomService
from rooms.models import Member

if TYPE_CHECKING:
    from realtime.gateway import Session

log = logging.getLogger(__name__)

Handler = Callable[..., Awaitable[None]]

# Each offer costs the server a peer connection (keys, ICE, DTLS): a few per second at most.
MEDIA_RATE = 2.0
MEDIA_BURST = 10
# The hub's reader of a room's events on behalf of the media hub; not a member.
_MEDIA_LISTENER = Member(id=0, username="media", display_name="media")


def handlers(session: "Session") -> dict[str, Handler]:
    media = session.services.media
    conn = session.conn
    bucket = TokenBucket(MEDIA_RATE, MEDIA_BURST)

    def take() -> None:
        wait = bucket.take()
        if wait is not None:
            session.strikes += 1
            raise RateLimited("too many media offers", retry_after=wait)

    def push(frame: dict) -> None:
        conn.push(dumps(frame))

    async def on_publish(frame: p.MediaPublish) -> None:
        take()
        answer = await media.publish(conn.member, conn.id, frame.webinar, frame.sdp, frame.kinds, push)
        session.reply({"type": "media.answer", "webinar": frame.webinar, "publisher": conn.member.id,
                       "sdp": answer}, frame.ref)

    async def on_view(frame: p.MediaView) -> None:
        take()
        answer = await media.view(conn.member, conn.id, frame.webinar, frame.publisher, frame.sdp, frame.audio_only)
        session.reply({"type": "media.answer", "webinar": frame.webinar, "publisher": frame.publisher,
                       "sdp": answer}, frame.ref)

    async def on_watch(frame: p.MediaWatch) -> None:
        session.reply(await media.watch(conn.member, conn.id, frame.webinar, push), frame.ref)

    async def on_stop(frame: p.MediaStop) -> None:
        await media.stop_media(conn.member, conn.id, frame.webinar, frame.publisher)
        session.reply({"type": "media.stopped", "webinar": frame.webinar, "publisher": frame.publisher or conn.member.id,
                       "reason": "requested"}, frame.ref)

    return {"media.publish": on_publish, "media.view": on_view, "media.watch": on_watch, "media.stop": on_stop}


class RoomEvents:
    """Follows a room through this process's hub, like a socket would, for the media hub (recordings/media/hub.py)."""

    QUEUE = 1000

    def __init__(self, hub: Hub, rooms: RoomService) -> None:
        self.hub = hub
        self.rooms = rooms

    async def follow(self, room_id: int, on_event: Callable[[dict], None]) -> Callable[[], Awaitable[None]]:
        room = await self.rooms.get(room_id)
        conn = Connection(member=_MEDIA_LISTENER, queue_size=self.QUEUE, on_overflow=self._overflowed)
        await self.hub.subscribe(conn, room, None)
        task = asyncio.create_task(self._read(conn, on_event), name=f"media-events-{room_id}")

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await self.hub.unsubscribe(conn, room_id)

        return stop

    @staticmethod
    def _overflowed(conn: Connection) -> None:
        log.error("media events of room %s fell behind", list(conn.subscriptions))

    @staticmethod
    async def _read(conn: Connection, on_event: Callable[[dict], None]) -> None:
        while True:
            text = await conn.outbox.get()
            try:
                on_event(orjson.loads(text))
            except Exception:
                log.exception("media: a room event could not be handled")
