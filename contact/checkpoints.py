"""SQLite's WAL checkpoints in a thread of their own, out of the commits of chats.

In WAL mode a commit appends pages to the `-wal` file; a checkpoint copies them back into the
database file and syncs it. By default SQLite does that inside the commit that makes the WAL pass
1,000 pages, so now and then one visitor's message waited 100–550 ms for pages that other
transactions wrote (docs/performance.md, "Checkpoints and GC at the rate run"). With background
checkpoints the connections of `contact/db.py` leave that to this checkpointer:

- every `every_s` seconds a PASSIVE checkpoint in its own thread and connection: it copies what
  is committed without taking the write lock, so writers go on meanwhile;
- the WAL file starts again from its beginning only when a writer begins while every frame is
  copied and no read uses the WAL. Under steady writes and reads that is rare (the WAL grew to
  45 MB in a rate run), so once the WAL holds `reset_bytes` more PASSIVE passes follow at once,
  each copying what came during the one before, and then a RESTART checkpoint runs while this
  process's writers wait their turn (`Database.write_gate`): it copies the little that is left
  and waits up to 50 ms for reads that use the WAL. That short wait, every few seconds, is all
  the writers see;
- when nothing was written for `idle_s`, a TRUNCATE gives the WAL file back;
- reads that stay open keep old frames in use, and the WAL grows. Past `limit_bytes` this is
  logged, and at most every `retry_s` that RESTART waits up to `wait_s` for those reads. Should
  the checkpointer not run at all, the connections' own auto-checkpoint at twice the limit is
  the safety net (`contact/db.py`).

A failing round (the file locked or gone, the disk full) is logged and tried again, never fatal.
`synchronous` is that of the database (FULL by default): a checkpoint syncs the WAL before it
copies and the database file after, so nothing committed is lost by moving it.

Every process on the file runs one (app/lifecycles.py): SQLite runs one checkpoint at a time and a
PASSIVE one that finds another running returns at once, so processes never wait for each other's,
and none depends on another being alive (or elected) to keep the WAL small. PostgreSQL has none."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import structlog

if TYPE_CHECKING:
    from contact.db import Database

log = structlog.get_logger(__name__)

THREAD_NAME = "sqlite-checkpoints"
# PASSIVE passes that nobody waits for, before the RESTART that writers wait for (`_catch_up`).
CATCH_UP_PASSES = 3
# How long that RESTART waits for reads that still use the WAL (`_restart`).
RESET_WAIT_S = 0.05
T = TypeVar("T")


@dataclass(frozen=True)
class Round:
    """What one round did: its last checkpoint's mode (or None), the WAL's frames and how many of
    them are in the database file now (both -1 when another checkpoint was running), whether it
    was blocked, and the WAL file's size after it."""

    mode: str | None
    frames: int
    checkpointed: int
    busy: bool
    wal_bytes: int


