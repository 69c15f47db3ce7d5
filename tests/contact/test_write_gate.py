"""On SQLite the writers of one process take turns at the write lock in the order they came.

The message writer's batch that arrives while a job's transaction holds the lock goes next,
before the job's following transaction (before, it slept in SQLite's busy handler and lost the
lock to the job again and again: the stalls of issue 19). A wait for a turn is bounded by the
lock timeout and answers `unavailable`, as a wait for SQLite's lock does."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

from sqlalchemy import insert, select, text, update

from chat.model import ConversationStatus
from chat.store import conversations
from chat.writer import MessageWriter, NewMessage
from contact.db import Database, unavailable
from tests.support.server import add_agent, migrated_sqlite

AT = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


async def _db_with_conversation(path: str, **kw: float) -> tuple[Database, str]:
    url = await migrated_sqlite(path)
    agent, _ = await add_agent(url)
    db = Database(url, **kw)
    cid = str(uuid.uuid4())
    async with db.write() as conn:
        await conn.execute(
            insert(conversations).values(
                id=cid, status=ConversationStatus.ACTIVE, caller_type="volwassene", intent="advies",
                team="volwassenen", priority=0, resume_hash=uuid.uuid4().hex, created_at=AT,
                waiting_since=AT, last_seq=0, agent_id=agent.id,
            )
        )  # fmt: skip
    return db, cid


async def test_a_message_batch_goes_before_a_job_transaction_that_came_after_it(tmp_path):
    db, cid = await _db_with_conversation(str(tmp_path / "gate.db"))
    writer = MessageWriter(db)
    assert writer._lane is not None  # the SQLite lane, with its own connection
    writer.start()
    order: list[str] = []
    job_holds, release = asyncio.Event(), asyncio.Event()

    async def job() -> None:
        async with db.write() as conn:
            order.append("job 1 begins")
            await conn.execute(text("UPDATE lease SET holder = holder"))
            job_holds.set()
            await release.wait()  # a job's transaction spans loop round trips
        async with db.write() as conn:  # and its next one follows at once
            order.append("job 2 begins")
            await conn.execute(text("UPDATE lease SET holder = holder"))

    async def message() -> None:
        await writer.write(NewMessage(cid, "visitor", "m1", "hallo", AT))
        order.append("message written")

    try:
        running = asyncio.create_task(job())
        await job_holds.wait()
        posted = asyncio.create_task(message())
        await asyncio.sleep(0.15)  # the batch is waiting for its turn
        release.set()
        await asyncio.wait_for(asyncio.gather(running, posted), 10)
        assert order == ["job 1 begins", "message written", "job 2 begins"]
    finally:
        await writer.stop()
        await db.dispose()


async def test_waiting_for_a_turn_is_bounded_by_the_lock_timeout(tmp_path):
    db, _ = await _db_with_conversation(str(tmp_path / "bounded.db"), lock_timeout_s=0.2)
    try:
        async with db.write():
            began = asyncio.get_running_loop().time()
            try:
                async with db.write():
                    raise AssertionError("a second write transaction of this process while the first runs")
            except TimeoutError as exc:
                assert unavailable(exc)
            assert asyncio.get_running_loop().time() - began < 2
        async with db.write() as conn:  # the turn is free again
            assert await conn.scalar(select(1)) == 1
    finally:
        await db.dispose()


async def test_turns_are_taken_in_the_order_they_were_asked_for(tmp_path):
    db, _ = await _db_with_conversation(str(tmp_path / "order.db"))
    order: list[int] = []

    async def one(i: int) -> None:
        async with db.write() as conn:
            await conn.execute(text("UPDATE lease SET holder = holder"))
            order.append(i)

    try:
        await asyncio.gather(*(one(i) for i in range(20)))
        assert order == list(range(20))
    finally:
        await db.dispose()


async def test_a_write_cancelled_mid_statement_ends_as_cancelled_and_frees_the_gate(tmp_path):
    """A task cancelled while its statement runs (a client gone, a shutdown) ends with CancelledError, not
    with an error about the broken connection from the clean-up, and the next write goes ahead."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'cancel.db'}")
    long_query = text(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000000) SELECT count(*) FROM c"
    )

    async def long() -> None:
        async with db.write() as conn:
            await conn.execute(long_query)

    try:
        task = asyncio.create_task(long())
        await asyncio.sleep(0.3)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
        async with asyncio.timeout(10), db.write() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    finally:
        await db.dispose()


async def test_close_lets_transactions_under_way_end_and_refuses_new_ones(tmp_path) -> None:
    """When the app stops, its Database closes last: a transaction under way still commits, and a
    task that asks for the database after that (a shared queue read started by a late disconnect)
    gets `unavailable` instead of a new connection that nothing would ever close (one thread left
    behind per stop)."""
    import threading

    from contact.db import DatabaseClosed

    db, cid = await _db_with_conversation(str(tmp_path / "close.db"))
    threads_before = {t.ident for t in threading.enumerate()}
    inside, release = asyncio.Event(), asyncio.Event()

    async def slow_write() -> None:
        async with db.write() as conn:
            inside.set()
            await release.wait()
            await conn.execute(update(conversations).where(conversations.c.id == cid).values(topic="na sluiten"))

    writing = asyncio.create_task(slow_write())
    await inside.wait()
    closing = asyncio.create_task(db.close())
    await asyncio.sleep(0.05)
    assert not closing.done()  # waits for the write under way
    try:
        async with db.read():
            raise AssertionError("a read after close began")
    except DatabaseClosed as exc:
        assert unavailable(exc)
    release.set()
    await asyncio.wait_for(asyncio.gather(writing, closing), 10)

    check = Database(db.url.render_as_string(hide_password=False))
    try:
        async with check.read() as conn:
            assert await conn.scalar(select(conversations.c.topic).where(conversations.c.id == cid)) == "na sluiten"
    finally:
        await check.dispose()
    await asyncio.sleep(0.1)
    left = [t.name for t in threading.enumerate() if t.ident not in threads_before and t.is_alive()]
    assert not [name for name in left if "connection_worker" in name], left


async def test_close_does_not_wait_forever_for_a_transaction_that_hangs(tmp_path) -> None:
    db, _ = await _db_with_conversation(str(tmp_path / "hang.db"))
    inside = asyncio.Event()

    async def hangs() -> None:
        async with db.read():
            inside.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(hangs())
    await inside.wait()
    try:
        await asyncio.wait_for(db.close(wait_s=0.2), 5)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
