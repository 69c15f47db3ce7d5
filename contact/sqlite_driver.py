"""SQLAlchemy's aiosqlite dialect with one hand-off to SQLite's thread per statement.

aiosqlite runs each SQLite connection in its own thread; every call on it is a hand-off to that
thread and back to the event loop. SQLAlchemy's adapter makes four of them per statement (open a
cursor, execute, fetch, close), and a start of a chat made about 75: at a campaign peak the
hand-offs, not SQLite, were most of the server's work (docs/performance.md). This cursor does
the four in one call of the same thread, so SQLite sees exactly what it saw before, in the same
order, on the same connection.

It uses what SQLAlchemy's own aiosqlite dialect already uses of aiosqlite beyond its public API
(`Connection._execute`, `Connection._conn`); tests/contact/test_sqlite_driver.py fails if an
aiosqlite release changes them. The URL `sqlite+aiosqlite://…` keeps working as the setting;
`contact/db.py` swaps in this dialect for the engines."""

from __future__ import annotations

import collections
import sqlite3
from types import ModuleType
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER_NAME = "sqlite+vt_aiosqlite"


def _run(
    conn: sqlite3.Connection, operation: str, parameters: Any, many: bool
) -> tuple[Any, int, int | None, list[Any] | None]:
    """In SQLite's thread: the whole statement, its rows and what the cursor tells of it."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A DB-API cursor whose `execute` is one call of the connection's thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: Any) -> None:  # no driver cursor: nothing to open
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None  # the rows are read and the driver's cursor closed already

    def close(self) -> None:
        self._rows.clear()

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_(self._run(operation, parameters, many=False))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_(self._run(operation, seq_of_parameters, many=True))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _run(self, operation: Any, parameters: Any, many: bool) -> Any:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            description, rowcount, lastrowid, rows = await connection._execute(
                _run, connection._conn, operation, parameters, many
            )
        self._description = description
        self._rowcount = rowcount
        self._lastrowid = lastrowid
        self._rows = collections.deque(rows or ())
        return self


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()
    _cursor_cls = OneHopCursor


class OneHopDbapi(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        plain = super().connect(*arg, **kw)
        return OneHopConnection(self, plain._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    supports_statement_cache = True  # the statements are SQLAlchemy's own, compiled as before

    @classmethod
    def import_dbapi(cls) -> OneHopDbapi:
        aiosqlite: ModuleType = __import__("aiosqlite")
        return OneHopDbapi(aiosqlite, sqlite3)


registry.register("sqlite.vt_aiosqlite", __name__, "OneHopDialect")
