"""The store a test server uses, opened from the test process: to look at rows (and the full-text index)
directly, or to age rows, where the API would not show or allow it."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from realtime.settings import Settings
from rooms.store.database import Database, open_database
from tests.support.services import ServerProcess


@asynccontextmanager
async def server_database(server: ServerProcess) -> AsyncIterator[Database]:
    db = open_database(Settings.from_env(server.env).sqlalchemy_url)
    try:
        yield db
    finally:
        await db.dispose()
