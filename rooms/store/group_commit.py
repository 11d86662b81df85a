"""Group commit: the chat sends that arrive within one tick of the event loop are stored in one transaction.

A commit is the expensive part of a send: a sync of SQLite's write-ahead log (synchronous=FULL, the
embedded default: an acknowledgement means the message is on disk), a round trip and a WAL flush on
Postgres, and on both a transaction's worth of pool, driver and SQLAlchemy work. Sends queue here; a
lane writes everything queued in one transaction and answers each send after that commit, so an ack
still follows the commit that holds its message, and the sends that queued meanwhile form the next
batch (the busier the service, the larger the batches, the cheaper each send).

The batch runs the same statements as a lone send, compiled once and executed on the driver's own
connection (on SQLite the whole batch is one call into the database's thread), which is where most of
a send's CPU went. It only takes the common case: a member writing to a room without slow mode, a
write guard or attachments, with a client id not yet stored. Anything else (and any batch that fails)
is answered `None`, and the caller takes the full send path for that message, alone.

Order: a room's sends are written in the order they were queued, one batch at a time per lane, and
a room always maps to the same lane; within a batch, rooms are locked in ascending id, so batches of
different processes cannot deadlock on Postgres.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from sqlalchemy import bindparam, exists, func, insert, literal, literal_column, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.visitors import replacement_traverse

from rooms import metrics
from rooms.errors import StoreUnavailable
from rooms.models import EventKind
from rooms.store.database import Database
from rooms.store.rooms import restricted
from rooms.store.schema import members, memberships, mentions, messages, rooms

log = logging.getLogger(__name__)


@dataclass(slots=True)
class QueuedSend:
    room_id: int
    # The send's statement parameters, as the lone send builds them (rooms/store/messages.py).
    values: dict[str, Any]
    mentions: tuple[int, ...]
    # Room kinds whose write guards must see the room: their sends take the full path.
    guarded_kinds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Stored:
    seq: int
    sender_name: str


@dataclass(frozen=True)
class Follow:
    """A statement each batch runs in its own transaction, after a room's sends: another part of the
    service keeping its record level with the room's sequence without a transaction of its own (the
    notifier's cursor past messages that concern nobody, rooms/notifications/quiet.py).

    `applies` picks the sends it covers; for each room of the batch it covers the run of stored sends
    from the room's first one up to the first it does not pick. `statement` takes the parameters
    room, seen (the seq before the run) and to (the run's last seq), and changes one row when it takes.
    `took(room, seen, to)` is told on the event loop's thread after the commit, before any send is answered."""

    statement: ClauseElement
    applies: Callable[["QueuedSend"], bool]
    took: Callable[[int, int, int], None]


@dataclass(slots=True)
class Written:
    stored: list[Stored | None]      # per send, in the batch's order
    followed: list[tuple[Follow, int, int, int]]   # (follow, room, seen, to) of each run whose statement took


def _runs(batch: Sequence[QueuedSend], stored: list[Stored | None], follow: Follow) -> dict[int, tuple[int, int]]:
    """{room: (seen, to)}: per room, the stored sends from its first in the batch while `follow` applies.
    A room's seqs within a batch are consecutive: one transaction bumped them in turn."""
    runs: dict[int, tuple[int, int]] = {}
    stopped: set[int] = set()
    for send, result in zip(batch, stored):
        room = send.room_id
        if result is None or room in stopped:
            continue
        if not follow.applies(send):
            stopped.add(room)
            continue
        seen, _ = runs.get(room, (result.seq - 1, 0))
        runs[room] = (seen, result.seq)
    return runs


class CompiledStatement:
    """An SQLAlchemy statement compiled once for one dialect, with its parameters in driver order."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self._names = tuple(compiled.positiontup or ())
        self._fixed = {name: value for name, value in compiled.params.items() if value is not None}
        self._processors = dict(compiled._bind_processors)

    def args(self, values: dict[str, Any]) -> tuple:
        out = []
        for name in self._names:
            value = values[name] if name in values else self._fixed[name]
            processor = self._processors.get(name)
            out.append(processor(value) if processor is not None and value is not None else value)
        return tuple(out)


def _bump(guarded_kinds: tuple[str, ...]):
    """The lone send's bump (rooms/store/messages.py), narrowed to what a batch takes: no slow mode, no
    guarded kind, a client id not stored yet. It answers the new seq and the sender's current name."""
    stored = exists().where(messages.c.room_id == rooms.c.id, messages.c.sender_id == bindparam("member"),
                            messages.c.client_id == bindparam("client_id"))
    return (update(rooms)
            .where(rooms.c.id == bindparam("room"),
                   exists().where(memberships.c.room_id == rooms.c.id,
                                  memberships.c.member_id == bindparam("member")),
                   ~restricted(rooms.c.id, bindparam("member"), bindparam("now")),
                   rooms.c.slow_mode_s == 0, ~stored,
                   *(rooms.c.kind != kind for kind in guarded_kinds))
            .values(last_seq=rooms.c.last_seq + 1)
            .returning(rooms.c.last_seq,
                       select(members.c.display_name).where(members.c.id == bindparam("member"))
                       .scalar_subquery().label("sender_name")))


# Each column a send inserts and the parameter that fills it (None: the kind, always a message); the
# batch's insert and the lone send's statement (_one_send) are both made from it.
_COLUMNS = {"room_id": "room", "seq": "seq", "kind": None, "sender_id": "member", "client_id": "client_id",
            "body": "body", "created_at": "created_at", "html": "html", "reply_to": "reply_to",
            "parent_preview": "parent_preview", "mentions": "mentions", "mentions_room": "mentions_room"}
_insert = insert(messages).values({column: EventKind.MESSAGE.value if parameter is None else bindparam(parameter)
                                   for column, parameter in _COLUMNS.items()})
_mention = insert(mentions).values(room_id=bindparam("room"), seq=bindparam("seq"),
                                   member_id=bindparam("member_id"))


def _bound(statement: ClauseElement, replacements: dict[str, ClauseElement]) -> ClauseElement:
    """`statement` with the named bind parameters replaced by expressions."""
    def replace(element: Any) -> Any:
        if isinstance(element, BindParameter) and element.key in replacements:
            return replacements[element.key]
        return None
    return replacement_traverse(statement, {}, replace)


def _one_send(guarded_kinds: tuple[str, ...], follows: Sequence[ClauseElement]) -> ClauseElement:
    """A lone send without mentions as one statement (Postgres): the bump, the insert and each
    Follow's statement as data-modifying CTEs, so the send is one round trip committed on its own
    instead of five (BEGIN, bump, insert, follow, COMMIT). Answers (seq, sender_name, and per follow
    the rows it changed)."""
    bump = _bump(guarded_kinds).cte("bump")
    # Each parameter typed as its column: in a SELECT list Postgres cannot infer a parameter's type
    # from where the row goes.
    values = {column: bump.c.last_seq if column == "seq" else
              literal(EventKind.MESSAGE.value, messages.c.kind.type) if parameter is None else
              bindparam(parameter, type_=messages.c[column].type)
              for column, parameter in _COLUMNS.items()}
    stored = (insert(messages).from_select(list(values), select(*values.values()))
              .returning(messages.c.seq).cte("stored"))
    seq = select(stored.c.seq).scalar_subquery()
    counts = []
    for index, statement in enumerate(follows):
        followed = _bound(statement, {"seen": seq - 1, "to": seq}).returning(literal_column("1")).cte(f"follow_{index}")
        counts.append(select(func.count()).select_from(followed).scalar_subquery())
    return select(stored.c.seq, bump.c.sender_name, *counts)


class _Statements:
    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self.insert = CompiledStatement(_insert, dialect)
        self.mention = CompiledStatement(_mention, dialect)
        self._bumps: dict[tuple[str, ...], CompiledStatement] = {}

    def bump(self, guarded_kinds: tuple[str, ...]) -> CompiledStatement:
        statement = self._bumps.get(guarded_kinds)
        if statement is None:
            statement = self._bumps[guarded_kinds] = CompiledStatement(_bump(guarded_kinds), self.dialect)
        return statement


class _Writer:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.statements = _Statements(db.engine.dialect)
        self.follows: list[tuple[Follow, CompiledStatement]] = []

    def follow(self, follow: Follow) -> None:
        self.follows.append((follow, CompiledStatement(follow.statement, self.db.engine.dialect)))

    async def write(self, batch: Sequence[QueuedSend]) -> Written:
        raise NotImplementedError

    def _follow_ups(self, batch: Sequence[QueuedSend], stored: list[Stored | None]):
        """(follow, room, seen, to, sql, args) for each run each Follow covers in this batch, in the
        batch's room order (ascending): the rows are locked in the order every other writer locks them."""
        for follow, compiled in self.follows:
            for room, (seen, to) in _runs(batch, stored, follow).items():
                yield follow, room, seen, to, compiled.sql, compiled.args({"room": room, "seen": seen, "to": to})


class SQLiteWriter(_Writer):
    """The whole batch in one call into the aiosqlite connection's thread: begin, bump and insert each
    send, commit (and so sync the WAL) once."""

    async def write(self, batch: Sequence[QueuedSend]) -> Written:
        work = [(self.statements.bump(send.guarded_kinds), dict(send.values), send.mentions) for send in batch]
        async with self.db.raw_write() as driver_connection:
            # aiosqlite runs every call on its connection's own thread; _execute queues a function there.
            return await driver_connection._execute(self._write_in_thread, driver_connection._conn, batch, work)

    def _write_in_thread(self, conn: sqlite3.Connection, batch: Sequence[QueuedSend], work: list) -> Written:
        statements = self.statements
        if conn.in_transaction:
            conn.rollback()
        conn.execute("BEGIN IMMEDIATE")
        try:
            results: list[Stored | None] = []
            for bump, values, mentioned in work:
                row = conn.execute(bump.sql, bump.args(values)).fetchone()
                if row is None:
                    results.append(None)
                    continue
                values["seq"] = row[0]
                conn.execute(statements.insert.sql, statements.insert.args(values))
                for member_id in mentioned:
                    conn.execute(statements.mention.sql, statements.mention.args(
                        {"room": values["room"], "seq": row[0], "member_id": member_id}))
                results.append(Stored(row[0], row[1] or ""))
            followed = [(follow, room, seen, to)
                        for follow, room, seen, to, sql, args in self._follow_ups(batch, results)
                        if conn.execute(sql, args).rowcount == 1]
            conn.commit()
            return Written(results, followed)
        except BaseException:
            conn.rollback()
            raise


class PostgresWriter(_Writer):
    """The batch in one transaction on the asyncpg connection itself (its statements prepared once
    per connection by asyncpg's cache). A batch of one send without mentions (what a quiet service
    sends: most batches) is one statement instead (`_one_send`)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._one_sends: dict[tuple, CompiledStatement] = {}

    async def write(self, batch: Sequence[QueuedSend]) -> Written:
        if len(batch) == 1 and not batch[0].mentions:
            return await self._write_one(batch[0])
        statements = self.statements
        async with self.db.raw_write() as conn:
            async with conn.transaction():
                results: list[Stored | None] = []
                for send in batch:
                    bump = statements.bump(send.guarded_kinds)
                    values = dict(send.values)
                    row = await conn.fetchrow(bump.sql, *bump.args(values))
                    if row is None:
                        results.append(None)
                        continue
                    values["seq"] = row[0]
                    await conn.execute(statements.insert.sql, *statements.insert.args(values))
                    if send.mentions:
                        await conn.executemany(statements.mention.sql, [
                            statements.mention.args({"room": send.room_id, "seq": row[0], "member_id": member_id})
                            for member_id in send.mentions])
                    results.append(Stored(row[0], row[1] or ""))
                followed = [(follow, room, seen, to)
                            for follow, room, seen, to, sql, args in self._follow_ups(batch, results)
                            if await conn.execute(sql, *args) == "UPDATE 1"]
                return Written(results, followed)

    async def _write_one(self, send: QueuedSend) -> Written:
        applying = tuple(index for index, (follow, _) in enumerate(self.follows) if follow.applies(send))
        key = (send.guarded_kinds, applying)
        statement = self._one_sends.get(key)
        if statement is None:
            statement = self._one_sends[key] = CompiledStatement(
                _one_send(send.guarded_kinds, [self.follows[index][0].statement for index in applying]),
                self.db.engine.dialect)
        async with self.db.raw_write() as conn:
            row = await conn.fetchrow(statement.sql, *statement.args(send.values))
        if row is None:
            return Written([None], [])
        seq = row[0]
        followed = [(self.follows[index][0], send.room_id, seq - 1, seq)
                    for position, index in enumerate(applying) if row[2 + position] == 1]
        return Written([Stored(seq, row[1] or "")], followed)


class _Lane:
    __slots__ = ("queue", "running")

    def __init__(self) -> None:
        self.queue: list[tuple[QueuedSend, asyncio.Future]] = []
        self.running = False


class GroupCommit:
    """Queues sends and writes each lane's queue in batches of at most `max_batch`.

    `lanes`: batches in flight at once (rooms are spread over them by id). SQLite has one writer, so
    one lane; on Postgres a few lanes let one room's slow transaction not hold up every other room."""

    def __init__(self, writer: _Writer, max_batch: int, lanes: int) -> None:
        self.writer = writer
        self.max_batch = max(1, max_batch)
        self._lanes = [_Lane() for _ in range(max(1, lanes))]
        self._tasks: set[asyncio.Task] = set()

    def also(self, follow: Follow) -> None:
        """Runs `follow` in every batch's transaction from now on."""
        self.writer.follow(follow)

    async def submit(self, send: QueuedSend) -> Stored | None:
        """The stored message, or None when this send must take the full path (alone)."""
        lane = self._lanes[send.room_id % len(self._lanes)]
        future = asyncio.get_running_loop().create_future()
        lane.queue.append((send, future))
        if not lane.running:
            lane.running = True
            # A task, not a call in this one: it starts on the loop's next turn, after the sends read
            # from other sockets in this turn have queued too.
            task = asyncio.create_task(self._drain(lane))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a send whose socket closed while waiting is still written (its batch is under
        # way), and its resend finds it by client id.
        return await asyncio.shield(future)

    async def _drain(self, lane: _Lane) -> None:
        try:
            while lane.queue:
                taken, lane.queue = lane.queue[:self.max_batch], lane.queue[self.max_batch:]
                await self._write(taken)
        finally:
            lane.running = False

    async def _write(self, taken: list[tuple[QueuedSend, asyncio.Future]]) -> None:
        # Ascending room id (stable, so a room's sends keep their order): the lock order of every batch.
        taken.sort(key=lambda item: item[0].room_id)
        metrics.send_batch_size.observe(len(taken))
        batch = [send for send, _ in taken]
        try:
            written = await self.writer.write(batch)
        except Exception as error:
            results: list[Stored | None] | BaseException = error
        else:
            results = written.stored
            for follow, room, seen, to in written.followed:
                follow.took(room, seen, to)
        for index, (_, future) in enumerate(taken):
            if future.done():
                continue
            if isinstance(results, StoreUnavailable):
                future.set_exception(results)   # the full path would meet the same outage
            elif isinstance(results, BaseException):
                future.set_result(None)
            else:
                future.set_result(results[index])
        if isinstance(results, BaseException) and not isinstance(results, StoreUnavailable):
            metrics.send_batch_failures.inc()
            log.warning("a send batch of %d failed (%s); its sends are stored one by one",
                        len(taken), type(results).__name__)

    async def close(self) -> None:
        """Waits for the batches under way (their sends are committed and answered)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def writer_for(db: Database) -> _Writer:
    return SQLiteWriter(db) if db.dialect == "sqlite" else PostgresWriter(db)
