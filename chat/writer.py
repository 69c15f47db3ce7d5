"""Group commit for chat messages: many concurrent posts share one transaction and one fsync.

Each post waits for the commit of its batch before it is answered, so "commit, then emit"
holds while the disk sees one write per batch instead of one per message."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import and_, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

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
        async with self.db.write() as conn:
            return [await self._write_one(conn, m) for m in batch]

    @staticmethod
    async def _write_one(conn: AsyncConnection, m: NewMessage) -> Written | None:
        if m.client_id is not None:
            dup = (
                await conn.execute(
                    select(messages.c.id, messages.c.seq, messages.c.at).where(
                        messages.c.conversation_id == m.conversation_id,
                        messages.c.sender == m.sender,
                        messages.c.client_id == m.client_id,
                    )
                )
            ).first()
            if dup is not None:
                return Written(dup.id, dup.seq, dup.at, None, duplicate=True)
        condition = and_(conversations.c.id == m.conversation_id, conversations.c.status.in_(m.statuses))
        if m.sender == "agent":
            condition = and_(condition, conversations.c.agent_id == m.agent_id)
        row = (
            await conn.execute(
                update(conversations)
                .where(condition)
                .values(last_seq=conversations.c.last_seq + 1)
                .returning(conversations.c.last_seq, conversations.c.agent_id)
            )
        ).first()
        if row is None:
            return None
        message_id = str(uuid.uuid4())
        await conn.execute(
            insert(messages).values(
                id=message_id,
                conversation_id=m.conversation_id,
                seq=row.last_seq,
                sender=m.sender,
                agent_id=m.agent_id,
                client_id=m.client_id,
                text=m.text,
                at=m.at,
            )
        )
        return Written(message_id, row.last_seq, m.at, row.agent_id, duplicate=False)
