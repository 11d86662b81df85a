"""Situation reports: coordinators publish numbered versions; the newest is pinned, all are kept."""

from __future__ import annotations

import difflib

from rooms.emergency.models import Sitrep
from rooms.emergency.rooms import EmergencyRooms
from rooms.emergency.settings import EmergencySettings
from rooms.emergency.store import EmergencyStores
from rooms.errors import BadRequest, NotFound
from rooms.models import Member
from rooms.service import ChatService

MAX_TITLE = 200


class SitrepService:
    def __init__(self, rooms: EmergencyRooms, stores: EmergencyStores, chat: ChatService,
                 settings: EmergencySettings) -> None:
        self.rooms = rooms
        self.store = stores.sitreps
        self.chat = chat
        self.settings = settings

    async def publish(self, member: Member, room_id: int, title: str, body: str, base_version: int) -> Sitrep:
        """A new version on top of `base_version` (0 for the first); Conflict if that is no longer the newest."""
        title = title.strip()
        if not title or len(title) > MAX_TITLE:
            raise BadRequest(f"1 to {MAX_TITLE} characters", field="title")
        if not body.strip() or len(body) > self.settings.sitrep_max_chars:
            raise BadRequest(f"1 to {self.settings.sitrep_max_chars} characters", field="body")
        await self.rooms.coordinator_seat(member, room_id)
        sitrep, event = await self.store.publish(room_id, member.id, title, body, base_version)
        await self.chat.publish(event)
        return sitrep

    async def current(self, member: Member, room_id: int) -> Sitrep | None:
        await self.rooms.seat(member, room_id)
        return await self.store.current(room_id)

    async def version(self, member: Member, room_id: int, version: int) -> Sitrep:
        await self.rooms.seat(member, room_id)
        sitrep = await self.store.get(room_id, version)
        if sitrep is None:
            raise NotFound("no such version", field="version")
        return sitrep

    async def history(self, member: Member, room_id: int) -> list[tuple[Sitrep, str]]:
        """Every version, newest first, each with what changed from the one before (a unified diff)."""
        await self.rooms.seat(member, room_id)
        versions = await self.store.history(room_id)
        changes = []
        for newer, older in zip(versions, versions[1:] + [None]):
            before = f"# {older.title}\n\n{older.body}" if older else ""
            after = f"# {newer.title}\n\n{newer.body}"
            diff = difflib.unified_diff(before.splitlines(), after.splitlines(),
                                        f"version {older.version if older else 0}", f"version {newer.version}",
                                        lineterm="")
            changes.append((newer, "\n".join(diff)))
        return changes
