"""Group commit for chat messages: many concurrent posts share one transaction and one fsync.

Each post waits for the commit of its batch before it is answered, so "commit, then emit"
holds while the disk sees one write per batch instead of one per message."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Integer, Update, and_, bindparam, insert, select, tuple_, update

from chat.store import conversations, messages
from contact.db import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NewMessage:
    conversation_id: str
    sender: str  # visitor | agent | system
    client_id: str | None
    text: str
    at: datetime
    agent_id: str | None = None  # for an agent: must be the holder
    statuses: tuple[str, ...] = ("waiting", "active")


@dataclass(frozen=True)
class Written:
    id: str
    seq: int
    at: datetime
    holder_id: str | None
    duplicate: bool


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
            except Exception:
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
        """One transaction with three kinds of statement, built once: one SELECT for the
        duplicates of the whole batch, one UPDATE per run of messages of one conversation
        (reserving consecutive seqs), one multi-row INSERT."""
        results: list[Written | None] = [None] * len(batch)
        same_as: dict[int, int] = {}  # a client_id repeated within this batch -> its first message
        async with self.db.write() as conn:
            keys = list({(m.conversation_id, m.sender, m.client_id) for m in batch if m.client_id is not None})
            known: dict[tuple[str, str, str | None], Written | int] = {}
            if keys:
                for r in await conn.execute(_FIND_DUPLICATES, {"keys": keys}):
                    known[(r.conversation_id, r.sender, r.client_id)] = Written(r.id, r.seq, r.at, None, duplicate=True)
            runs: list[tuple[tuple[str, bool, str | None, tuple[str, ...]], list[int]]] = []
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
                by_agent = m.sender == "agent"
                run_key = (m.conversation_id, by_agent, m.agent_id if by_agent else None, m.statuses)
                if runs and runs[-1][0] == run_key:
                    runs[-1][1].append(i)
                else:
                    runs.append((run_key, [i]))
            rows: list[dict[str, Any]] = []
            for (conversation_id, by_agent, agent_id, statuses), members in runs:
                params: dict[str, Any] = {"b_id": conversation_id, "b_n": len(members)}
                if by_agent:
                    params["b_agent"] = agent_id
                bumped = (await conn.execute(_bump_statement(statuses, by_agent), params)).first()
                if bumped is None:
                    continue  # closed, or not held by this agent: None for each of them
                seq = bumped.last_seq - len(members)
                for i in members:
                    seq += 1
                    m = batch[i]
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
                    results[i] = Written(message_id, seq, m.at, bumped.agent_id, duplicate=False)
            if rows:
                await conn.execute(_INSERT_MESSAGES, rows)  # executemany: one multi-row INSERT
        for i, j in same_as.items():
            first = results[j]
            results[i] = None if first is None else dataclasses.replace(first, holder_id=None, duplicate=True)
        return results


# Built once: SQLAlchemy then neither builds the statement nor its cache key per message.
_FIND_DUPLICATES = select(
    messages.c.conversation_id, messages.c.sender, messages.c.client_id, messages.c.id, messages.c.seq, messages.c.at
).where(
    tuple_(messages.c.conversation_id, messages.c.sender, messages.c.client_id).in_(bindparam("keys", expanding=True))
)
_INSERT_MESSAGES = insert(messages)


@functools.cache
def _bump_statement(statuses: tuple[str, ...], by_agent: bool) -> Update:
    """Reserve `b_n` consecutive seqs of one conversation, if it accepts the message(s)."""
    condition = and_(conversations.c.id == bindparam("b_id"), conversations.c.status.in_(statuses))
    if by_agent:
        condition = and_(condition, conversations.c.agent_id == bindparam("b_agent"))
    return (
        update(conversations)
        .where(condition)
        .values(last_seq=conversations.c.last_seq + bindparam("b_n", type_=Integer))
        .returning(conversations.c.last_seq, conversations.c.agent_id)
    )
