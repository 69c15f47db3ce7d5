"""The start lane (chat/starts.py): on an SQLite file starts are group-committed in one call of
the lane's own thread. Its rows are the rows the async engine's way writes (the same columns,
stored the same way, the same audit entry); places are exact when many start at once (and share transactions); a
blocked visitor in a group gets `closed` and the others start; one bad start in a group fails
alone and leaves nothing behind; a locked database answers `unavailable` and writes nothing."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from app.services import build_services
from chat.blocks import visitor_hashes
from chat.desk_store import visitor_blocks, visitor_marks
from chat.queue import place_in_queue
from chat.starts import Duplicate, NewStart, Started
from chat.store import conversations
from contact.clock import SystemClock
from contact.db import unavailable
from contact.errors import DomainError
from contact.store import audit_events
from tests.support.server import make_settings, migrated_sqlite


@pytest.fixture
async def chat(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "starts.db"))
    services = build_services(make_settings(url, db_lock_timeout_s=0.3), SystemClock())
    yield services.chat
    await services.chat.writer.stop()
    await services.chat.db.dispose()


def _start(chat: Any, **kw: Any) -> Any:
    values = {
        "caller_type": "volwassene",
        "intent": "advies",
        "topic": None,
        "danger_now": False,
        "client_key": f"10.1.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}",
        "browser": uuid.uuid4().hex,
    }
    values.update(kw)
    return chat.start(**values)


def _raw_rows(path: str, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as SQLite stores them (the text of times and JSON), not as SQLAlchemy reads them."""
    conn = sqlite3.connect(path)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in conn.execute(sql, args).fetchall()]
    finally:
        conn.close()


async def test_the_lane_writes_what_the_engine_writes(chat):
    assert chat._start_lane() is not None
    lane_id, lane_result = await _start(chat, caller_type="jongere", topic="thuis", browser="lane-browser")
    chat._start_lane = lambda: None  # the engine's way, on the same database
    engine_id, engine_result = await _start(chat, caller_type="jongere", topic="thuis", browser="engine-browser")
    path = str(chat.db.sqlite_path())
    lane_row, engine_row = (
        _raw_rows(path, "SELECT * FROM conversation WHERE id = ?", cid)[0] for cid in (lane_id, engine_id)
    )
    differ = {"id", "resume_hash", "created_at", "waiting_since", "last_activity_at"}
    assert {k: v for k, v in lane_row.items() if k not in differ} == {
        k: v for k, v in engine_row.items() if k not in differ
    }
    for column in ("created_at", "waiting_since", "last_activity_at"):  # stored in one format
        assert len(lane_row[column]) == len(engine_row[column]), column
        assert lane_row[column][:4] == engine_row[column][:4]
    assert lane_row["created_at"] == lane_row["waiting_since"] == lane_row["last_activity_at"]
    lane_audit, engine_audit = (
        _raw_rows(path, "SELECT action, actor, detail, length(at) AS n FROM audit_event WHERE conversation_id = ?", c)
        for c in (lane_id, engine_id)
    )
    assert lane_audit == engine_audit and lane_audit[0]["action"] == "started"
    lane_mark, engine_mark = (
        _raw_rows(
            path, "SELECT address_hash IS NOT NULL AS a, browser_hash FROM visitor_mark WHERE conversation_id = ?", c
        )
        for c in (lane_id, engine_id)
    )
    assert lane_mark[0]["a"] == engine_mark[0]["a"] == 1
    assert (lane_mark[0]["browser_hash"], engine_mark[0]["browser_hash"]) == tuple(
        visitor_hashes(chat.handoffs.keys.contact_hash, None, b).browser for b in ("lane-browser", "engine-browser")
    )
    # The same answer: a token, waiting, and the place (both in the queue of team jeugd).
    for result in (lane_result, engine_result):
        assert set(result.ack) == {"conversation_id", "resume_token", "status", "queue"}
        assert set(result.ack["queue"]) == {"position", "estimated_wait_s", "advisors_online"}
    assert (lane_result.ack["queue"]["position"], engine_result.ack["queue"]["position"]) == (1, 2)
    # The resume token works for a conversation the lane wrote.
    resumed_id, resumed = await chat.resume(lane_result.ack["resume_token"], 0)
    assert resumed_id == lane_id and resumed.ack["status"] == "waiting" and resumed.ack["queue"]["position"] == 1


async def test_many_at_once_get_exact_places_in_shared_transactions(chat):
    n = 120
    results = await asyncio.gather(*(_start(chat) for _ in range(n)))
    places = {cid: result.ack["queue"]["position"] for cid, result in results}
    assert sorted(places.values()) == list(range(1, n + 1))
    lane = chat._start_lane()
    # How many share a transaction depends on the machine's pace (the grouping itself is counted
    # exactly in the test of a bad start below); that they share at all does not.
    assert lane.written == n and lane.batches < n, (lane.batches, n)
    async with chat.db.read() as conn:
        for cid, place in places.items():
            assert await place_in_queue(conn, cid) == place
        audited = (await conn.execute(select(audit_events.c.conversation_id))).all()
    assert sorted(r.conversation_id for r in audited) == sorted(places)  # one `started` entry each
    # Every start was told as a queue change.
    assert all(type(e).__name__ == "QueueChanged" for _, r in results for e in r.emits)


