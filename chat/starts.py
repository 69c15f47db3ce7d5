"""Group commit of chat starts on an SQLite file: the starts that arrive while one transaction
runs are written together in the next, in one call of one thread with its own connection.

At a campaign peak (2,000 starts in 10 s) a start through the async engine cost about 5 ms of
CPU, most of it SQLAlchemy's per-statement work and the hand-offs to SQLite's thread
(docs/performance.md, "The start path at a surge"). Here a batch is one hand-off, each start
a handful of plain sqlite3 statements compiled once from the same SQLAlchemy statements, and
the disk sees one commit per batch.

The rules are those of `VisitorUseCases.start`, per start, inside the batch's transaction:
the block check decides inside the write; the moment of joining the queue is taken under the
write lock; the place is counted (`chat.queue.ahead_in_queue`) after the batch's inserts and
before its commit, so a place told in the ack is the place at the commit however many start at
once. Each start is written under its own savepoint: one that fails (a duplicate, a bad value)
is rolled back alone and answered alone; the others of its batch are written. Nothing is
answered before the commit. A start in acute danger is not written here: it also begins the
crisis procedure, which stays on the engine's path (it is rare, and its rules live there)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ClauseElement, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from chat.blocks import VisitorHashes, stops_start
from chat.desk_store import visitor_blocks, visitor_marks
from chat.model import ConversationStatus
from chat.queue import RATE_WINDOW_ACCEPTS_S, ahead_in_queue
from chat.store import conversations, queue_state
from chat.writer import next_batch
from contact.db import Database, UTCDateTime
from contact.logs import happened
from contact.store import UNLOGGED_ACTIONS, audit_events

log = structlog.get_logger(__name__)

STARTED = "started"


@dataclass(frozen=True)
class NewStart:
    """One visitor's start, as `VisitorUseCases.start` decided it before the write."""

    conversation_id: str
    resume_hash: str
    caller_type: str
    intent: str
    topic: str | None
    team: str
    priority: int
    expertise: list[str] | None
    visitor: VisitorHashes
    at: datetime  # when it was asked (the audit entry, the block check)
    in_crisis_team: bool  # its team is the crisis team: everyone in it counts as crisis


@dataclass(frozen=True)
class Started:
    queued_at: datetime
    place: int  # from 1, in its team's queue, at the commit
    accepted_recently: int  # accepts in the wait estimate's window, at the commit


class Blocked(Exception):
    """An active block stops this start (answered as `closed`, as outside opening hours)."""


class Duplicate(Exception):
    """The database refused the start as a duplicate (a unique index): `conflict`."""


