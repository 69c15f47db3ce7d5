"""A wave of disconnects marks every visitor away, and none is lost when the database is slow.

On a real server of the test's own (SQLite): many visitors with an active or a waiting chat drop
at once, and every conversation is marked away and every holder is told (`visitor_presence`
`present: false`), also while another connection holds SQLite's write lock for longer than the
server's lock timeout (each write then fails, and is tried again). Then `AwayMarks` on its own:
one write per batch, retries without dropping, no mark for a visitor who is back, the shutdown."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from app import lifecycles
from chat.away import MAX_BATCH, AwayMarks
from chat.model import Outgoing, QueueChanged
from chat.store import conversations
from contact.clock import ManualClock
from contact.db import Database
from tests.support.server import (
    Client,
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


async def _away_marks(url: str, ids: list[str]) -> dict[str, datetime | None]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = await conn.execute(
                select(conversations.c.id, conversations.c.visitor_away_since).where(conversations.c.id.in_(ids))
            )
            return {r.id: r.visitor_away_since for r in rows}
    finally:
        await db.dispose()


async def _until(check, what: str, timeout: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


async def _chats(server: RunningServer, url: str, active_per_agent: int, waiting: int):
    """Two advisors holding `active_per_agent` chats each, and `waiting` visitors in the queue."""
    holders: list[tuple[Client, list[str]]] = []
    visitors: list[Client] = []
    for _ in range(2):
        identity, password = await add_agent(url)
        agent = await agent_client(server.url, await login(server.url, identity.username, password))
        held = []
        for _ in range(active_per_agent):
            v = await visitor(server.url)
            cid = (await v.call("start", start_payload()))["conversation_id"]
            taken = await agent.call("accept", {"conversation_id": cid})
            assert taken["conversation"]["id"] == cid
            held.append(cid)
            visitors.append(v)
        holders.append((agent, held))
    queued = []
    for _ in range(waiting):
        v = await visitor(server.url)
        queued.append((await v.call("start", start_payload()))["conversation_id"])
        visitors.append(v)
    return holders, visitors, queued


async def _all_told(holders: list[tuple[Client, list[str]]]) -> None:
    for agent, held in holders:
        for cid in held:
            told = await agent.wait_for(
                "visitor_presence", lambda d, cid=cid: d["conversation_id"] == cid and not d["present"], timeout=15
            )
            assert told["since"]


async def test_a_wave_of_disconnects_marks_every_visitor_away_and_tells_every_holder(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "wave.db"))
    server = await RunningServer(make_settings(url, max_concurrent_chats=50)).start()
    try:
        holders, visitors, queued = await _chats(server, url, active_per_agent=15, waiting=10)
        held = [cid for _, ids in holders for cid in ids]
        await asyncio.gather(*(v.disconnect() for v in visitors))  # all at once

        await _all_told(holders)
        marks = await _away_marks(url, held + queued)
        assert len(marks) == 40 and all(marks.values()), "every conversation is marked away"
        away = server.app[lifecycles.VISITORS].away
        assert away.marked == 40 and away.pending == 0
        # The waiting ones leave the queue's count at once (shown as gone).
        agent = holders[0][0]
        await agent.wait_for(
            "queue",
            lambda q: {w["conversation_id"] for w in q["waiting"] if not w["visitor_present"]} >= set(queued),
        )
        for agent, _ in holders:
            await agent.disconnect()
    finally:
        await server.stop()


async def test_no_away_mark_is_lost_while_the_database_refuses_writes(tmp_path):
    """Another process holds SQLite's write lock for longer than this server's lock timeout: every
    write of the wave fails at first (before, each such disconnect was logged and forgotten)."""
    url = await migrated_sqlite(str(tmp_path / "locked.db"))
    server = await RunningServer(make_settings(url, max_concurrent_chats=50, db_lock_timeout_s=0.3)).start()
    try:
        holders, visitors, queued = await _chats(server, url, active_per_agent=5, waiting=4)
        held = [cid for _, ids in holders for cid in ids]
        away = server.app[lifecycles.VISITORS].away

        locked, release = threading.Event(), threading.Event()

        def hold_the_lock() -> None:
            conn = sqlite3.connect(url.split("///", 1)[1], isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            locked.set()
            release.wait(10)
            conn.execute("ROLLBACK")
            conn.close()

        holder = threading.Thread(target=hold_the_lock)
        holder.start()
        try:
            assert await asyncio.to_thread(locked.wait, 5)
            await asyncio.gather(*(v.disconnect() for v in visitors))
            await _until(lambda: _retried(away), "a failed write of the wave")
            assert away.pending > 0  # kept, not dropped
        finally:
            release.set()
            await asyncio.to_thread(holder.join)

        await _all_told(holders)
        marks = await _away_marks(url, held + queued)
        assert all(marks.values()), "every conversation is marked away once the lock is free"
        assert away.pending == 0
        for agent, _ in holders:
            await agent.disconnect()
    finally:
        await server.stop()


async def _retried(away: AwayMarks) -> bool:
    return away.retries > 0


# ---- AwayMarks on its own


class FakeWrites:
    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[tuple[str, datetime]]] = []
        self.failures = failures

    async def __call__(self, gone: Sequence[tuple[str, datetime]]) -> list[Outgoing]:
        await asyncio.sleep(0)
        if self.failures:
            self.failures -= 1
            raise TimeoutError("the pool gave up")
        self.batches.append(list(gone))
        return [QueueChanged()]


class Sent:
    def __init__(self) -> None:
        self.emits: list[Outgoing] = []

    async def __call__(self, emits: Sequence[Outgoing]) -> None:
        self.emits.extend(emits)


async def _drained(marks: AwayMarks) -> None:
    for _ in range(500):
        if marks.pending == 0:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("marks still pending")


async def test_a_wave_is_one_write_per_batch():
    writes, sent = FakeWrites(), Sent()
    marks = AwayMarks(writes, sent, ManualClock(T0))
    for i in range(MAX_BATCH + 20):
        marks.mark(f"c{i}")
    await _drained(marks)
    assert [len(b) for b in writes.batches] == [MAX_BATCH, 20]
    assert marks.batches == 2 and marks.marked == MAX_BATCH + 20
    assert len(sent.emits) == 2  # what each committed batch answered, sent after it
    await marks.stop()


async def test_each_mark_carries_the_moment_its_connection_dropped():
    clock = ManualClock(T0)
    writes = FakeWrites()
    marks = AwayMarks(writes, Sent(), clock)
    marks.mark("a")
    clock.advance(seconds=3)
    marks.mark("b")
    await _drained(marks)
    written = dict(pair for batch in writes.batches for pair in batch)
    assert written == {"a": T0, "b": T0 + timedelta(seconds=3)}
    await marks.stop()


async def test_a_failed_write_is_tried_again_with_what_came_meanwhile():
    writes, sent = FakeWrites(failures=3), Sent()
    marks = AwayMarks(writes, sent, ManualClock(T0), retry_s=0.01, max_retry_s=0.02)
    marks.mark("a")
    marks.mark("b")
    await asyncio.sleep(0.02)
    marks.mark("c")
    await _drained(marks)
    assert marks.retries == 3
    assert sorted(cid for batch in writes.batches for cid, _ in batch) == ["a", "b", "c"]
    await marks.stop()


async def test_a_visitor_back_on_this_process_before_the_write_is_not_marked():
    writes = FakeWrites()
    marks = AwayMarks(writes, Sent(), ManualClock(T0), still_here=lambda cid: cid == "back")
    marks.mark("back")
    marks.mark("gone")
    await _drained(marks)
    assert [cid for batch in writes.batches for cid, _ in batch] == ["gone"]
    await marks.stop()


async def test_the_shutdown_writes_what_is_pending():
    writes = FakeWrites(failures=1)
    marks = AwayMarks(writes, Sent(), ManualClock(T0), retry_s=0.01)
    marks.mark("a")
    await marks.stop()
    assert [cid for batch in writes.batches for cid, _ in batch] == ["a"]


async def test_a_shutdown_that_cannot_write_ends_in_time_and_keeps_the_count():
    writes = FakeWrites(failures=10**6)
    marks = AwayMarks(writes, Sent(), ManualClock(T0), retry_s=0.01, max_retry_s=0.05)
    marks.mark("a")
    marks.mark("b")
    await asyncio.wait_for(marks.stop(timeout_s=0.3), 2)
    assert marks.pending == 2
    assert writes.batches == []


async def test_a_failed_send_after_the_commit_does_not_write_again():
    writes = FakeWrites()

    async def broken(emits: Sequence[Outgoing]) -> None:
        raise RuntimeError("socket gone")

    marks = AwayMarks(writes, broken, ManualClock(T0))
    marks.mark("a")
    await _drained(marks)
    await asyncio.sleep(0.05)
    assert len(writes.batches) == 1 and marks.pending == 0
    await marks.stop()
