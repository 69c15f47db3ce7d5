"""The database: async engines for SQLite (default) or PostgreSQL, transactions, and schema checks."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.types import TypeDecorator

from contact.logs import happened as log_happened
from contact.sqlite_driver import DRIVER_NAME as ONE_HOP_SQLITE

# Where `record_audit` leaves what a transaction did, for `Database.write` to log after the commit.
HAPPENED_KEY = "vt_happened"


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC and always gives them back aware (SQLite forgets the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def ensure_sqlite_dir(url: str) -> None:
    """SQLite creates the file but not its folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


class DatabaseClosed(ConnectionError):
    """A transaction asked of a Database after `close` (its process is stopping)."""


class Database:
    """Two engines: writes take SQLite's write lock up front (BEGIN IMMEDIATE) so that
    read-then-write transactions of several processes wait instead of failing; reads don't."""

    def __init__(
        self,
        url: str,
        *,
        sqlite_synchronous: str = "FULL",
        pool_size: int = 10,
        statement_timeout_s: float = 5.0,
        lock_timeout_s: float = 10.0,
        background_checkpoints: bool = False,
        wal_limit_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        """`statement_timeout_s` bounds every PostgreSQL statement (on the server and in the
        client, so a frozen server gives a fast error) and every wait for a pooled connection;
        `lock_timeout_s` bounds a wait for SQLite's write lock.

        `background_checkpoints`: SQLite's connections leave WAL checkpoints to a
        `contact.checkpoints.WalCheckpointer` (the server's lifecycle runs one) instead of doing
        one inside the commit that makes the WAL pass 1,000 pages; their own auto-checkpoint
        stays as a safety net at twice `wal_limit_bytes`, and a WAL file that grew past the limit
        is cut back to it once it restarts."""
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.sqlite_synchronous = sqlite_synchronous
        self.statement_timeout_s = statement_timeout_s
        self.lock_timeout_s = lock_timeout_s
        self.background_checkpoints = background_checkpoints
        self.wal_limit_bytes = wal_limit_bytes
        # SQLite: the writers of this process queue here, in order, for the file's one write lock.
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        # Transactions under way, and whether `close` ended this Database for good.
        self._users = 0
        self._closed = False
        self._drained: asyncio.Event | None = None  # set by the last of them once closing
        self._connect_args: dict[str, Any] = {}
        # Plain asyncpg connections handed out by `pg_connect` and not closed yet: `close` ends them.
        self._own_connections: set[Any] = set()
        if self.is_sqlite:
            ensure_sqlite_dir(url)
            self.write_engine = self._sqlite_engine("BEGIN IMMEDIATE", sqlite_synchronous, pool_size=2)
            self.read_engine = self._sqlite_engine("BEGIN", sqlite_synchronous, pool_size=pool_size)
        else:
            connect_args: dict[str, Any] = {}
            if self.url.get_driver_name() == "asyncpg":
                connect_args = {
                    "timeout": statement_timeout_s,  # to connect
                    "command_timeout": statement_timeout_s,  # the client stops waiting
                    # ... and the server stops working on it
                    "server_settings": {"statement_timeout": str(int(statement_timeout_s * 1000))},
                }
            self._connect_args = connect_args
            self.write_engine = create_async_engine(
                url,
                pool_size=pool_size,
                max_overflow=10,
                pool_pre_ping=True,
                pool_timeout=statement_timeout_s,
                connect_args=connect_args,
                hide_parameters=True,
            )
            self.read_engine = self.write_engine

    def _sqlite_engine(self, begin: str, synchronous: str, pool_size: int) -> AsyncEngine:
        busy_ms = int(self.lock_timeout_s * 1000)
        url = self.url
        if url.drivername == "sqlite+aiosqlite":
            url = url.set(drivername=ONE_HOP_SQLITE)  # contact/sqlite_driver.py
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=0,
            pool_timeout=self.statement_timeout_s + self.lock_timeout_s,
            connect_args={"timeout": self.lock_timeout_s},
            # Error messages must not carry message text or contact details into the logs.
            hide_parameters=True,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not pysqlite, decide when transactions begin (needed for
            # BEGIN IMMEDIATE and savepoints).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in _sqlite_pragmas(synchronous, busy_ms):
                cursor.execute(pragma)
            for pragma in self._checkpoint_pragmas(dbapi_connection):
                cursor.execute(pragma)
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql(begin)

        return engine

    @asynccontextmanager
    async def write_gate(self) -> AsyncIterator[None]:
        """Held by every write transaction of this process on SQLite (`write` and the message
        writer's own connection), first come first served; nothing on PostgreSQL.

        Without it, writers of one process met at SQLite's lock, and the one that found it taken
        slept in SQLite's busy handler (1, 2, 5, 10, 15, 20, 25, … 100 ms) and often lost the lock
        again to the next transaction of a job that started meanwhile: the message writer waited
        up to a quarter of a second behind a run of short job transactions (docs/performance.md).
        Other processes on the same file still meet at the lock (the busy timeout). The wait here
        is bounded by the same lock timeout (TimeoutError: `unavailable`)."""
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:  # a lock belongs to one event loop
            self._gate = (loop, asyncio.Lock())
        gate = self._gate[1]
        async with asyncio.timeout(self.lock_timeout_s):
            await gate.acquire()
        try:
            yield
        finally:
            gate.release()

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """One transaction that commits when the block ends and rolls back on any error. What
        it audited (contact/store.py `record_audit`) is logged once it committed, never before.
        Not to be nested: on SQLite the inner one waits for the outer one until the lock timeout."""
        happened: list[tuple[str, dict[str, Any]]] = []
        async with self.in_use(), self.write_gate(), self.write_engine.begin() as conn:
            conn.info[HAPPENED_KEY] = happened
            try:
                yield conn
            finally:
                # The info dict belongs to the pooled connection: nothing stays for its next user.
                # One invalidated mid-statement (its task was cancelled) goes back to no user, and
                # asking for its info would raise in place of the cancellation.
                if not conn.invalidated:
                    conn.info.pop(HAPPENED_KEY, None)
        for action, fields in happened:
            log_happened(action, **fields)

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        async with self.in_use(), self.read_engine.connect() as conn:
            yield conn

    @asynccontextmanager
    async def in_use(self) -> AsyncIterator[None]:
        """Around every transaction, also one on a connection of its own (`pg_connect`): refused
        with `DatabaseClosed` once `close` began, and waited for by `close`."""
        if self._closed:
            raise DatabaseClosed("this process is stopping: its database connections are closed")
        self._users += 1
        try:
            yield
        finally:
            self._users -= 1
            if not self._users and self._drained is not None:
                self._drained.set()

    async def close(self, wait_s: float = 5.0) -> None:
        """The end of this Database, when the app stops: new transactions are refused (as
        `unavailable`), those under way may end (bounded), then the pools close. A task still
        running after the app's other parts stopped (a shared queue read, a late disconnect)
        would otherwise open a fresh connection after `dispose`, which nothing ever closes."""
        self._closed = True
        if self._users:
            self._drained = asyncio.Event()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait_s):
                    await self._drained.wait()
        for conn in list(self._own_connections):
            await self.close_connection(conn)
        await self.dispose()

    async def pg_connect(self, server_timeout_s: float | None = None) -> Any:
        """A plain asyncpg connection to this PostgreSQL database with the engine's settings (URL
        with its query options such as ssl, connect timeout, statement timeout on the server and
        in the client), outside the pool. For a hot path that wants neither the pool's checkout
        and pre-ping nor SQLAlchemy's per-statement work (chat/writer.py). Its owner ends it with
        `close_connection` (or `drop_connection` when it broke); `close` ends it if its owner did not.
        `server_timeout_s`: the server's statement timeout on it, in place of the client's."""
        import asyncpg

        if self.is_sqlite or self.url.get_driver_name() != "asyncpg":
            raise RuntimeError("not a PostgreSQL database on asyncpg")
        if self._closed:
            raise DatabaseClosed("this process is stopping: its database connections are closed")
        _, options = self.write_engine.dialect.create_connect_args(self.url)
        for key in ("prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"):
            options.pop(key, None)  # SQLAlchemy's own, not asyncpg's
        options.update(self._connect_args)
        if server_timeout_s is not None:
            options["server_settings"] = {
                **options.get("server_settings", {}),
                "statement_timeout": str(max(1, int(server_timeout_s * 1000))),
            }
        conn = await asyncpg.connect(**options)
        self._own_connections.add(conn)
        return conn

    async def close_connection(self, conn: Any) -> None:
        """End a connection of `pg_connect` politely, within the statement timeout."""
        self._own_connections.discard(conn)
        if conn.is_closed():
            return
        try:
            await conn.close(timeout=self.statement_timeout_s)
        except Exception:
            conn.terminate()

    def drop_connection(self, conn: Any) -> None:
        """End a connection of `pg_connect` at once: it broke, or its server may not answer."""
        self._own_connections.discard(conn)
        if not conn.is_closed():
            conn.terminate()

    async def dispose(self) -> None:
        await self.write_engine.dispose()
        if self.read_engine is not self.write_engine:
            await self.read_engine.dispose()

    def sqlite_connect(self) -> sqlite3.Connection:
        """A plain sqlite3 connection to this database with the engines' settings, in
        autocommit mode (the caller writes BEGIN IMMEDIATE … COMMIT itself). For a hot path
        that runs a whole transaction in one thread call (chat/writer.py)."""
        path = self.sqlite_path()
        if path is None:
            raise RuntimeError("not an SQLite file")
        conn = sqlite3.connect(path, timeout=self.lock_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            for pragma in _sqlite_pragmas(self.sqlite_synchronous, int(self.lock_timeout_s * 1000)):
                conn.execute(pragma)
            for pragma in self._checkpoint_pragmas(conn):
                conn.execute(pragma)
        except BaseException:
            conn.close()
            raise
        return conn

    def _checkpoint_pragmas(self, dbapi_connection: Any) -> list[str]:
        """With background checkpoints: a commit checkpoints only when the WAL passed twice the
        limit (the checkpointer is not running or cannot keep up), not at SQLite's 1,000 pages."""
        if not self.background_checkpoints:
            return []
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA page_size")
            page_size = int(cursor.fetchone()[0])
        finally:
            cursor.close()
        return [
            f"PRAGMA wal_autocheckpoint={max(1, 2 * self.wal_limit_bytes // page_size)}",
            f"PRAGMA journal_size_limit={self.wal_limit_bytes}",
        ]

    def sqlite_path(self) -> Path | None:
        """The SQLite database file, or None (PostgreSQL, or in memory)."""
        if not self.is_sqlite or not self.url.database or self.url.database == ":memory:":
            return None
        return Path(self.url.database)

    async def check_write(self) -> None:
        """A write round trip that changes nothing: SQLite takes its write lock (BEGIN IMMEDIATE)
        and gives it back; PostgreSQL assigns a transaction id (refused on a read-only server).
        Raises when the database cannot take a write."""
        from sqlalchemy import text

        async with self.write_engine.connect() as conn:
            trans = await conn.begin()  # BEGIN IMMEDIATE on SQLite
            try:
                await conn.execute(text("SELECT 1" if self.is_sqlite else "SELECT txid_current()"))
            finally:
                await trans.rollback()

    async def ping(self) -> bool:
        from sqlalchemy import text

        try:
            async with self.read() as conn:
                await conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False


def _sqlite_pragmas(synchronous: str, busy_ms: int) -> list[str]:
    """What every SQLite connection of ours sets first."""
    if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError("VT_SQLITE_SYNCHRONOUS must be OFF, NORMAL, FULL or EXTRA")
    return [
        "PRAGMA journal_mode=WAL",
        f"PRAGMA synchronous={synchronous}",
        "PRAGMA foreign_keys=ON",
        f"PRAGMA busy_timeout={busy_ms}",
    ]


def unavailable(exc: BaseException) -> bool:
    """The database could not be reached or did not answer in time (it is down, restarting,
    hung, or its lock or pool is exhausted), as opposed to a fault in what we asked of it: the
    same request later may well succeed."""
    if isinstance(exc, TimeoutError | PoolTimeoutError | ConnectionError):
        return True
    if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError | PermissionError):
        return True  # connect refused or reset
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    # The drivers' own exceptions (asyncpg, aiosqlite, psycopg), as SQLAlchemy wraps them or not.
    orig = getattr(exc, "orig", None) if isinstance(exc, SQLAlchemyError) else exc
    if orig is None or not type(orig).__module__.startswith(("asyncpg", "aiosqlite", "sqlite3", "psycopg")):
        return False
    text = f"{type(orig).__name__} {orig}".lower()
    return any(
        word in text
        for word in (
            "timeout",
            "canceling statement",
            "database is locked",
            "connection",
            "cannotconnectnow",
            "shutdown",
            "starting up",
            "shutting down",
        )
    )