class StartLane:
    """A queue of starts; one task writes whatever has queued up as one transaction."""

    def __init__(self, db: Database, clock: Callable[[], datetime], max_batch: int = 200) -> None:
        self.db = db
        self.clock = clock
        self.max_batch = max_batch
        self.batches = 0
        self.written = 0
        self._queue: asyncio.Queue[tuple[NewStart, asyncio.Future[Started]] | None] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._closed = False
        self._sql = _Statements(db.write_engine.dialect)

    async def write(self, start: NewStart) -> Started:
        """Write `start` and answer its place once its batch committed; raises `Blocked`,
        `Duplicate`, or what the database raised (the whole batch then failed: nothing of it
        was written)."""
        if self._closed:
            raise RuntimeError("the start lane is closed")
        loop = asyncio.get_running_loop()
        # Started on first use, so that every user of the chat service has it (tests, benches).
        if self._task is None or self._task.done() or self._task.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._run(), name="start-writer")
        future: asyncio.Future[Started] = loop.create_future()
        self._queue.put_nowait((start, future))
        return await future

    async def close(self) -> None:
        """Write what is queued, then end and close the connection; a start after this is refused."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None and not task.done():
            if task.get_loop() is asyncio.get_running_loop():
                # Not cancelled: a batch in the thread would commit while its callers heard an error.
                self._queue.put_nowait(None)
                await task
            else:  # a loop that is gone (a test's): nobody waits on it any more
                task.cancel()
        if self._executor is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._close_conn)
            self._executor.shutdown(wait=True)
            self._executor = None

    def _close_conn(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = await next_batch(self._queue, self.max_batch)
            batch = [(s, f) for s, f in batch if not f.done()]  # a caller that gave up
            if not batch:
                continue
            if self._executor is None:
                self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="start-writer")
            loop = asyncio.get_running_loop()
            try:
                async with self.db.write_gate():  # in turn with this process's other writers
                    results = await loop.run_in_executor(self._executor, self._write, [s for s, _ in batch])
            except Exception as exc:  # the transaction failed as a whole: nothing was written
                log.warning("start_batch_failed", size=len(batch), error=type(exc).__name__)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self.batches += 1
            for (start, future), result in zip(batch, results, strict=True):
                if isinstance(result, Started):
                    self.written += 1
                    if STARTED not in UNLOGGED_ACTIONS:  # as `record_audit` logs it, after the commit
                        happened(
                            STARTED,
                            actor="visitor",
                            conversation_id=start.conversation_id,
                            caller_type=start.caller_type,
                            intent=start.intent,
                            danger_now=False,
                        )
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _write(self, batch: Sequence[NewStart]) -> list[Started | BaseException]:
        """In the lane's thread: the whole batch as one transaction."""
        if self._conn is None:
            self._conn = self.db.sqlite_connect()
        conn = self._conn
        sql = self._sql
        conn.execute("BEGIN IMMEDIATE")
        try:
            outcomes: list[datetime | BaseException] = []
            for start in batch:
                conn.execute("SAVEPOINT start")
                try:
                    outcomes.append(self._write_one(conn, start))
                except Exception as exc:
                    conn.execute("ROLLBACK TO start")
                    outcomes.append(_answer(exc))
                finally:
                    conn.execute("RELEASE start")
            results: list[Started | BaseException] = []
            accepted = 0
            if any(isinstance(o, datetime) for o in outcomes):
                conn.execute(sql.bump_queue.sql, sql.bump_queue.params({}))
                since = self.clock() - timedelta(seconds=RATE_WINDOW_ACCEPTS_S)
                accepted = int(conn.execute(sql.accepted.sql, sql.accepted.params({"since": since})).fetchone()[0])
            for start, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    results.append(outcome)
                    continue
                count = sql.ahead_crisis if start.in_crisis_team else sql.ahead
                values = {"team": start.team, "priority": start.priority, "since": outcome, "me": start.conversation_id}
                ahead = int(conn.execute(count.sql, count.params(values)).fetchone()[0])
                results.append(Started(outcome, ahead + 1, accepted))
            conn.execute("COMMIT")
        except BaseException:
            try:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            except sqlite3.Error:
                self._close_conn()  # a broken connection: the next batch opens a new one
            raise
        return results

    def _write_one(self, conn: sqlite3.Connection, start: NewStart) -> datetime:
        """One start under its savepoint: the block check, then its rows. Answers the moment it
        joined the queue."""
        sql = self._sql
        check = sql.blocks(start.visitor)
        if check is not None:
            rows = conn.execute(check.sql, check.params(_block_values(start))).fetchall()
            if any(
                stops_start(block_address=a, block_browser=b, whole_address=bool(w), start=start.visitor)
                for a, b, w in rows
            ):
                raise Blocked()
        # The place in the queue is the moment of joining it, taken under the write lock.
        queued_at = self.clock()
        conn.execute(
            sql.conversation.sql,
            sql.conversation.params(
                {
                    "id": start.conversation_id,
                    "status": ConversationStatus.WAITING,
                    "caller_type": start.caller_type,
                    "intent": start.intent,
                    "topic": start.topic,
                    "danger_now": False,
                    "team": start.team,
                    "priority": start.priority,
                    "resume_hash": start.resume_hash,
                    "created_at": queued_at,
                    "last_activity_at": queued_at,
                    "waiting_since": queued_at,
                    "last_seq": 0,
                    "expertise": start.expertise,
                }
            ),
        )
        conn.execute(
            sql.mark.sql,
            sql.mark.params(
                {
                    "conversation_id": start.conversation_id,
                    "address_hash": start.visitor.address,
                    "browser_hash": start.visitor.browser,
                }
            ),
        )
        conn.execute(
            sql.audit.sql,
            sql.audit.params(
                {
                    "at": start.at,
                    "action": STARTED,
                    "actor": "visitor",
                    "conversation_id": start.conversation_id,
                    "detail": {"caller_type": start.caller_type, "intent": start.intent, "danger_now": False},
                }
            ),
        )
        return queued_at


