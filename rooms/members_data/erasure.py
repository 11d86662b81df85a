"""Deleting one's account: the password confirms it, then the account closes at once and what they wrote is blanked.

In order: (1) the closing transaction (rooms/members_data/store/erasure.py): tokens gone, profile a
tombstone, sole ownerships handed on; (2) `on_closed` listeners end the member's sockets and cached
sessions on every process (the web layer); (3) their files are deleted; (4) room by room their text
is blanked and a `member.erased` event is published; (5) the database drops its copies of the text
(SQLite's full-text index and log). A process that dies after (1) leaves the rest to `finish_unfinished`,
which every process runs periodically (RetentionJob's loop), so the deletion always completes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta

from recordings.storage import MediaStorage
from rooms import metrics
from rooms.accounts import AccountService
from rooms.errors import Conflict, NotFound
from rooms.members_data.store.erasure import ErasureStore, Handover
from rooms.models import Event, Member
from rooms.store.schema import utcnow

log = logging.getLogger(__name__)

UNFINISHED_AFTER = timedelta(minutes=10)   # a deletion still running is never this old
ClosedListener = Callable[[int], Awaitable[None]]
Publish = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class DeletionReport:
    handovers: list[Handover]
    rooms_blanked: int

    def public(self) -> dict:
        return {"rooms_blanked": self.rooms_blanked,
                "handed_over": [{"room": h.room_id, "name": h.room_name, "new_owner": h.new_owner}
                                for h in self.handovers]}


@dataclass
class AccountDeletion:
    store: ErasureStore
    accounts: AccountService
    storage: MediaStorage
    publish: Publish
    on_closed: list[ClosedListener] = field(default_factory=list)

    async def delete(self, member: Member, password: str) -> DeletionReport:
        await self.accounts.confirm_password(member, password)
        unhosted = await self.store.webinars_without_host(member.id)
        if unhosted:
            raise Conflict("you are the only host of " + ", ".join(f"“{t}”" for t in unhosted[:5])
                           + ": add another host or end it first", field="webinars")
        closed = await self.store.close(member.id)
        if closed is None:
            raise NotFound("this account was deleted already")
        metrics.accounts_deleted.inc()
        log.info("member %s deleted their account: %d rooms to blank, %d files", member.id,
                 len(closed.rooms_to_blank), len(closed.files))
        await self._closed(member.id)
        for event in closed.events:
            await self.publish(event)
        await asyncio.to_thread(self._delete_files, closed.files)
        blanked = await self._blank(member.id, closed.rooms_to_blank)
        return DeletionReport(handovers=closed.handovers, rooms_blanked=blanked)

    async def _closed(self, member_id: int) -> None:
        await self.accounts.revoke_member(member_id)
        for listener in self.on_closed:
            try:
                await listener(member_id)
            except Exception:   # the store already refuses their tokens; sockets close at the next check
                log.exception("closing member %s's sessions failed", member_id)

    async def _blank(self, member_id: int, room_ids: list[int]) -> int:
        blanked = 0
        for room_id in room_ids:
            event = await self.store.blank_room(member_id, room_id)
            if event is not None:
                blanked += 1
                await self.publish(event)
        await self.store.finish(member_id)
        await self.store.db.purge_removed_text()
        metrics.erased_rooms.inc(blanked)
        return blanked

    async def finish_unfinished(self) -> int:
        """Completes deletions a process left half way (not those still running); answers how many."""
        pending = await self.store.unfinished(utcnow() - UNFINISHED_AFTER)
        for member_id in pending:
            await self._closed(member_id)
            await self._blank(member_id, await self.store.rooms_to_blank(member_id))
        return len(pending)

    def _delete_files(self, keys: list[str]) -> None:
        for key in keys:
            try:
                self.storage.delete(key)
            except OSError:
                log.exception("a deleted member's file could not be removed (%s)", key.rsplit("/", 1)[0])
