"""Group commit for chat messages: many concurrent posts share one transaction and one fsync.

Each post waits for the commit of its batch before it is answered, so "commit, then emit"
holds while the disk sees one write per batch instead of one per message."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import bindparam, case, insert, select, tuple_, update

from chat.model import OPEN_STATUSES
from chat.store import conversations, messages
from contact.db import Database, unavailable

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NewMessage:
    conversation_id: str
    sender: str  # visitor | agent | system
    client_id: str | None
    text: str
    at: datetime
    agent_id: str | None = None  # for an agent: must be the holder
    statuses: tuple[str, ...] = OPEN_STATUSES


@dataclass(frozen=True)
class Written:
    id: str
    seq: int
    at: datetime
    holder_id: str | None
    duplicate: bool
    read_along: bool = False  # someone reads the conversation along: tell them too


class MessageWriter:
    """Queue of messages to store; one task writes whatever has queued up in one transaction."""

    def __init__(self, db: Database, max_batch: int = 256) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[NewMessage, asyncio.Future[Written | None]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        """Write what is queued, then end; a post after this is refused."""
        if self._task is not None and not self._task.done():
            await self._queue.put(None)
            await self._task

    async def write(self, message: NewMessage) -> Written | None:
        """Store `message`; None when its conversation does not accept it (closed, not held)."""
        if self._task is None or self._task.done():
            raise RuntimeError("message writer is not running")
        future: asyncio.Future[Written | None] = asyncio.get_running_loop().create_future()
        await self._queue.put((message, future))
        return await future

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            # Lock conversations in one order everywhere (PostgreSQL deadlocks otherwise);
            # the sort is stable, so one conversation's messages keep their order.
            batch.sort(key=lambda item: item[0].conversation_id)
            try:
                results = await self._write_batch([m for m, _ in batch])
            except Exception as exc:
                if not _worth_retrying(exc):
                    # A hung or unreachable database: every post of the batch fails at once
                    # (the client gets `unavailable` and sends again), not once more per message.
                    log.warning("message_batch_failed", size=len(batch), error=type(exc).__name__)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                # A race with another process (same client_id) or a deadlock: write them one by
                # one so that each one fails or succeeds on its own.
                log.warning("message_batch_retry", size=len(batch))
                for message, future in batch:
                    try:
                        result = (await self._write_batch([message]))[0]
                    except Exception as exc:
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    if not future.done():
                        future.set_result(result)
                continue
            self.batches += 1
            self.written += len(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def _write_batch(self, batch: list[NewMessage]) -> list[Written | None]:
        """One transaction of four statements whatever the batch size: the duplicates of the
        whole batch, the conversations (locked), one UPDATE of their seq counters and one
        multi-row INSERT. The rules (status, holder) are applied here, on the locked rows."""
        results: list[Written | None] = [None] * len(batch)
        same_as: dict[int, int] = {}  # a client_id repeated within this batch -> its first message
        async with self.db.write() as conn:
            keys = list({(m.conversation_id, m.sender, m.client_id) for m in batch if m.client_id is not None})
            known: dict[tuple[str, str, str | None], Written | int] = {}
            if keys:
                for r in await conn.execute(_FIND_DUPLICATES, {"keys": keys}):
                    known[(r.conversation_id, r.sender, r.client_id)] = Written(r.id, r.seq, r.at, None, duplicate=True)
            fresh: list[int] = []
            for i, m in enumerate(batch):
                if m.client_id is not None:
                    key = (m.conversation_id, m.sender, m.client_id)
                    earlier = known.get(key)
                    if isinstance(earlier, Written):
                        results[i] = earlier
                        continue
                    if isinstance(earlier, int):
                        same_as[i] = earlier
                        continue
                    known[key] = i
                fresh.append(i)
            if fresh:
                ids = sorted({batch[i].conversation_id for i in fresh})
                state = {r.id: r for r in await conn.execute(_LOCK_CONVERSATIONS, {"ids": ids})}
                last_seq = {cid: r.last_seq for cid, r in state.items()}
                rows: list[dict[str, Any]] = []
                for i in fresh:
                    m = batch[i]
                    conv = state.get(m.conversation_id)
                    if conv is None or conv.status not in m.statuses:
                        continue  # unknown or closed: None
                    if m.sender == "agent" and conv.agent_id != m.agent_id:
                        continue  # not held by this agent: None
                    last_seq[m.conversation_id] += 1
                    seq = last_seq[m.conversation_id]
                    message_id = str(uuid.uuid4())
                    rows.append(
                        {
                            "id": message_id,
                            "conversation_id": m.conversation_id,
                            "seq": seq,
                            "sender": m.sender,
                            "agent_id": m.agent_id,
                            "client_id": m.client_id,
                            "text": m.text,
                            "at": m.at,
                        }
                    )
                    results[i] = Written(
                        message_id, seq, m.at, conv.agent_id, duplicate=False, read_along=bool(conv.read_along)
                    )
                changed = {cid: n for cid, n in last_seq.items() if n != state[cid].last_seq}
                if changed:
                    # A message is activity: the visitor's resume token lives on from it. The
                    # messages of one batch were posted within moments: its newest time serves all.
                    await conn.execute(
                        update(conversations)
                        .where(conversations.c.id.in_(list(changed)))
                        .values(
                            last_seq=case(changed, value=conversations.c.id),
                            last_activity_at=max(row["at"] for row in rows),
                        )
                    )
                    await conn.execute(_INSERT_MESSAGES, rows)  # executemany: one round trip
        for i, j in same_as.items():
            first = results[j]
            results[i] = None if first is None else dataclasses.replace(first, holder_id=None, duplicate=True)
        return results


def _worth_retrying(exc: BaseException) -> bool:
    """A duplicate client_id of another process or a deadlock: yes. A timeout (statement,
    pool, lock) or a lost connection: no, the same would happen again."""
    return not unavailable(exc)


# Built once: SQLAlchemy then neither builds the statement nor its cache key per batch.
_FIND_DUPLICATES = select(
    messages.c.conversation_id, messages.c.sender, messages.c.client_id, messages.c.id, messages.c.seq, messages.c.at
).where(
    tuple_(messages.c.conversation_id, messages.c.sender, messages.c.client_id).in_(bindparam("keys", expanding=True))
)
# FOR UPDATE serialises writers of one conversation on PostgreSQL (in id order: no deadlock);
# SQLite's BEGIN IMMEDIATE already holds the database's write lock.
_LOCK_CONVERSATIONS = (
    select(
        conversations.c.id,
        conversations.c.status,
        conversations.c.agent_id,
        conversations.c.last_seq,
        conversations.c.read_along,
    )
    .where(conversations.c.id.in_(bindparam("ids", expanding=True)))
    .order_by(conversations.c.id)
    .with_for_update()
)
_INSERT_MESSAGES = insert(messages)