class WalCheckpointer:
    """Checkpoints the WAL of `db` from one thread with one connection of its own."""

    def __init__(
        self,
        db: Database,
        *,
        every_s: float = 1.0,
        limit_bytes: int = 64 * 1024 * 1024,
        reset_bytes: int | None = None,
        idle_s: float = 30.0,
        wait_s: float = 1.0,
        retry_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        path = db.sqlite_path()
        if path is None:
            raise ValueError("background checkpoints need an SQLite database file")
        self.db = db
        self.wal_path = Path(f"{path}-wal")
        self.every_s = every_s
        self.limit_bytes = limit_bytes
        self.reset_bytes = limit_bytes // 4 if reset_bytes is None else reset_bytes
        self.idle_s = idle_s
        self.wait_s = wait_s
        self.retry_s = retry_s
        self._monotonic = monotonic
        self._executor: ThreadPoolExecutor | None = None
        self._task: asyncio.Task[None] | None = None
        self._conn: sqlite3.Connection | None = None
        self._page_size = 4096
        self._last_frames = -1
        self._unchanged_since = monotonic()  # the WAL's frame count has not changed since then
        self._truncated = False
        self._escalate_after = 0.0
        self._restart_from = 0  # no RESTART below this many frames (one found a read in the way)
        self.rounds = 0
        self.failures = 0
        self.last: Round | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=THREAD_NAME)

    async def stop(self) -> None:
        """Ends the timer, then one last PASSIVE checkpoint (what the writers left), then the
        thread and its connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._executor is None:
            return
        try:
            await self._in_thread(self._checkpoint, "PASSIVE")
        except Exception as exc:
            self._failed(exc)
        await self._in_thread(self._close)
        executor, self._executor = self._executor, None
        await asyncio.to_thread(executor.shutdown, True)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _run(self) -> None:
        pause = self.every_s
        while True:
            await asyncio.sleep(pause)
            try:
                await self.run_once()
                pause = self.every_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._failed(exc)
                await self._in_thread(self._close)  # the next round opens a new connection
                pause = min(self.every_s * 8, 10.0)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        log.warning(
            "sqlite_checkpoint_failed",
            error=type(exc).__name__,
            code=getattr(exc, "sqlite_errorname", None),
            failures=self.failures,
        )

    async def run_once(self) -> Round:
        """One round (the timer calls it; so do the tests). Raises what SQLite raised."""
        self.rounds += 1
        done = await self._in_thread(self._checkpoint, "PASSIVE")
        now = self._monotonic()
        if done.frames >= 0 and done.frames != self._last_frames:
            if done.frames < self._last_frames:  # the WAL started again
                self._restart_from = 0
            self._last_frames, self._unchanged_since, self._truncated = done.frames, now, False
        if done.frames < 0 or done.busy:
            pass  # another connection is checkpointing: it does the work
        elif done.frames * self._page_size >= self.reset_bytes:
            done = await self._catch_up(done)
            if done.frames >= 0 and not done.busy:
                done = await self._restart(done, now)
        elif not self._truncated and done.wal_bytes > 0 and now - self._unchanged_since >= self.idle_s:
            # Without waiting for anyone: when a writer or a read is there, the next round tries.
            async with self.db.write_gate():
                truncated = await self._in_thread(self._checkpoint, "TRUNCATE")
            if not truncated.busy:
                done, self._truncated, self._last_frames = truncated, True, truncated.frames
        self.last = done
        return done

    async def _catch_up(self, done: Round) -> Round:
        """Copy until no commit came during a copy, without making anyone wait.

        A PASSIVE checkpoint answers with the frames there were when it began: commits during
        its copy are not in it. A pass that finds no frame newer than the previous pass began
        with has nothing to copy (no sync either). Each pass copies only what came during the
        one before, so they get short, and what is left for `_restart` is small."""
        for _ in range(CATCH_UP_PASSES):
            again = await self._in_thread(self._checkpoint, "PASSIVE")
            if again.busy or again.frames < 0 or again.frames <= done.frames:
                return again
            done = again
        return done

    async def _restart(self, done: Round, now: float) -> Round:
        """Let the WAL start again from its beginning: a writer does that only when it begins
        while every frame is copied and no read is using the WAL, which under steady reads and
        writes may not happen for a long time. A RESTART checkpoint, while this process's
        writers wait their turn, copies the little that is left and waits up to `RESET_WAIT_S`
        for reads that use the WAL to end; when one is still there (a backup, say), the next try
        waits until the WAL grew by another `reset_bytes`. Past `limit_bytes` (a read that stays
        open) it says so and, at most every `retry_s`, waits up to `wait_s`."""
        wait_s = RESET_WAIT_S
        wal_mb = round(done.frames * self._page_size / 2**20, 1)
        escalated = done.frames * self._page_size > self.limit_bytes and now >= self._escalate_after
        if not escalated and done.frames < self._restart_from:
            return done  # the last one found a read in the way: not again before the WAL grew more
        if escalated:
            self._escalate_after = now + self.retry_s
            log.warning("sqlite_wal_over_limit", wal_mb=wal_mb, frames=done.frames, checkpointed=done.checkpointed)
            wait_s = self.wait_s
        async with self.db.write_gate():
            restarted = await self._in_thread(self._checkpoint, "RESTART", wait_s)
        self._restart_from = done.frames + self.reset_bytes // self._page_size if restarted.busy else 0
        if escalated and restarted.busy:
            log.error("sqlite_wal_checkpoint_blocked", wal_mb=wal_mb, retry_s=self.retry_s)
        elif escalated:
            log.info("sqlite_wal_restarted", wal_mb=wal_mb)
        return restarted

    async def _in_thread(self, call: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=THREAD_NAME)
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def _checkpoint(self, mode: str, wait_s: float = 0.0) -> Round:
        """In the thread. Only RESTART waits (SQLite's busy handler), and only `wait_s`."""
        conn = self._connection()
        if wait_s:
            conn.execute(f"PRAGMA busy_timeout={int(wait_s * 1000)}")
        try:
            busy, frames, checkpointed = conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        finally:
            if wait_s:
                conn.execute("PRAGMA busy_timeout=0")
        return Round(mode, frames, checkpointed, bool(busy), self._wal_bytes())

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = self.db.sqlite_connect()
            try:
                conn.execute("PRAGMA busy_timeout=0")
                self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _wal_bytes(self) -> int:
        try:
            return os.stat(self.wal_path).st_size
        except FileNotFoundError:
            return 0