async def test_a_blocked_visitor_in_a_group_gets_closed_and_the_others_start(chat):
    now = datetime.now(UTC)
    blocked = visitor_hashes(chat.handoffs.keys.contact_hash, "10.9.9.9", "blocked-browser")
    async with chat.db.write() as conn:
        await conn.execute(
            insert(visitor_blocks).values(
                id=str(uuid.uuid4()),
                conversation_id=str(uuid.uuid4()),
                browser_hash=blocked.browser,
                created_by="test",
                created_at=now,
                until=now + timedelta(hours=1),
            )
        )
    outcomes = await asyncio.gather(
        _start(chat),
        _start(chat, client_key="10.9.9.9", browser="blocked-browser"),
        _start(chat),
        return_exceptions=True,
    )
    refused = outcomes[1]
    assert isinstance(refused, DomainError) and refused.code == "closed"
    assert refused.extra["opens_at"] is None and "team" in refused.extra
    started = [o for o in outcomes if not isinstance(o, BaseException)]
    assert len(started) == 2
    assert sorted(r.ack["queue"]["position"] for _, r in started) == [1, 2]
    async with chat.db.read() as conn:
        assert len((await conn.execute(select(conversations.c.id))).all()) == 2
        assert len((await conn.execute(select(visitor_marks.c.conversation_id))).all()) == 2
        assert len((await conn.execute(select(audit_events.c.id))).all()) == 2


def _new_start(chat: Any, at: datetime | None = None, conversation_id: str | None = None) -> NewStart:
    return NewStart(
        conversation_id=conversation_id or str(uuid.uuid4()),
        resume_hash=uuid.uuid4().hex,
        caller_type="volwassene",
        intent="advies",
        topic=None,
        team="volwassenen",
        priority=0,
        expertise=None,
        visitor=visitor_hashes(chat.handoffs.keys.contact_hash, "10.0.0.1", uuid.uuid4().hex),
        at=at or datetime.now(UTC),
        in_crisis_team=False,
    )


async def test_one_bad_start_in_a_group_fails_alone_and_leaves_nothing(chat):
    lane = chat._start_lane()
    first = await lane.write(_new_start(chat))
    assert first.place == 1
    taken = (await _start(chat))[0]
    group = [
        _new_start(chat),
        _new_start(chat, conversation_id=taken),  # a duplicate id: the unique index refuses it
        _new_start(chat, at=datetime(2026, 12, 1, 12, 0)),  # no time zone: the column type refuses it
        _new_start(chat),
    ]
    batches = lane.batches
    outcomes = await asyncio.gather(*(lane.write(s) for s in group), return_exceptions=True)
    assert lane.batches == batches + 1  # one transaction for the four
    assert isinstance(outcomes[1], Duplicate)
    assert isinstance(outcomes[2], ValueError)
    assert isinstance(outcomes[0], Started) and isinstance(outcomes[3], Started)
    assert (outcomes[0].place, outcomes[3].place) == (3, 4)
    written = {group[0].conversation_id, group[3].conversation_id}
    async with chat.db.read() as conn:
        ids = {r.id for r in await conn.execute(select(conversations.c.id))}
        marks = [r.conversation_id for r in await conn.execute(select(visitor_marks.c.conversation_id))]
        audited = [r.conversation_id for r in await conn.execute(select(audit_events.c.conversation_id))]
    assert written <= ids and group[2].conversation_id not in ids and len(ids) == 4
    assert sorted(marks) == sorted(ids) and sorted(audited) == sorted(ids)  # nothing half-written
    # Through the service a duplicate is `conflict`, the contract's answer.
    chat_lane_write = lane.write

    async def duplicate(start: NewStart) -> Started:
        return await chat_lane_write(_new_start(chat, conversation_id=taken))

    lane.write = duplicate  # type: ignore[method-assign]
    with pytest.raises(DomainError) as caught:
        await _start(chat)
    assert caught.value.code == "conflict"


async def test_a_locked_database_is_unavailable_and_nothing_is_written(chat):
    path = str(chat.db.sqlite_path())
    await _start(chat)  # the lane's connection is open
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        outcomes = await asyncio.gather(_start(chat), _start(chat), return_exceptions=True)
        assert all(isinstance(o, Exception) and unavailable(o) for o in outcomes), outcomes
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(_raw_rows(path, "SELECT id FROM conversation")) == 1
    assert len(_raw_rows(path, "SELECT id FROM audit_event")) == 1
    # The lane goes on once the lock is gone.
    _, result = await _start(chat)
    assert result.ack["queue"]["position"] == 2


async def test_a_start_in_danger_takes_the_engine_way_and_begins_the_crisis(chat):
    lane = chat._start_lane()
    written = lane.written
    cid, result = await _start(chat, danger_now=True)
    assert lane.written == written
    assert len(result.emits) > 1  # the queue, and the visitor's and the crisis team's alerts
    async with chat.db.read() as conn:
        row = (await conn.execute(select(conversations).where(conversations.c.id == cid))).one()
    assert row.danger_now and row.crisis_at is not None


async def test_closing_writes_what_is_queued_then_refuses(chat):
    lane = chat._start_lane()
    await lane.write(_new_start(chat))  # the lane's task and connection are running
    queued = [_new_start(chat), _new_start(chat)]
    # As when the message writer stops (it closes the lane): starts already asked are answered.
    *answers, _ = await asyncio.wait_for(asyncio.gather(*(lane.write(s) for s in queued), lane.close()), timeout=10)
    assert [a.place for a in answers] == [2, 3]
    with pytest.raises(RuntimeError):
        await _start(chat)
    async with chat.db.read() as conn:
        assert len((await conn.execute(select(conversations.c.id))).all()) == 3
