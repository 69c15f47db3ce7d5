"""Group commit for chat messages: many concurrent posts share one transaction and one fsync.

Each post waits for the commit of its batch before it is answered, so "commit, then emit"
holds while the disk sees one write per batch instead of one per message.

The writer keeps a database connection of its own, one more than the engine's pool: on an
SQLite file a plain sqlite3 connection in its own thread (`_SqliteLane`), on PostgreSQL a plain
asyncpg connection (`_PostgresLane`). Anything else (SQLite in memory, another driver) goes
through the engine. The rules of a batch are one `_Plan` for all three."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

import structlog
from sqlalchemy import bindparam, insert, select, tuple_, update

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


T = TypeVar("T")


async def next_batch(queue: asyncio.Queue[T | None], most: int) -> tuple[list[T], bool]:
    """The next group to write: the first item to arrive and whatever else is queued already, up to
    `most`; and whether the stop mark (None) came with them (then no group follows)."""
    first = await queue.get()
    if first is None:
        return [], True
    batch = [first]
    while len(batch) < most and not queue.empty():
        item = queue.get_nowait()
        if item is None:
            return batch, True
        batch.append(item)
    return batch, False


class MessageWriter:
    """Queue of messages to store; one task writes whatever has queued up in one transaction.
    `stop` closes the writer's own connection (`Database.close` does too, if it comes first)."""

    def __init__(self, db: Database, max_batch: int = 256) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[NewMessage, asyncio.Future[Written | None]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        self.written = 0
        self._lane: _SqliteLane | _PostgresLane | None = None
        if db.sqlite_path() is not None:
            self._lane = _SqliteLane(db)
        elif not db.is_sqlite and db.url.get_driver_name() == "asyncpg":
            self._lane = _PostgresLane(db)
        self._on_stop: list[Callable[[], Awaitable[None]]] = []

    def on_stop(self, close: Callable[[], Awaitable[None]]) -> None:
        """Also await `close` when the writer stops (the start lane, chat/starts.py)."""
        self._on_stop.append(close)

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="message-writer")

    async def stop(self) -> None:
        """Write what is queued, then end; a post after this is refused."""
        if self._task is not None and not self._task.done():
            await self._queue.put(None)
            await self._task
        if self._lane is not None:
            await self._lane.close()
        for close in self._on_stop:
            await close()

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
            batch, stopping = await next_batch(self._queue, self.max_batch)
            if not batch:
                continue
            # Lock conversations in one order everywhere (PostgreSQL deadlocks otherwise);
            # the sort is stable, so one conversation's messages keep their order.
            if len(batch) > 1:
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
        if isinstance(self._lane, _SqliteLane):
            async with self.db.write_gate():  # in turn with this process's other writers
                return await self._lane.write(batch)
        if self._lane is not None:
            return await self._lane.write(batch)
        return await self._write_batch_engine(batch)

    async def _write_batch_engine(self, batch: list[NewMessage]) -> list[Written | None]:
        """One transaction of four statements whatever the batch size: the duplicates of the
        whole batch, the conversations (locked), one UPDATE of their seq counters (executemany)
        and one multi-row INSERT. The rules (status, holder) are applied on the locked rows."""
        async with self.db.write() as conn:
            plan = _Plan(batch)
            if plan.keys:
                plan.known_rows(
                    (r.conversation_id, r.sender, r.client_id, r.id, r.seq, r.at)
                    for r in await conn.execute(_FIND_DUPLICATES, {"keys": plan.keys})
                )
            ids = plan.conversation_ids()
            if ids:
                plan.apply(
                    (r.id, r.status, r.agent_id, r.last_seq, bool(r.read_along))
                    for r in await conn.execute(_LOCK_CONVERSATIONS, {"ids": ids})
                )
            if plan.rows:
                seqs = [{"cid": c, "seq": n, "at": plan.at} for c, n in plan.changed.items()]
                await conn.execute(_SET_LAST_SEQ, seqs)
                await conn.execute(_INSERT_MESSAGES, plan.rows)  # executemany: one round trip
        return plan.results()


