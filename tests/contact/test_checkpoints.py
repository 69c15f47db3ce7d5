"""WAL checkpoints out of the commit path (contact/checkpoints.py): commits leave them to the
checkpointer, which copies the WAL back, lets it start again, keeps it bounded under steady
writes, survives a read that holds a snapshot and a database it cannot lock, and stops cleanly."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest
import structlog

from app import lifecycles
from contact.checkpoints import THREAD_NAME, WalCheckpointer
from contact.db import Database
from contact.http import DATABASE
from tests.support.server import RunningServer, add_agent, make_settings, migrated_sqlite

PAGE = 4096
COUNT = {"t": "SELECT count(*) FROM t", "agent": "SELECT count(*) FROM agent"}


async def _db(tmp_path: Path, name: str = "wal.db", **kw: object) -> Database:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / name}", background_checkpoints=True, **kw)  # type: ignore[arg-type]
    _create_table(db)
    return db


def _create_table(db: Database) -> None:
    """The table, in the database file itself (the WAL emptied)."""
    conn = db.sqlite_connect()
    try:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, data BLOB)")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def _write(conn: sqlite3.Connection, pages: int) -> None:
    """One transaction of about `pages` pages, as the message lane writes: BEGIN IMMEDIATE … COMMIT."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO t (data) VALUES (randomblob(?))", (pages * PAGE - 200,))
    conn.execute("COMMIT")


def _wal_frames(path: Path) -> int:
    """The WAL's length in frames, read from its file (no checkpoint, no connection)."""
    wal = Path(f"{path}-wal")
    return max(0, (wal.stat().st_size - 32) // (PAGE + 24)) if wal.exists() else 0


def _checkpointer_tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t.get_name() == THREAD_NAME}


