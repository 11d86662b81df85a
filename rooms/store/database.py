"""The store's connection to its database: one base class, one adapter per backend.

Queries are written once against SQLAlchemy Core (rooms/store/schema.py) and run
on both SQLite and Postgres; what genuinely differs between the two (engine
options, how writers are serialised, full-text search, migrations' locking)
lives in the adapters below.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sqlite3
import threading
import time
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import SingletonThreadPool

from rooms import metrics
from rooms.errors import StoreUnavailable

log = logging.getLogger(__name__)
ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

# Failures that mean "the database is not there right now" (or every connection is busy for
# longer than the pool timeout), as opposed to a bad query.
_UNAVAILABLE = (OSError, asyncio.TimeoutError, exc.OperationalError, exc.InterfaceError, exc.TimeoutError)


def is_unavailable(error: BaseException) -> bool:
    if isinstance(error, _UNAVAILABLE):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    name = type(getattr(error, "orig", None) or error).__name__
    return name in {"CannotConnectNowError", "ConnectionDoesNotExistError",
                    "AdminShutdownError", "ConnectionFailureError"}


@contextmanager
def _outage_as_unavailable(message: str) -> Iterator[None]:
    """Database outages leave as StoreUnavailable (retryable); anything else passes unchanged.
    Both are counted on /metrics; a constraint's refusal (IntegrityError) is an answer, not an error."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as error:
        if is_unavailable(error):
            metrics.store_errors_by_kind["unavailable"].inc()
            raise StoreUnavailable(message, retry_after=1.0) from error
        if isinstance(error, exc.SQLAlchemyError) and not isinstance(error, exc.IntegrityError):
            metrics.store_errors_by_kind["failed"].inc()
        raise


def _waited(operation: str, since: float) -> None:
    metrics.store_wait_by_operation[operation].observe(time.perf_counter() - since)


def _report_connections_in_use(engine: AsyncEngine) -> None:
    """The pool's own count, read at scrape time (no query). A server process opens one database;
    in a process that opens several (tests), the last one opened is reported."""
    pool = engine.sync_engine.pool
    if hasattr(pool, "checkedout"):
        metrics.store_connections_in_use.set_function(pool.checkedout)


