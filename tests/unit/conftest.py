"""In-process fixtures for the domain: a migrated SQLite store, an in-memory broker and the chat services."""

from __future__ import annotations

import pytest

from realtime.broker.memory import MemoryBroker
from rooms.management import RoomService
from rooms.service import ChatService
from rooms.store import Stores


@pytest.fixture
async def chat(tmp_path):
    stores = Stores.open(f"sqlite+aiosqlite:///{tmp_path}/chat.db")
    await stores.db.migrate()
    broker = MemoryBroker()
    await broker.connect()
    rooms = RoomService(stores)
    service = ChatService(stores, rooms, broker, max_body_chars=1000)
    yield stores, rooms, service
    service.composer.formatter.close()
    await stores.db.dispose()
