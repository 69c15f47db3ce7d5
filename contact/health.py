"""Readiness that means ready: can this process write to its database, is there disk left for
it, does Redis answer and is the Socket.IO fan-out listening? Each check has a short timeout, so
a frozen dependency gives a fast 503 naming it, never a probe that hangs."""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from contact.db import Database

log = structlog.get_logger(__name__)


@dataclass
class Readiness:
    db: Database
    redis: Any = None  # redis.asyncio client, when configured
    fanout: Any = None  # socketio.AsyncRedisManager, when configured
    timeout_s: float = 2.0
    min_free_bytes: int = 64 * 1024 * 1024
    _lingering: set[asyncio.Future[Any]] = field(default_factory=set, repr=False)

    async def check(self) -> dict[str, Any]:
        """{"ok", "database", "disk", "redis", "fanout", "failed": [...]}: None for what is not used."""
        names = ["database", "disk", "redis", "fanout"]
        results = await asyncio.gather(
            self._timed("database", self._database()),
            self._timed("disk", self._disk()),
            self._timed("redis", self._redis()),
            self._timed("fanout", self._fanout()),
        )
        answer: dict[str, Any] = dict(zip(names, results, strict=True))
        failed = [n for n in names if answer[n] is False]
        answer["ok"] = not failed
        answer["failed"] = failed
        if failed:
            log.warning("not_ready", failed=failed)
        return answer

    async def _timed(self, name: str, check: Coroutine[Any, Any, bool | None]) -> bool | None:
        """The check's answer, or False when it fails or takes longer than `timeout_s`. A check
        that hangs is left to end in the background (a cancelled database call may still wait
        for its own clean-up), so the probe answers in time whatever hangs."""
        task = asyncio.ensure_future(check)
        done, _ = await asyncio.wait({task}, timeout=self.timeout_s)
        if not done:
            task.cancel()
            self._lingering.add(task)
            task.add_done_callback(self._forget)
            log.warning("readiness_check_timed_out", check=name)
            return False
        exc = task.exception()
        if exc is not None:
            log.warning("readiness_check_failed", check=name, error=type(exc).__name__)
            return False
        return task.result()

    def _forget(self, task: asyncio.Future[Any]) -> None:
        self._lingering.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved: no "never retrieved" warning

    async def _database(self) -> bool:
        if self.db.is_sqlite:
            path = self.db.sqlite_path()
            if path is not None:
                await asyncio.to_thread(_writable_file, path)
        await self.db.check_write()
        return True

    async def _disk(self) -> bool | None:
        path = self.db.sqlite_path() if self.db.is_sqlite else None
        if path is None:
            return None  # PostgreSQL's disk is the database server's: its write check covers it
        free = (await asyncio.to_thread(shutil.disk_usage, path.parent)).free
        return free >= self.min_free_bytes

    async def _redis(self) -> bool | None:
        if self.redis is None:
            return None
        await self.redis.ping()
        return True

    async def _fanout(self) -> bool | None:
        """The listener task of the Redis fan-out runs and is subscribed on a live connection
        (while Redis is gone it keeps retrying: then events of other processes do not arrive)."""
        if self.fanout is None:
            return None
        task = getattr(self.fanout, "thread", None)
        if task is None or (isinstance(task, asyncio.Future) and task.done()):
            return False
        pubsub = getattr(self.fanout, "pubsub", None)
        if pubsub is None or not getattr(pubsub, "subscribed", False):
            return False
        connection = getattr(pubsub, "connection", None)
        # contact/fanout.py says so too while publishes fail (it keeps them for later).
        healthy = getattr(self.fanout, "healthy", True)
        return bool(connection is not None and getattr(connection, "is_connected", True) and healthy)


def _writable_file(path: Path) -> None:
    """The database file is still a regular file this process may write, in a folder it may
    write (for the journal). Open connections keep an old file alive, so a replaced or
    unwritable one shows only here. The file is never opened: closing any descriptor of it
    would drop SQLite's POSIX locks of this whole process."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise IsADirectoryError(str(path))
    if not (os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)):
        raise PermissionError(str(path))