def takes(status: str, holder_id: str | None, message: NewMessage) -> bool:
    """Whether a conversation in `status`, held by `holder_id`, takes `message`: it is open for
    it, and an agent's message comes from the agent who holds it."""
    if status not in message.statuses:
        return False
    return message.sender != "agent" or holder_id == message.agent_id


class _Plan:
    """The rules of one batch, apart from how it is read and written: which messages are
    duplicates (in the database or within the batch), which conversations take them (open,
    held by the sending agent), their seq numbers, and the rows to insert."""

    def __init__(self, batch: list[NewMessage]) -> None:
        self.batch = batch
        self._results: list[Written | None] = [None] * len(batch)
        self._same_as: dict[int, int] = {}  # a client_id repeated within this batch -> its first message
        self.keys = list({(m.conversation_id, m.sender, m.client_id) for m in batch if m.client_id is not None})
        self._fresh: list[int] | None = None
        self.rows: list[dict[str, Any]] = []
        self.changed: dict[str, int] = {}
        self.at: datetime | None = None

    def known_rows(self, rows: Iterable[tuple[str, str, str | None, str, int, datetime]]) -> None:
        """The stored messages that have one of `keys`: (conversation, sender, client_id, id, seq, at)."""
        known = {(c, sender, cid): Written(mid, seq, at, None, duplicate=True) for c, sender, cid, mid, seq, at in rows}
        seen: dict[tuple[str, str, str | None], int] = {}
        fresh: list[int] = []
        for i, m in enumerate(self.batch):
            if m.client_id is not None:
                key = (m.conversation_id, m.sender, m.client_id)
                if key in known:
                    self._results[i] = known[key]
                    continue
                if key in seen:
                    self._same_as[i] = seen[key]
                    continue
                seen[key] = i
            fresh.append(i)
        self._fresh = fresh

    def conversation_ids(self) -> list[str]:
        """The conversations to lock and read, in id order (PostgreSQL deadlocks otherwise)."""
        if self._fresh is None:
            self.known_rows(())
        assert self._fresh is not None
        return sorted({self.batch[i].conversation_id for i in self._fresh})

    def apply(self, conversations: Iterable[tuple[str, str, str | None, int, bool]]) -> None:
        """Given the locked conversations (id, status, agent_id, last_seq, read_along): the rows."""
        state = {c[0]: c for c in conversations}
        last_seq = {cid: c[3] for cid, c in state.items()}
        for i in self._fresh or ():
            m = self.batch[i]
            conv = state.get(m.conversation_id)
            if conv is None or not takes(conv[1], conv[2], m):
                continue  # unknown, closed, or not held by this agent: None
            last_seq[m.conversation_id] += 1
            seq = last_seq[m.conversation_id]
            message_id = str(uuid.uuid4())
            self.rows.append(
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
            self._results[i] = Written(message_id, seq, m.at, conv[2], duplicate=False, read_along=conv[4])
        self.changed = {cid: n for cid, n in last_seq.items() if n != state[cid][3]}
        # A message is activity: the visitor's resume token lives on from it. The messages of
        # one batch were posted within moments: its newest time serves all.
        self.at = max((row["at"] for row in self.rows), default=None)

    def renumber(self, seqs: dict[str, int]) -> None:
        """The seq numbers the database gave the rows (by message id), in place of the plan's."""
        for i, result in enumerate(self._results):
            if result is not None and not result.duplicate and result.id in seqs:
                self._results[i] = dataclasses.replace(result, seq=seqs[result.id])

    def results(self) -> list[Written | None]:
        for i, j in self._same_as.items():
            first = self._results[j]
            self._results[i] = None if first is None else dataclasses.replace(first, holder_id=None, duplicate=True)
        return self._results


class _SqliteLane:
    """SQLite: the whole batch in one call of one thread that owns its own connection.

    Through the async engine every statement is several hand-offs to the driver's thread and
    back (cursor, execute, fetch, close), each with SQLAlchemy's per-statement work; at a
    realistic chat load most batches hold one message, so that overhead was most of the cost
    of a message (docs/performance.md). Here the transaction (BEGIN IMMEDIATE … COMMIT) is one
    hand-off, and the loop is free while the thread waits for the lock or the disk. The rules
    are the same `_Plan`; the times are stored by the same column type as everywhere else."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="message-writer")
        self._conn: sqlite3.Connection | None = None
        dialect = db.write_engine.dialect
        column_type = messages.c.at.type.dialect_impl(dialect)
        to_db = column_type.bind_processor(dialect)
        from_db = column_type.result_processor(dialect, None)
        assert to_db is not None and from_db is not None
        self._to_db: Callable[[datetime], Any] = to_db
        self._from_db = cast(Callable[[Any], datetime], from_db)

    async def write(self, batch: list[NewMessage]) -> list[Written | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, batch)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _write(self, batch: list[NewMessage]) -> list[Written | None]:
        if self._conn is None:
            self._conn = self.db.sqlite_connect()
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            plan = _Plan(batch)
            plan.known_rows(
                (c, sender, cid, mid, seq, self._from_db(at))
                for c, sender, cid in plan.keys
                for mid, seq, at in conn.execute(_SQLITE_FIND_DUPLICATE, (c, sender, cid)).fetchall()
            )
            plan.apply(
                (row[0], row[1], row[2], row[3], bool(row[4]))
                for cid in plan.conversation_ids()
                for row in conn.execute(_SQLITE_CONVERSATION, (cid,)).fetchall()
            )
            if plan.rows:
                assert plan.at is not None
                at = self._to_db(plan.at)
                conn.executemany(_SQLITE_SET_LAST_SEQ, [(n, at, cid) for cid, n in plan.changed.items()])
                conn.executemany(
                    _SQLITE_INSERT,
                    [tuple(r[c] for c in _SQLITE_COLUMNS[:-1]) + (self._to_db(r["at"]),) for r in plan.rows],
                )
            conn.execute("COMMIT")
        except BaseException:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                self._close()  # a broken connection: the next batch opens a new one
            raise
        return plan.results()


class _PostgresLane:
    """PostgreSQL: the writer's own asyncpg connection, and a batch in two round trips.

    Through the engine a batch cost seven: the pool's checkout with its pre-ping, BEGIN, the
    duplicates, the conversations (locked), the UPDATE of their counters, the INSERT, COMMIT;
    each with SQLAlchemy's per-statement work. At a realistic load most batches hold one to
    three messages, so that was most of a message's cost (docs/performance.md, session 10).

    Here it is one or two statements, each its own transaction (no BEGIN, no COMMIT, no lock
    held between them). The write, a data-modifying CTE over arrays, raises the counters of the
    conversations whose status, holder and read-along flag are still what the plan was made on
    and that hold none of the batch's client_ids yet (compare-and-set), and inserts the messages
    of exactly those conversations, numbered by the database from the counter it raised: two
    processes writing to one conversation (a visitor here, the advisor there) never make each
    other's write fail, and the seqs stay without gaps. Before it, a read of the batch's
    conversations with their stored messages that have one of the batch's keys, except for the
    conversations whose state this lane knows (`_known`: as its last read or write left them)
    and under which every message of theirs is taken: a conversation in an ongoing chat is one
    statement a batch. The known state only ever says yes; the write checks it. A message of a
    conversation that changed meanwhile (accepted, transferred, closed, someone reads along, its
    client_id stored by another process) goes through again, read; after two lost races the rest
    is written the locked way (BEGIN, the conversations locked in id order with the duplicates,
    the write, COMMIT), which always ends. A client_id another process stores at the same moment
    meets the unique index: the batch is refused whole and `MessageWriter` writes it again one by
    one, read. asyncpg prepares each statement once per connection.

    The connection is one more than the engine's pool, opened by `Database.pg_connect` with the
    engine's settings (statement timeout on the server and in the client). One that broke or did
    not answer in time is dropped: that batch fails as `unavailable` like the engine's, the next
    opens a new one. Each batch counts as a transaction of the Database, so `Database.close`
    refuses it once closing (`DatabaseClosed`) and waits for the one under way."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._conn: Any = None
        self.races_lost = 0  # conversations changed since what the plan was made on: written again
        self.round_trips = 0  # statements sent (for tests and the bench)
        # Conversation id -> (status, holder, read-along) as this lane last read or wrote them,
        # the oldest first; at most `_KNOWN_MAX` (a process holds far fewer open conversations).
        self._known: dict[str, tuple[str, str | None, bool]] = {}
        dialect = db.write_engine.dialect
        column_type = messages.c.at.type.dialect_impl(dialect)
        self._to_db = cast(Callable[[datetime], Any], column_type.bind_processor(dialect))
        self._from_db = cast(Callable[[Any], datetime], column_type.result_processor(dialect, None))
        assert self._to_db is not None and self._from_db is not None

    async def write(self, batch: list[NewMessage]) -> list[Written | None]:
        try:
            return await self._write(batch)
        except BaseException:
            self.forget(batch)
            raise

    async def _write(self, batch: list[NewMessage]) -> list[Written | None]:
        async with self.db.in_use():
            results: list[Written | None] = [None] * len(batch)
            todo = list(range(len(batch)))
            for attempt in range(_UNLOCKED_TRIES + 1 if _UNLOCKED_TRIES else 0):
                plan, lost = await self._write_unlocked([batch[i] for i in todo], trust_known=attempt == 0)
                answers = plan.results()
                left = []
                for i, answer in zip(todo, answers, strict=True):
                    if batch[i].conversation_id in lost:
                        left.append(i)
                    else:
                        results[i] = answer
                todo = left
                if not todo:
                    return results
            # Lost the race twice after a read: the rest under the conversations' locks, which
            # always ends.
            for i, answer in zip(todo, await self._write_locked([batch[i] for i in todo]), strict=True):
                results[i] = answer
            return results

    async def _write_unlocked(self, batch: list[NewMessage], trust_known: bool) -> tuple[_Plan, set[str]]:
        """Read the conversations this lane does not know (or all of them, unless `trust_known`),
        then write what the plan decided, but only into conversations whose status, holder and
        read-along flag are still what the plan was made on and that hold none of the batch's
        client_ids yet (compare-and-set; each message row goes with its conversation's counter).
        Gives the plan and the conversations that changed meanwhile: their messages were not
        written."""
        plan = _Plan(batch)
        known = self._trusted(batch) if trust_known else {}
        rows: list[Any] = []
        read = len(known) < len({m.conversation_id for m in batch})
        if read:
            rows = await self._first(_PG_READ, *_read_args(plan, skip=known.keys()))
            self.round_trips += 1
        self._duplicates(plan, rows)
        # Counted from 0: the rows are numbered 1, 2, … within their conversation, and the write
        # adds the conversation's counter as it finds it.
        state = {cid: (cid, status, holder, 0, read_along) for cid, (status, holder, read_along) in known.items()}
        for r in rows:
            state[r["id"]] = (r["id"], r["status"], r["agent_id"], 0, bool(r["read_along"]))
            self._remember(r["id"], r["status"], r["agent_id"], bool(r["read_along"]))
        plan.apply(state.values())
        if not plan.rows:
            return plan, set()
        assert plan.at is not None
        ids = sorted(plan.changed)  # the rows in one order in every process (fewer deadlocks)
        args = (
            ids,
            [plan.changed[c] for c in ids],
            [state[c][1] for c in ids],
            [state[c][2] for c in ids],
            [state[c][4] for c in ids],
            self._to_db(plan.at),
            *([r[c] for r in plan.rows] for c in _PG_COLUMNS[:-1]),
            [self._to_db(r["at"]) for r in plan.rows],
        )
        if read:
            conn = self._conn
            try:
                stored = await conn.fetch(_PG_WRITE_COUNTED, *args)
            except BaseException as exc:
                self._after_failure(conn, exc)
                raise
        else:
            # The batch's first statement. Sent again on a new connection only if the server had
            # ended the old one while it sat idle: then it never ran. Should it have run after all,
            # its client_ids are stored: the conversations come back as changed and are read.
            repeat = all(m.client_id is not None for m in batch)
            stored = await self._first(_PG_WRITE_COUNTED, *args, repeat=repeat)
        self.round_trips += 1
        plan.renumber({r["id"]: r["seq"] for r in stored})
        written = {r["conversation_id"] for r in stored}
        for cid in written:
            self._remember(cid, state[cid][1], state[cid][2], state[cid][4])
        lost = set(ids) - written
        for cid in lost:
            self._known.pop(cid, None)
        self.races_lost += len(lost)
        return plan, lost

    def _trusted(self, batch: list[NewMessage]) -> dict[str, tuple[str, str | None, bool]]:
        """The batch's conversations whose state this lane knows and under which it takes every
        message of theirs in the batch. A no is never trusted: that conversation is read."""
        messages_of: dict[str, list[NewMessage]] = {}
        for m in batch:
            messages_of.setdefault(m.conversation_id, []).append(m)
        trusted = {}
        for cid, its in messages_of.items():
            state = self._known.get(cid)
            if state is not None and all(takes(state[0], state[1], m) for m in its):
                trusted[cid] = state
        return trusted

    def _remember(self, cid: str, status: str, holder: str | None, read_along: bool) -> None:
        self._known.pop(cid, None)
        self._known[cid] = (status, holder, read_along)
        if len(self._known) > _KNOWN_MAX:
            del self._known[next(iter(self._known))]

    def forget(self, batch: list[NewMessage]) -> None:
        """After a failed batch: its conversations are read again (its retry one by one too)."""
        for m in batch:
            self._known.pop(m.conversation_id, None)

    async def _first(self, query: str, *args: Any, repeat: bool = True) -> list[Any]:
        """A batch's first statement. On a connection that the server ended while it sat idle (a
        restart, `pg_terminate_backend`: what the engine's pre-ping finds) it fails before
        anything of the batch was done; then once more on a new one (unless not to `repeat`).
        Not after a timeout: the server does not answer, and a new connection would only wait as
        long again."""
        for attempt in (1, 2):
            fresh = self._conn is None or self._conn.is_closed()
            if fresh:
                self._conn = await self._connect()
            conn = self._conn
            try:
                return cast(list[Any], await conn.fetch(query, *args))
            except BaseException as exc:
                ended = self._ended_while_idle(conn, exc)
                self._after_failure(conn, exc)
                if fresh or attempt == 2 or not ended or not repeat:
                    raise
                log.info("message_writer_reconnects")
        raise AssertionError("unreachable")

    @staticmethod
    def _ended_while_idle(conn: Any, exc: BaseException) -> bool:
        """The server had closed the connection (not: it did not answer in time, or we were cancelled)."""
        return (
            isinstance(exc, Exception) and not isinstance(exc, TimeoutError) and unavailable(exc) and conn.is_closed()
        )

    def _duplicates(self, plan: _Plan, rows: list[Any]) -> None:
        """The stored messages with one of the batch's keys, as the read brought them."""
        plan.known_rows(
            (r["id"], r["sender"], r["client_id"], r["message_id"], r["seq"], self._from_db(r["at"]))
            for r in rows
            if r["message_id"] is not None
        )

    @staticmethod
    def _dropped(conn: Any, exc: BaseException) -> bool:
        return not isinstance(exc, Exception) or unavailable(exc) or conn.is_closed()

    def _after_failure(self, conn: Any, exc: BaseException) -> None:
        """Broken, timed out or cancelled midway: the connection's state is unknown, so it goes (the
        next batch opens a new one). After a refusal of the server (a duplicate client_id of
        another process) it is kept."""
        if self._dropped(conn, exc):
            if self._conn is conn:
                self._conn = None
            self.db.drop_connection(conn)

    async def _write_locked(self, batch: list[NewMessage]) -> list[Written | None]:
        """BEGIN, the conversations locked in id order with the duplicates, the write, COMMIT."""
        conn, transaction = await self._begin()
        try:
            plan = _Plan(batch)
            rows = await conn.fetch(_PG_READ_LOCKED, *_read_args(plan))
            self._duplicates(plan, rows)
            plan.apply((r["id"], r["status"], r["agent_id"], r["last_seq"], bool(r["read_along"])) for r in rows)
            if plan.rows:
                assert plan.at is not None
                await conn.execute(
                    _PG_WRITE,
                    list(plan.changed),
                    list(plan.changed.values()),
                    self._to_db(plan.at),
                    *([r[c] for r in plan.rows] for c in _PG_COLUMNS[:-1]),
                    [self._to_db(r["at"]) for r in plan.rows],
                )
            await transaction.commit()
        except BaseException as exc:
            await self._rollback(conn, transaction, exc)
            raise
        return plan.results()

    async def _begin(self) -> tuple[Any, Any]:
        """BEGIN on the lane's connection. One that the server ended while it sat idle (a restart,
        `pg_terminate_backend`: what the engine's pre-ping finds) fails here, before anything of
        the batch was sent; then once more on a new one. Not after a timeout: the server does
        not answer, and a new connection would only wait as long again."""
        for attempt in (1, 2):
            fresh = self._conn is None or self._conn.is_closed()
            if fresh:
                self._conn = await self._connect()
            conn = self._conn
            transaction = conn.transaction()
            try:
                await transaction.start()
            except BaseException as exc:
                ended = self._ended_while_idle(conn, exc)
                self._after_failure(conn, ConnectionError())  # its state is unknown: it goes
                if fresh or attempt == 2 or not ended:
                    raise
                log.info("message_writer_reconnects")
                continue
            return conn, transaction
        raise AssertionError("unreachable")

    async def _rollback(self, conn: Any, transaction: Any, exc: BaseException) -> None:
        if not self._dropped(conn, exc):
            try:
                await transaction.rollback()
                return
            except Exception as failed:
                log.info("message_writer_rollback_failed", error=type(failed).__name__)
        self._after_failure(conn, ConnectionError())

    async def _connect(self) -> Any:
        """The server gives up on a statement a fifth sooner than the client: a write that waits
        (for a row another transaction holds) is cancelled, nothing written, before the client
        answers `unavailable`. The other way round, a statement of its own transaction that the
        client gave up on could still commit once it got the row (the resend would come back
        `duplicate`, but the peers would see the message only then)."""
        return await self.db.pg_connect(server_timeout_s=0.8 * self.db.statement_timeout_s)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await self.db.close_connection(conn)


def _read_args(plan: _Plan, skip: Iterable[str] = ()) -> tuple[list[str], list[str], list[str], list[str | None]]:
    """The PostgreSQL lane's read statements' arguments: the batch's conversations but `skip`,
    and their keys (conversation, sender, client_id) as three arrays."""
    skipped = set(skip)
    keys = [k for k in plan.keys if k[0] not in skipped]
    return (
        sorted({m.conversation_id for m in plan.batch} - skipped),
        [k[0] for k in keys],
        [k[1] for k in keys],
        [k[2] for k in keys],
    )


def _worth_retrying(exc: BaseException) -> bool:
    """A duplicate client_id of another process or a deadlock: yes. A timeout (statement,
    pool, lock) or a lost connection: no, the same would happen again."""
    return not unavailable(exc)


# Built once: SQLAlchemy then neither builds the statement nor its cache key per batch.
_SET_LAST_SEQ = (
    update(conversations)
    .where(conversations.c.id == bindparam("cid"))
    .values(last_seq=bindparam("seq"), last_activity_at=bindparam("at"))
)
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

# The same for the SQLite lane, in SQLite's own words (the unique index answers the first).
_SQLITE_FIND_DUPLICATE = "SELECT id, seq, at FROM message WHERE conversation_id = ? AND sender = ? AND client_id = ?"
_SQLITE_CONVERSATION = "SELECT id, status, agent_id, last_seq, read_along FROM conversation WHERE id = ?"
_SQLITE_SET_LAST_SEQ = "UPDATE conversation SET last_seq = ?, last_activity_at = ? WHERE id = ?"
_SQLITE_COLUMNS = ("id", "conversation_id", "seq", "sender", "agent_id", "client_id", "text", "at")
_SQLITE_INSERT = (
    "INSERT INTO message (id, conversation_id, seq, sender, agent_id, client_id, text, at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)

# The same for the PostgreSQL lane. The first locks the batch's conversations in id order (the
# engine's order too; MATERIALIZED: locked once, whatever the plan) and brings each one's stored
# messages with one of the batch's keys; the second updates the counters and inserts the rows.
_PG_READ_LOCKED = """
WITH locked AS MATERIALIZED (
    SELECT id, status, agent_id, last_seq, read_along FROM conversation
    WHERE id = ANY($1::varchar[]) ORDER BY id FOR UPDATE
)
SELECT l.id, l.status, l.agent_id, l.last_seq, l.read_along,
       d.sender, d.client_id, d.id AS message_id, d.seq, d.at
FROM locked AS l
LEFT JOIN (
    SELECT m.conversation_id, m.sender, m.client_id, m.id, m.seq, m.at
    FROM message AS m
    JOIN unnest($2::varchar[], $3::varchar[], $4::varchar[]) AS k(conversation_id, sender, client_id)
      ON m.conversation_id = k.conversation_id AND m.sender = k.sender AND m.client_id = k.client_id
) AS d ON d.conversation_id = l.id
"""
_PG_COLUMNS = _SQLITE_COLUMNS
_PG_WRITE = """
WITH counters AS (
    UPDATE conversation AS c SET last_seq = u.last_seq, last_activity_at = $3
    FROM unnest($1::varchar[], $2::integer[]) AS u(id, last_seq)
    WHERE c.id = u.id
)
INSERT INTO message (id, conversation_id, seq, sender, agent_id, client_id, text, at)
SELECT * FROM unnest(
    $4::varchar[], $5::varchar[], $6::integer[], $7::varchar[], $8::varchar[], $9::varchar[], $10::varchar[],
    $11::timestamptz[]
)
"""
# Without the lock: what the two-statement way reads.
_PG_READ = _PG_READ_LOCKED.replace(" ORDER BY id FOR UPDATE", "").replace("AS MATERIALIZED", "AS")
# Counters raised only where status, holder and read-along are what the plan was made on (who
# is told of the message was decided on them: a reader who started meanwhile must get it live or
# in their snapshot) and where none of the rows' client_ids is stored yet (another process stored
# it meanwhile: read, it is answered as the duplicate it is); a message only with its counter,
# numbered from it (the ordinals $9: 1, 2, … within its conversation). Two writers of one conversation each
# add to the counter they find (the row lock orders them): no seq twice, none left out.
_PG_WRITE_COUNTED = """
WITH r AS (
    SELECT * FROM unnest(
        $7::varchar[], $8::varchar[], $9::integer[], $10::varchar[], $11::varchar[], $12::varchar[],
        $13::varchar[], $14::timestamptz[]
    ) AS r(id, conversation_id, ord, sender, agent_id, client_id, text, at)
), counters AS (
    UPDATE conversation AS c SET last_seq = c.last_seq + u.n, last_activity_at = $6
    FROM unnest($1::varchar[], $2::integer[], $3::varchar[], $4::varchar[], $5::boolean[])
        AS u(id, n, status, agent_id, read_along)
    WHERE c.id = u.id AND c.status = u.status
      AND c.agent_id IS NOT DISTINCT FROM u.agent_id AND c.read_along = u.read_along
      AND NOT EXISTS (
          SELECT 1 FROM r JOIN message AS m
            ON m.conversation_id = r.conversation_id AND m.sender = r.sender AND m.client_id = r.client_id
          WHERE r.conversation_id = c.id
      )
    RETURNING c.id, c.last_seq - u.n AS base
)
INSERT INTO message (id, conversation_id, seq, sender, agent_id, client_id, text, at)
SELECT r.id, r.conversation_id, k.base + r.ord, r.sender, r.agent_id, r.client_id, r.text, r.at
FROM r JOIN counters AS k ON k.id = r.conversation_id
RETURNING id, conversation_id, seq
"""
_UNLOCKED_TRIES = 2
# The conversations whose state a lane keeps (the oldest goes first).
_KNOWN_MAX = 10_000
