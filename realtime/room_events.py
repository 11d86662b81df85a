"""Follows a room's events through this process's hub, as a socket would, for parts of the server that react to them (the media hub)."""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

import orjson

from realtime.connection import Connection
from realtime.hub import Hub
from rooms.management import RoomService
from rooms.models import Member

log = logging.getLogger(__name__)

# The hub's reader of a room's events on behalf of the media hub; not a member.
_MEDIA_LISTENER = Member(id=0, username="media", display_name="media")


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
