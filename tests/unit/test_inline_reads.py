"""The embedded store's point reads on the event loop's thread (rooms/store/database.py): the same
answers as the threaded pool, and a file locked against readers sends the read to the pool instead
of failing or stalling the loop."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from rooms import metrics
from rooms.models import RoomKind, Visibility
from rooms.store import Stores
from rooms.store.database import PreparedRead
from rooms.store.rooms import _access
from rooms.store.schema import utcnow


def _retried() -> float:
    return metrics.store_inline_reads_by_result["retried"]._value.get()


async def test_inline_and_threaded_reads_agree_and_a_locked_file_falls_back(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "convene.db"
    stores = Stores.open(f"sqlite+aiosqlite:///{path}")
    db, rooms = stores.db, stores.rooms
    await db.migrate()
    ann = await stores.accounts.create_member("ann", "x", "Ann")
    room = await rooms.create(name="r", kind=RoomKind.ROOM, visibility=Visibility.PUBLIC, topic="", owner_id=ann.id)
    params = {"room": room.id, "member": ann.id, "now": utcnow()}

    inline = await db.first_row(_access, params)
    async with db.engine.connect() as conn:
        threaded = (await conn.execute(_access, params)).first()
    assert tuple(inline) == tuple(threaded)
    assert inline.created_at == threaded.created_at and inline.created_at.tzinfo is not None
    access = await rooms.access(room.id, ann.id)
    assert access.room == room and access.membership is not None and access.banned_until is None

    # The file locked against readers at that moment (a truncating checkpoint, WAL recovery): the
    # driver says so at once (busy_timeout 0) and the read is answered by the threaded pool instead.
    real_first = PreparedRead.first
    calls = []

    def locked_once(self, dbapi_connection, parameters):
        calls.append(1)
        if len(calls) == 1:
            raise sqlite3.OperationalError("database is locked")
        return real_first(self, dbapi_connection, parameters)

    monkeypatch.setattr(PreparedRead, "first", locked_once)
    before = _retried()
    answered = await rooms.access(room.id, ann.id)
    assert answered.room == room and answered.membership is not None
    assert _retried() == before + 1 and len(calls) == 1
    assert (await rooms.access(room.id, ann.id)).room == room and _retried() == before + 1

    # Any other driver error is not a lock: it is raised, not hidden by a retry.
    def broken(self, dbapi_connection, parameters):
        raise sqlite3.OperationalError("no such table: rooms")

    monkeypatch.setattr(PreparedRead, "first", broken)
    try:
        await rooms.access(room.id, ann.id)
    except sqlite3.OperationalError as error:
        assert "no such table" in str(error)
    else:
        raise AssertionError("a broken query was retried instead of raised")
    await db.dispose()
