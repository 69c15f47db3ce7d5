"""The SQLite engines use one hand-off to SQLite's thread per statement (contact/sqlite_driver.py)
and behave as SQLAlchemy's own aiosqlite dialect: rows, row counts, executemany, RETURNING,
errors mapped to SQLAlchemy's, and a rolled-back transaction leaves nothing."""

from __future__ import annotations

import aiosqlite.core
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from contact.db import Database
from contact.sqlite_driver import OneHopDialect


async def test_one_hand_off_per_statement_and_the_usual_answers(tmp_path, monkeypatch):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'driver.db'}")
    try:
        assert isinstance(db.write_engine.dialect, OneHopDialect)
        assert isinstance(db.read_engine.dialect, OneHopDialect)
        async with db.write() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)"))

        hand_offs = []
        original = aiosqlite.core.Connection._execute

        ours: list[object] = []

        async def counted(self, fn, *args, **kwargs):
            if self in ours:  # not another test's server sharing this event loop
                hand_offs.append(getattr(fn, "__name__", "?"))
            return await original(self, fn, *args, **kwargs)

        monkeypatch.setattr(aiosqlite.core.Connection, "_execute", counted)
        async with db.write() as conn:
            ours.append((await conn.get_raw_connection()).driver_connection)
            many = await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": "a"}, {"name": "b"}])
            assert many.rowcount == 2
            one = await conn.execute(text("INSERT INTO t (name) VALUES ('c')"))
            assert one.lastrowid == 3
            back = await conn.execute(text("INSERT INTO t (name) VALUES ('d') RETURNING id"))
            assert back.scalar_one() == 4
            changed = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 2"))
            assert changed.rowcount == 2
            rows = (await conn.execute(text("SELECT id, name FROM t ORDER BY id"))).all()
            assert [tuple(r) for r in rows] == [(1, "a"), (2, "b"), (3, "c!"), (4, "d!")]
            assert hand_offs == ["_run"] * 5  # one per statement
        with pytest.raises(IntegrityError):
            async with db.write() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('e')"))
                await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))  # not unique
        with pytest.raises(OperationalError):
            async with db.read() as conn:
                await conn.execute(text("SELECT nothing FROM nowhere"))
        async with db.read() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["a", "b", "c!", "d!"]  # the failed transaction left no 'e'
    finally:
        await db.dispose()