def _answer(exc: Exception) -> BaseException:
    if isinstance(exc, sqlite3.IntegrityError):
        return Duplicate()
    return exc


def _block_values(start: NewStart) -> dict[str, Any]:
    return {"now": start.at, "address": start.visitor.address, "browser": start.visitor.browser}


class _Compiled:
    """A SQLAlchemy statement compiled once for SQLite: its SQL, and its parameters in order,
    each converted by its column's type exactly as the engine converts it."""

    def __init__(
        self,
        statement: ClauseElement,
        dialect: Dialect,
        column_keys: list[str] | None = None,
        into: Table | None = None,
    ) -> None:
        # The columns' scalar defaults (an INSERT into `into`): the engine fills them in at execution.
        self._defaults = {
            c.key: c.default.arg
            for c in (into.columns if into is not None else ())
            if isinstance(c.default, ScalarElementColumnDefault)
        }
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        assert isinstance(compiled, SQLCompiler)
        self._compiled = compiled
        self.sql = str(compiled)
        order = list(compiled.positiontup or ())
        self._order = [(key, compiled.binds[key].type.dialect_impl(dialect).bind_processor(dialect)) for key in order]

    def params(self, values: dict[str, Any]) -> tuple[Any, ...]:
        full = self._compiled.construct_params({**self._defaults, **values} if self._defaults else values)
        return tuple(full[key] if convert is None else convert(full[key]) for key, convert in self._order)


_CONVERSATION_KEYS = [
    "id",
    "status",
    "caller_type",
    "intent",
    "topic",
    "danger_now",
    "team",
    "priority",
    "resume_hash",
    "created_at",
    "last_activity_at",
    "waiting_since",
    "last_seq",
    "expertise",
]


class _Statements:
    """Every statement of the lane, compiled once for this database's dialect."""

    def __init__(self, dialect: Dialect) -> None:
        self.conversation = _Compiled(insert(conversations), dialect, _CONVERSATION_KEYS, conversations)
        self.mark = _Compiled(
            insert(visitor_marks), dialect, ["conversation_id", "address_hash", "browser_hash"], visitor_marks
        )
        self.audit = _Compiled(
            insert(audit_events), dialect, ["at", "action", "actor", "conversation_id", "detail"], audit_events
        )
        self.bump_queue = _Compiled(
            update(queue_state).where(queue_state.c.id == 1).values(version=queue_state.c.version + 1), dialect
        )
        self.accepted = _Compiled(
            select(func.count()).where(conversations.c.accepted_at >= bindparam("since", type_=UTCDateTime())),
            dialect,
        )
        self.ahead = _Compiled(ahead_in_queue(crisis=False, danger_now=False), dialect)
        self.ahead_crisis = _Compiled(ahead_in_queue(crisis=True, danger_now=False), dialect)
        self._blocks = {
            (address, browser): self._block_check(dialect, address, browser)
            for address in (False, True)
            for browser in (False, True)
            if address or browser
        }

    def blocks(self, visitor: VisitorHashes) -> _Compiled | None:
        """The block check of `chat.blocks.is_blocked` for the hashes this start has (None: none)."""
        return self._blocks.get((visitor.address is not None, visitor.browser is not None))

    @staticmethod
    def _block_check(dialect: Dialect, address: bool, browser: bool) -> _Compiled:
        b = visitor_blocks.c
        matches = []
        if address:
            matches.append(b.address_hash == bindparam("address"))
        if browser:
            matches.append(b.browser_hash == bindparam("browser"))
        return _Compiled(
            select(b.address_hash, b.browser_hash, b.whole_address).where(
                b.lifted_at.is_(None), b.until > bindparam("now", type_=UTCDateTime()), or_(*matches)
            ),
            dialect,
        )