def _wal_size(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


def _rows_in_database_file(path: Path, table: str = "t") -> int:
    """Rows the database file itself holds, the WAL left aside (what checkpoints copied)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute(COUNT[table]).fetchone()[0])
    finally:
        conn.close()


@pytest.mark.parametrize("background", [False, True])
async def test_a_commit_checkpoints_at_1000_pages_only_without_background_checkpoints(tmp_path, background):
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'auto.db'}", background_checkpoints=background)
    _create_table(db)
    conn = db.sqlite_connect()
    try:
        for _ in range(30):
            _write(conn, 50)  # 1,500 pages in all
        if background:  # nothing copied back: the WAL holds every page written
            assert _wal_frames(db.sqlite_path()) >= 1500
            assert _rows_in_database_file(db.sqlite_path()) == 0
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 2 * 64 * 2**20 // PAGE
        else:  # SQLite's own: the commit that passed 1,000 pages copied them and the WAL started again
            assert _rows_in_database_file(db.sqlite_path()) >= 19
    finally:
        conn.close()
        await db.dispose()


async def test_the_pooled_connections_leave_checkpoints_too(tmp_path):
    db = await _db(tmp_path, wal_limit_bytes=8 * 2**20)
    try:
        async with db.write() as conn:
            for _ in range(30):
                await conn.exec_driver_sql("INSERT INTO t (data) VALUES (randomblob(?))", (50 * PAGE,))
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 2 * 8 * 2**20 // PAGE
            assert (await conn.exec_driver_sql("PRAGMA journal_size_limit")).scalar() == 8 * 2**20
        async with db.read() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 2 * 8 * 2**20 // PAGE
        assert _rows_in_database_file(db.sqlite_path()) == 0
    finally:
        await db.dispose()


async def test_a_round_copies_the_wal_back_and_the_next_writer_starts_it_again(tmp_path):
    db = await _db(tmp_path)
    path = db.sqlite_path()
    checkpointer = WalCheckpointer(db)
    conn = db.sqlite_connect()
    try:
        for _ in range(20):
            _write(conn, 10)
        size = _wal_size(path)
        done = await checkpointer.run_once()
        assert done.mode == "PASSIVE" and not done.busy
        assert done.frames >= 200 and done.checkpointed == done.frames
        assert _rows_in_database_file(path) == 20
        _write(conn, 10)  # from the WAL's beginning: the file does not grow
        assert _wal_size(path) == size
        assert (await checkpointer.run_once()).frames < 20
    finally:
        conn.close()
        await checkpointer.stop()
        await db.dispose()


async def test_under_steady_writes_the_wal_stays_bounded(tmp_path):
    """Writes follow each other as at a busy hour, each taking this process's write gate as the
    message lane does, with reads in between: a commit lands during nearly every PASSIVE copy,
    so the RESTART under the gate is what lets the WAL start again, again and again."""
    db = await _db(tmp_path)
    path = db.sqlite_path()
    checkpointer = WalCheckpointer(db, every_s=0.05, reset_bytes=64 * PAGE)
    conn = db.sqlite_connect()
    largest, restarts, last, written = 0, 0, 0, 0
    try:
        checkpointer.start()
        deadline = time.monotonic() + 10
        while restarts < 5 and time.monotonic() < deadline:
            async with db.write_gate():
                await asyncio.to_thread(_write, conn, 8)
            async with db.read() as read:
                await read.exec_driver_sql("SELECT count(*) FROM t")
            written += 8
            largest = max(largest, _wal_frames(path))
            frames = checkpointer.last.frames if checkpointer.last is not None else 0
            restarts += frames < last
            last = frames
            await asyncio.sleep(0.002)
        assert checkpointer.failures == 0
        assert restarts >= 5, (restarts, written, largest)
        assert largest < written, (written, largest)  # the file holds what came between restarts
    finally:
        await checkpointer.stop()
        conn.close()
        await db.dispose()
    assert _rows_in_database_file(path) == written // 8  # stop's last checkpoint copied the rest


async def test_a_short_read_in_the_way_is_waited_for_so_the_wal_starts_again(tmp_path):
    """A writer starts the WAL again only when no read uses it; under steady reads one nearly
    always does, so the checkpointer's RESTART waits for the read that is there (briefly)."""
    db = await _db(tmp_path)
    path = db.sqlite_path()
    checkpointer = WalCheckpointer(db, reset_bytes=64 * PAGE)
    writer, reader = db.sqlite_connect(), db.sqlite_connect()
    try:
        for _ in range(10):
            _write(writer, 10)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()  # it reads from the WAL
        asyncio.get_running_loop().call_later(0.01, reader.execute, "COMMIT")  # and ends soon
        done = await checkpointer.run_once()
        assert done.mode == "RESTART" and not done.busy and done.checkpointed == done.frames
        size = _wal_size(path)
        _write(writer, 10)
        assert _wal_size(path) == size  # written from the WAL's beginning
        assert (await checkpointer.run_once()).frames < 20

        # The same without the checkpointer's RESTART: the read keeps the WAL growing.
        for _ in range(10):
            _write(writer, 10)
        checkpointer.reset_bytes = 2**30
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()
        assert (await checkpointer.run_once()).mode == "PASSIVE"
        _write(writer, 10)
        assert _wal_size(path) > size
        reader.execute("COMMIT")
    finally:
        writer.close()
        reader.close()
        await checkpointer.stop()
        await db.dispose()


async def test_a_read_holding_a_snapshot_is_waited_for_logged_and_the_wal_cut_back_after(tmp_path):
    db = await _db(tmp_path, wal_limit_bytes=256 * PAGE)
    path = db.sqlite_path()
    now = [0.0]
    checkpointer = WalCheckpointer(db, limit_bytes=256 * PAGE, wait_s=0.05, retry_s=60, monotonic=lambda: now[0])
    writer, reader = db.sqlite_connect(), db.sqlite_connect()
    try:
        _write(writer, 10)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 1  # its snapshot: 1 row
        for _ in range(40):
            _write(writer, 10)  # 400 pages, past the limit of 256
        with structlog.testing.capture_logs() as logged:
            held = await checkpointer.run_once()
            now[0] += 1
            again = await checkpointer.run_once()  # within retry_s: no second wait
        assert held.mode == "RESTART" and held.busy and held.checkpointed < held.frames
        assert again.mode == "PASSIVE"
        # Only the checkpointer's: capture_logs also catches other threads' lines (a scheduler of
        # another test's server stepping down).
        events = [e["event"] for e in logged if e["event"].startswith("sqlite_")]
        assert events == ["sqlite_wal_over_limit", "sqlite_wal_checkpoint_blocked"]
        assert checkpointer.failures == 0
        _write(writer, 10)  # writers go on meanwhile
        assert reader.execute("SELECT count(*) FROM t").fetchone()[0] == 1
        reader.execute("COMMIT")  # the read ends

        done = await checkpointer.run_once()
        assert done.checkpointed == done.frames and not done.busy
        assert _rows_in_database_file(path) == 42
        _write(writer, 1)  # the WAL starts again and its file is cut back to the limit
        assert _wal_size(path) <= 256 * PAGE
    finally:
        writer.close()
        reader.close()
        await checkpointer.stop()
        await db.dispose()


async def test_a_database_it_cannot_lock_is_logged_and_tried_again_not_fatal(tmp_path):
    db = await _db(tmp_path, lock_timeout_s=0.05)
    path = db.sqlite_path()
    checkpointer = WalCheckpointer(db, every_s=0.02)
    holder = db.sqlite_connect()
    try:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        _write(holder, 5)  # keeps the file locked for as long as this connection lives
        with structlog.testing.capture_logs() as logged:
            checkpointer.start()
            for _ in range(200):
                await asyncio.sleep(0.02)
                if checkpointer.failures >= 2:
                    break
            assert checkpointer.failures >= 2 and checkpointer.running
            holder.close()  # the lock goes
            rounds = checkpointer.rounds
            for _ in range(200):
                await asyncio.sleep(0.02)
                if checkpointer.last is not None and checkpointer.rounds > rounds:
                    break
        failed = [e for e in logged if e["event"] == "sqlite_checkpoint_failed"]
        assert failed and failed[0]["error"] == "OperationalError" and failed[0]["log_level"] == "warning"
        assert checkpointer.last is not None and checkpointer.last.checkpointed == checkpointer.last.frames
        assert _rows_in_database_file(path) == 1
    finally:
        holder.close()
        await checkpointer.stop()
        await db.dispose()


async def test_an_idle_database_gets_its_wal_file_back(tmp_path):
    db = await _db(tmp_path)
    path = db.sqlite_path()
    now = [0.0]
    checkpointer = WalCheckpointer(db, idle_s=30, monotonic=lambda: now[0])
    conn = db.sqlite_connect()
    try:
        for _ in range(5):
            _write(conn, 10)
        assert (await checkpointer.run_once()).mode == "PASSIVE"
        now[0] += 29
        assert (await checkpointer.run_once()).mode == "PASSIVE"
        now[0] += 2
        truncated = await checkpointer.run_once()
        assert truncated.mode == "TRUNCATE" and truncated.wal_bytes == 0
        now[0] += 60
        assert (await checkpointer.run_once()).mode == "PASSIVE"  # once, not every round
        _write(conn, 1)
        assert _rows_in_database_file(path) == 5
    finally:
        conn.close()
        await checkpointer.stop()
        await db.dispose()


async def test_stop_ends_the_thread_and_copies_what_was_left(tmp_path):
    db = await _db(tmp_path)
    path = db.sqlite_path()
    checkpointer = WalCheckpointer(db, every_s=3600)
    conn = db.sqlite_connect()
    try:
        others = set(threading.enumerate())  # the shared test server runs one too
        checkpointer.start()
        await checkpointer.run_once()
        mine = [t for t in threading.enumerate() if t not in others and t.name.startswith(THREAD_NAME)]
        assert len(mine) == 1
        _write(conn, 10)
        assert _rows_in_database_file(path) == 0
        await checkpointer.stop()
        assert not checkpointer.running and not mine[0].is_alive()
        assert _rows_in_database_file(path) == 1
        await checkpointer.stop()  # twice is harmless
    finally:
        conn.close()
        await db.dispose()


def test_postgresql_has_no_checkpointer_and_no_pragmas():
    db = Database("postgresql+asyncpg://u:p@127.0.0.1:1/none", background_checkpoints=True)
    with pytest.raises(ValueError):
        WalCheckpointer(db)


async def test_the_server_runs_a_checkpointer_while_it_serves_and_stops_it(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "served.db"))
    others = _checkpointer_tasks()  # the shared test server's
    server = await RunningServer(make_settings(url, sqlite_checkpoint_s=0.05)).start()
    try:
        assert server.app is not None and server.app[lifecycles.SIO] is not None
        assert len(_checkpointer_tasks() - others) == 1
        await add_agent(url)  # another connection's commit, copied into the database file soon
        for _ in range(100):
            await asyncio.sleep(0.05)
            if _rows_in_database_file(tmp_path / "served.db", "agent") == 1:
                break
        assert _rows_in_database_file(tmp_path / "served.db", "agent") == 1
    finally:
        await server.stop()
    assert not _checkpointer_tasks() - others


async def test_a_zero_interval_leaves_checkpoints_to_sqlite(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "off.db"))
    others = _checkpointer_tasks()
    server = await RunningServer(make_settings(url, sqlite_checkpoint_s=0)).start()
    try:
        assert not _checkpointer_tasks() - others
        async with server.app[DATABASE].read() as conn:  # type: ignore[index]
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        await server.stop()