class Database:
    """An engine plus read and write transactions that report outages as StoreUnavailable."""

    dialect = "base"

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        _report_connections_in_use(engine)

    @asynccontextmanager
    async def read(self, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection for reading. `quick` says the block reads a few rows by index (an access
        check, a head, a member): a backend that can answer such reads without a round trip to
        another thread or server may do so (SQLiteDatabase); the block is written the same way."""
        with _outage_as_unavailable("the message store is unreachable; retry shortly"):
            asked = time.perf_counter()
            async with self.engine.connect() as conn:
                _waited("read", asked)
                yield conn

    async def first_row(self, statement: Any, parameters: dict[str, Any]) -> Any:
        """The first row of a point read (`statement` a module-level constant: backends may prepare
        it once), or None."""
        async with self.read(quick=True) as conn:
            return (await conn.execute(statement, parameters)).first()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction, committed when the block ends without error."""
        async with self._transaction(time.perf_counter()) as conn:
            yield conn

    @asynccontextmanager
    async def _transaction(self, asked: float) -> AsyncIterator[AsyncConnection]:
        """The one place a write commits: an acknowledgement given after the block has ended rests on
        this commit (and, on SQLite, on its sync: see SQLiteDatabase)."""
        with _outage_as_unavailable("the message store is unreachable; nothing was stored"):
            async with self.engine.begin() as conn:
                _waited("write", asked)
                yield conn

    @asynccontextmanager
    async def raw_write(self) -> AsyncIterator[Any]:
        """The driver's own connection (aiosqlite's or asyncpg's), for a writer that runs its
        transaction itself to save SQLAlchemy's work per statement (rooms/store/group_commit.py)."""
        asked = time.perf_counter()
        with _outage_as_unavailable("the message store is unreachable; nothing was stored"):
            async with self.engine.connect() as conn:
                _waited("write", asked)
                yield (await conn.get_raw_connection()).driver_connection

    async def ping(self) -> bool:
        return await _answers(self.engine)

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        async with self.engine.begin() as conn:
            await self._lock_for_migration(conn)
            await conn.run_sync(_upgrade_head)

    async def _lock_for_migration(self, conn: AsyncConnection) -> None:
        pass

    async def purge_removed_text(self) -> None:
        """After text was removed on purpose (an account deleted, retention): leave no copy of it in the
        database's files. Postgres needs nothing here: the full-text index is an expression over the
        live rows, and the dead row versions are reclaimed by (auto)vacuum (docs/privacy.md)."""

    async def dispose(self) -> None:
        await self.engine.dispose()


async def _answers(engine: AsyncEngine) -> bool:
    """Whether the database answers a trivial query within 2 s (readiness)."""
    try:
        async with engine.connect() as conn:
            await asyncio.wait_for(conn.execute(text("SELECT 1")), timeout=2)
        return True
    except Exception:
        return False


def _upgrade_head(sync_connection) -> None:
    config = Config(str(ALEMBIC_INI))
    config.attributes["connection"] = sync_connection
    command.upgrade(config, "head")


SQLITE_SYNCHRONOUS = ("full", "normal")
SQLITE_POOL_SIZE = 16
SQLITE_POOL_OVERFLOW = 8


class SQLiteDatabase(Database):
    """The embedded default. One process owns the file, so writers queue on a lock here
    instead of fighting over SQLite's database lock.

    Durability: in WAL mode with `synchronous=FULL` (the default, SQLITE_SYNCHRONOUS=full) every
    commit syncs the write-ahead log before it returns, so whatever is acknowledged after a write
    block has ended survives a power cut or an OS crash, not only the process being killed.
    `normal` syncs only at checkpoints: faster, and the last commits may be lost in a power cut
    (docs/reliability.md). The sync costs one flush per commit; writers queued on `_write_lock`
    are where a group commit can take it back (several sends committed, and synced, at once),
    never by acknowledging before the sync.
    """

    dialect = "sqlite"

    def __init__(self, url: str, synchronous: str = "full") -> None:
        if synchronous not in SQLITE_SYNCHRONOUS:
            raise ValueError(f"SQLITE_SYNCHRONOUS must be one of {', '.join(SQLITE_SYNCHRONOUS)}")
        # hide_parameters: a failed statement's error (and so a logged traceback) never shows its
        # values, which may be a message's text or a password hash.
        # pool_size: SQLAlchemy's default keeps 5 connections and opens up to 10 more under load, then
        # closes them on return. With aiosqlite each of those is a new thread, a file open and the
        # PRAGMAs below, so a burst of subscribes (a reconnect storm) opened and closed hundreds of
        # them. Keeping enough for the reads that overlap in one process means none is thrown away.
        engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True,
                                     pool_size=SQLITE_POOL_SIZE, max_overflow=SQLITE_POOL_OVERFLOW)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            # Freed space is zeroed when that costs no extra I/O: deleted text does not linger in pages.
            cursor.execute("PRAGMA secure_delete=FAST")
            cursor.close()

        super().__init__(engine)
        self.synchronous = synchronous
        self._write_lock = asyncio.Lock()
        self._inline = _inline_reader(url)
        self._prepared: dict[Any, PreparedRead] = {}
        self._inline_thread = threading.local()
        self._writer: AsyncConnection | None = None
        self._writer_driver: Any = None

    @asynccontextmanager
    async def read(self, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        if not quick or self._inline is None:
            async with super().read() as conn:
                yield conn
            return
        with self._inline.connect() as conn:
            yield InlineReads(conn, self.engine)  # type: ignore[misc]

    async def first_row(self, statement: Any, parameters: dict[str, Any]) -> Any:
        if self._inline is None:
            return await super().first_row(statement, parameters)
        prepared = self._prepared.get(statement)
        if prepared is None:
            prepared = self._prepared[statement] = PreparedRead(statement, self._inline.dialect)
        # The driver's connection itself: checking one out of the pool per read cost as much as the read.
        # Kept checked out for this thread (SingletonThreadPool would hand this thread the same one).
        held = getattr(self._inline_thread, "connection", None)
        if held is None:
            held = self._inline_thread.connection = self._inline.raw_connection()
        try:
            row = prepared.first(held.dbapi_connection, parameters)
        except sqlite3.OperationalError as error:
            if not _is_locked(error):
                raise
        else:
            metrics.store_inline_reads_by_result["answered"].inc()
            return row
        metrics.store_inline_reads_by_result["retried"].inc()
        return await super().first_row(statement, parameters)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        asked = time.perf_counter()
        async with self._write_lock:
            async with self._transaction(asked) as conn:
                yield conn

    @asynccontextmanager
    async def raw_write(self) -> AsyncIterator[Any]:
        """The group commit's connection, kept for it: only one writer runs at a time here anyway,
        and a pool checkout per batch, with the reset (a rollback, one more trip to aiosqlite's
        thread) at its return, cost a tenth of a busy server's CPU. A batch that fails drops the
        connection, so the next one starts on a fresh one."""
        async with self._write_lock:
            asked = time.perf_counter()
            with _outage_as_unavailable("the message store is unreachable; nothing was stored"):
                if self._writer is None:
                    self._writer = await self.engine.connect()
                    # Asked once: each ask is a trip through SQLAlchemy's greenlet.
                    self._writer_driver = (await self._writer.get_raw_connection()).driver_connection
                _waited("write", asked)
                writer = self._writer
                try:
                    yield self._writer_driver
                except BaseException:
                    self._writer = self._writer_driver = None
                    await writer.close()
                    raise

    async def dispose(self) -> None:
        if self._writer is not None:
            writer, self._writer, self._writer_driver = self._writer, None, None
            await writer.close()
        if self._inline is not None:
            self._inline.dispose()
        await super().dispose()

    async def purge_removed_text(self) -> None:
        """FTS5 records a deletion as a marker beside the old entry until segments merge: `optimize`
        merges them now, so the removed words leave the index's pages. The write-ahead log still holds the
        pages as first written: a truncating checkpoint empties it (skipped, not waited for, while a
        reader holds an old snapshot; the next purge or the regular checkpoints catch up)."""
        async with self._write_lock:
            async with self.engine.connect() as conn:
                for table in ("messages_fts", "attachments_fts"):
                    await conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('optimize')")
                await conn.commit()
                await conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def _inline_reader(async_url: str) -> Engine | None:
    """A synchronous engine on the same file for reads made on the event loop's own thread.
    aiosqlite runs every statement in a worker thread: handing a point read there and back costs
    about 0.5 ms of CPU (queue, future, thread switch, the GIL going back and forth) for a query that
    SQLite answers in 0.04 ms. In WAL mode a reader never waits for the writer, so an indexed read of
    a few rows is shorter than the hand-off; it is used only where the caller says so (`quick`).
    One connection per thread (SingletonThreadPool): each event loop has its own. None for an
    in-memory database, which a second engine would not share."""
    path = async_url.split("///", 1)[-1]
    if not path or path == ":memory:" or "mode=memory" in path:
        return None
    engine = create_engine(async_url.replace("+aiosqlite", "", 1), poolclass=SingletonThreadPool,
                           connect_args={"check_same_thread": False, "timeout": 0}, hide_parameters=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        # busy_timeout 0: if the file is ever locked against readers (a truncating checkpoint, WAL
        # recovery), the read fails at once and goes to the threaded path instead of stalling the loop.
        for pragma in ("PRAGMA query_only=ON", "PRAGMA busy_timeout=0", "PRAGMA cache_size=-16384"):
            dbapi_connection.execute(pragma)

    return engine


def _is_locked(error: BaseException) -> bool:
    """SQLite's "database is locked" / "busy", from the driver or wrapped by SQLAlchemy."""
    message = str(getattr(error, "orig", None) or error)
    return "locked" in message or "busy" in message


class PreparedRead:
    """A hot point read compiled once and run on the driver's cursor: what SQLAlchemy does per
    execution (cache key, execution context, result metadata) cost four times the query itself.
    Parameters and columns still pass through their types' processors (dates, for one), and the
    row answers by column name as SQLAlchemy's does."""

    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positions = list(compiled.positiontup)
        self.processors_in: dict[str, Any] = {}
        self.constants: dict[str, Any] = {}   # literals in the statement, processed once here
        for name in self.positions:
            bind = compiled.binds[name]
            process = bind.type._cached_bind_processor(dialect)
            if bind.value is not None or bind.callable is not None:
                value = bind.effective_value
                self.constants[name] = process(value) if process is not None else value
            elif process is not None:
                self.processors_in[name] = process
        columns = list(statement.selected_columns)
        self.processors = [column.type._cached_result_processor(dialect, None) for column in columns]
        self.row_type = collections.namedtuple("Row", [column.key for column in columns])  # type: ignore[misc]

    def first(self, dbapi_connection: Any, parameters: dict[str, Any]) -> Any:
        # Each parameter processed once, however many times the statement uses it.
        given = dict(self.constants)
        for name, value in parameters.items():
            process = self.processors_in.get(name)
            given[name] = process(value) if process is not None else value
        found = dbapi_connection.execute(self.sql, [given[name] for name in self.positions]).fetchone()
        if found is None:
            return None
        return self.row_type(*(value if process is None else process(value)
                               for value, process in zip(found, self.processors)))


class InlineReads:
    """What a `read(quick=True)` block gets on SQLite: AsyncConnection's reading methods, answered
    on the calling thread. A read that finds the file locked is retried on the threaded pool."""

    def __init__(self, conn: Connection, fallback: AsyncEngine) -> None:
        self._conn = conn
        self._fallback = fallback

    async def execute(self, statement: Any, parameters: Any = None) -> Any:
        try:
            # Buffered, as AsyncConnection.execute's result is: the cursor is done when this returns.
            result = self._conn.execute(statement, parameters).freeze()()
            metrics.store_inline_reads_by_result["answered"].inc()
            return result
        except exc.OperationalError as error:
            if not _is_locked(error):
                raise
        metrics.store_inline_reads_by_result["retried"].inc()
        async with self._fallback.connect() as conn:
            return await conn.execute(statement, parameters)

    async def scalar(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalar()

    async def scalars(self, statement: Any, parameters: Any = None) -> Any:
        return (await self.execute(statement, parameters)).scalars()


class PostgresDatabase(Database):
    """Shared by any number of processes; per-room order comes from row locks on rooms."""

    dialect = "postgresql"

    def __init__(self, url: str) -> None:
        engine = create_async_engine(
            url,
            pool_size=10,
            max_overflow=20,
            # A burst (a reconnect storm) waits its turn for a connection rather than failing.
            pool_timeout=60,
            # No pool_pre_ping: on asyncpg it is three round trips (BEGIN, ping, ROLLBACK) on every
            # checkout, more than a history page's query. Only a connection that sat idle is
            # pinged (below); one that died while busy fails its statement, which invalidates the
            # whole pool and surfaces as StoreUnavailable (retryable) once.
            # Generous: under a burst the event loop itself is slow to see a connect complete.
            connect_args={"timeout": 15, "command_timeout": 30},
            hide_parameters=True,   # statement values stay out of errors and logs (see SQLiteDatabase)
        )
        _ping_when_idle(engine)
        super().__init__(engine)
        # Reads need no transaction: in autocommit asyncpg sends the query alone, without
        # BEGIN and ROLLBACK around it (set on the client side, no round trip).
        self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    @asynccontextmanager
    async def read(self, quick: bool = False) -> AsyncIterator[AsyncConnection]:
        with _outage_as_unavailable("the message store is unreachable; retry shortly"):
            asked = time.perf_counter()
            async with self._read_engine.connect() as conn:
                _waited("read", asked)
                yield conn

    async def _lock_for_migration(self, conn: AsyncConnection) -> None:
        # Several processes may start at once; only one migrates at a time.
        await conn.execute(text("SELECT pg_advisory_xact_lock(724311)"))


class ReadReplica:
    """A Postgres streaming replica (hot standby) for reads that may lag a little: history pages and
    search (rooms/store/replica.py says when its answer is taken). Read-only, never migrated.

    Failing it is never an outage: the primary answers instead. After a connection failure the
    replica is left alone for `retry_after_s`, so one that is down costs one failed attempt per
    pause, not one per request, and its timeouts are short for the same reason."""

    def __init__(self, url: str, retry_after_s: float = 5.0) -> None:
        engine = create_async_engine(url, pool_size=10, max_overflow=20, pool_timeout=5,
                                     connect_args={"timeout": 3, "command_timeout": 10})
        _ping_when_idle(engine)
        self.engine = engine
        self._read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self.retry_after_s = retry_after_s
        self._down_until = 0.0

    @property
    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        try:
            with _outage_as_unavailable("the read replica is unreachable"):
                async with self._read_engine.connect() as conn:
                    yield conn
        except StoreUnavailable:
            self._down_until = time.monotonic() + self.retry_after_s
            raise

    async def ping(self) -> bool:
        return await _answers(self.engine)

    async def dispose(self) -> None:
        await self.engine.dispose()


PING_AFTER_IDLE_S = 10.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Pings a pooled connection at checkout only if it sat idle for a while (a database restart
    is noticed before the first query after a quiet spell); a busy pool is never pinged."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:
        if time.monotonic() - record.info.get("idle_since", time.monotonic()) < PING_AFTER_IDLE_S:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            # The pool discards this connection and checks out another (up to three tries).
            raise exc.DisconnectionError("idle connection failed its ping") from error


def open_database(sqlalchemy_url: str, sqlite_synchronous: str = "full") -> Database:
    """`sqlite_synchronous` applies to the embedded default only; Postgres's durability is the
    server's own settings (synchronous_commit, fsync: docs/reliability.md)."""
    if sqlalchemy_url.startswith("sqlite"):
        path = sqlalchemy_url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SQLiteDatabase(sqlalchemy_url, sqlite_synchronous)
    if sqlalchemy_url.startswith("postgresql"):
        return PostgresDatabase(sqlalchemy_url)
    raise ValueError(f"unsupported DATABASE_URL scheme: {sqlalchemy_url.split(':', 1)[0]}")


def open_replica(sqlalchemy_url: str, retry_after_s: float = 5.0) -> ReadReplica | None:
    """The read replica DATABASE_REPLICA_URL names (in SQLAlchemy's spelling), or None."""
    if not sqlalchemy_url:
        return None
    if not sqlalchemy_url.startswith("postgresql"):
        raise ValueError("DATABASE_REPLICA_URL must name a Postgres streaming replica (postgresql://…)")
    return ReadReplica(sqlalchemy_url, retry_after_s)
