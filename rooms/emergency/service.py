"""Everything emergency rooms need in one process, built from the chat core's parts, and their background jobs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from rooms.emergency.alerts import AlertService
from rooms.emergency.audit import AuditService
from rooms.emergency.digest import DigestService
from rooms.emergency.fourw import FourWService
from rooms.emergency.rooms import EmergencyRooms
from rooms.emergency.settings import EmergencySettings
from rooms.emergency.sitreps import SitrepService
from rooms.emergency.store import EmergencyStores
from rooms.errors import StoreUnavailable
from rooms.service import ChatService
from rooms.store import Stores

log = logging.getLogger(__name__)


@dataclass
class EmergencyServices:
    settings: EmergencySettings
    stores: EmergencyStores
    rooms: EmergencyRooms
    alerts: AlertService
    sitreps: SitrepService
    fourw: FourWService
    digest: DigestService
    audit: AuditService
    _tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    def build(cls, stores: Stores, chat: ChatService, settings: EmergencySettings) -> "EmergencyServices":
        estores = EmergencyStores.over(stores)
        rooms = EmergencyRooms(stores, estores, chat)
        return cls(settings=settings, stores=estores, rooms=rooms,
                   alerts=AlertService(rooms, estores, chat, settings),
                   sitreps=SitrepService(rooms, estores, chat, settings),
                   fourw=FourWService(rooms, estores, chat, settings),
                   digest=DigestService(rooms, stores, estores), audit=AuditService(rooms, stores))

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(self._every(self.alerts.remind_due), name="alert-reminders")]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _every(self, job: Callable[[], Awaitable[int]]) -> None:
        """Runs one pass of a job every job_interval_s; work is claimed in the database, so a pass
        that fails (or a process that dies) leaves the work for the next pass or another process."""
        while True:
            await asyncio.sleep(self.settings.job_interval_s)
            try:
                await job()
            except StoreUnavailable:
                pass
            except Exception:
                log.exception("emergency job %s failed", getattr(job, "__qualname__", job))
