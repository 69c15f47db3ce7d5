"""Visitors whose last connection dropped, marked away in batches that are never dropped.

When many visitors go at once (a network outage, a server's sockets closing, a campaign's
visitors closing their tabs), one write per disconnect queued behind SQLite's single write lock
and the pool's two write connections, and most of them timed out: those conversations stayed
"present" in the advisor's console (docs/performance.md, issue 19). Here every disconnect adds
its conversation and the moment it dropped to a pending set; one task writes whatever is pending
in one transaction (so a wave of 200 is one or two writes), sends the events once it committed,
and when the database cannot take the write it keeps the marks and tries again, so none is lost."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

import structlog
from sqlalchemy import case, literal, update

from chat.base import ChatBase
from chat.model import OPEN_STATUSES, Outgoing, QueueChanged
from chat.store import conversations
from chat.visitor import presence_emits
from contact.clock import Clock
from contact.db import UTCDateTime

log = structlog.get_logger(__name__)

# Conversations per transaction: a bounded statement, and a wave of thousands still takes few.
MAX_BATCH = 500


class AwayUseCases(ChatBase):
    """The write behind `AwayMarks`."""

    async def visitors_away(self, gone: Sequence[tuple[str, datetime]]) -> list[Outgoing]:
        """Mark each conversation's visitor away since the moment their connection dropped and
        count that moment as its last activity (from which the resume token's lifetime runs), in
        one transaction; answers the events for the conversations whose mark changed: the holder
        of an active chat gets `visitor_presence`, a waiting one changes the queue."""
        since = dict(gone)
        if not since:
            return []
        ids = sorted(since)
        by_id = conversations.c.id
        moment = case({cid: literal(at, UTCDateTime()) for cid, at in since.items()}, value=by_id)
        away = conversations.c.visitor_away_since
        async with self.db.write() as conn:
            changed = (
                await conn.execute(
                    update(conversations)
                    .where(by_id.in_(ids), conversations.c.status.in_(OPEN_STATUSES), away.is_(None))
                    .values(visitor_away_since=moment, last_activity_at=moment)
                    .returning(by_id, conversations.c.status, conversations.c.agent_id)
                )
            ).all()
            marked = {row.id for row in changed}
            rest = [cid for cid in ids if cid not in marked]
            if rest:  # already away (another socket of theirs went earlier): still their activity
                await conn.execute(
                    update(conversations)
                    .where(by_id.in_(rest), conversations.c.status.in_(OPEN_STATUSES))
                    .values(last_activity_at=moment)
                )
        emits: list[Outgoing] = []
        queue_changed = False
        for row in changed:
            told = presence_emits(row.id, row.status, row.agent_id, present=False, since=since[row.id])
            for e in told:
                if isinstance(e, QueueChanged):
                    queue_changed = True  # one broadcast for the whole batch
                else:
                    emits.append(e)
        if queue_changed:
            emits.append(QueueChanged())
        return emits


class AwayMarks:
    """The pending away marks of this process and the one task that writes them.

    `mark` never waits and never fails: the disconnect handler hands over the conversation and
    is done. A batch that fails (the database is down, locked, or its pool exhausted) stays
    pending and is tried again after a pause that doubles up to `max_retry_s`, together with
    what arrived meanwhile. A visitor whose conversation has a connection on this process again
    by the time of the write (`still_here`) is not marked."""

    def __init__(
        self,
        write: Callable[[Sequence[tuple[str, datetime]]], Awaitable[Sequence[Outgoing]]],
        send: Callable[[Sequence[Outgoing]], Awaitable[None]],
        clock: Clock,
        still_here: Callable[[str], bool] = lambda _cid: False,
        retry_s: float = 0.2,
        max_retry_s: float = 5.0,
    ) -> None:
        self._write = write
        self._send = send
        self._clock = clock
        self._still_here = still_here
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self._pending: dict[str, datetime] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.batches = 0  # transactions written (for tests and metrics)
        self.marked = 0
        self.retries = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def mark(self, conversation_id: str) -> None:
        """The visitor's last connection to this conversation dropped now."""
        # Only the last connection's drop comes here, so a later drop (after a return) is the one.
        self._pending[conversation_id] = self._clock.now()
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name="visitor-away")
        self._wake.set()

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Write what is pending (for at most `timeout_s`), then end. What could not be written
        is logged with its count: the conversations then show the visitor present until the
        sweeper closes them or the visitor comes back."""
        self._stopping = True
        self._wake.set()
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), timeout_s)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._pending:
            log.error("visitor_away_lost", conversations=len(self._pending))

    async def _run(self) -> None:
        pause = self.retry_s
        while True:
            if not self._pending:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch: list[tuple[str, datetime]] = []
            for cid, at in list(self._pending.items())[:MAX_BATCH]:
                if self._still_here(cid):
                    del self._pending[cid]  # back on this process before the write: not away
                else:
                    batch.append((cid, at))
            if not batch:
                continue
            try:
                emits = await self._write(batch)
            except Exception as exc:
                self.retries += 1
                # Kept, not dropped: the next round writes them with whatever came meanwhile.
                log.warning("visitor_away_retry", conversations=len(batch), error=type(exc).__name__, retry_s=pause)
                await asyncio.sleep(pause)
                pause = min(self.max_retry_s, pause * 2)
                continue
            pause = self.retry_s
            for cid, at in batch:
                if self._pending.get(cid) == at:  # else it came back and dropped again meanwhile
                    del self._pending[cid]
            self.batches += 1
            self.marked += len(batch)
            try:
                await self._send(emits)
            except Exception as exc:  # committed: the consoles' next `mine`/`queue` shows it
                log.error("visitor_away_send_failed", error=type(exc).__name__)
