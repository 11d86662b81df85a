"""Storage for emergency rooms: one small store per concern, over the chat core's database."""

from __future__ import annotations

from dataclasses import dataclass

from rooms.emergency.store.alerts import AlertStore
from rooms.emergency.store.digests import DigestStore
from rooms.emergency.store.emergencies import EmergencyStore
from rooms.emergency.store.fourw import FourWStore
from rooms.emergency.store.sitreps import SitrepStore
from rooms.mail.store import OutboxStore
from rooms.store import Stores
from rooms.store.sequence import Sequence


@dataclass(frozen=True)
class EmergencyStores:
    emergencies: EmergencyStore
    alerts: AlertStore
    sitreps: SitrepStore
    fourw: FourWStore
    outbox: OutboxStore
    digests: DigestStore

    @classmethod
    def over(cls, stores: Stores) -> "EmergencyStores":
        db, sequence = stores.db, Sequence(stores.messages)
        return cls(emergencies=EmergencyStore(db, sequence), alerts=AlertStore(db, sequence),
                   sitreps=SitrepStore(db, sequence), fourw=FourWStore(db, sequence),
                   outbox=OutboxStore(db), digests=DigestStore(db))
