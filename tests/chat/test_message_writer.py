"""The message writer's ways to the database give the same answers: on an SQLite file the
whole batch is one call of the writer's own thread (`_SqliteLane`), on PostgreSQL it runs on the
writer's own asyncpg connection (`_PostgresLane`), elsewhere it goes through the async engine.
Each lane and the engine get the same batches here, on the same kind of database: duplicates
(stored before, and twice within one batch), a closed conversation, an agent who does not hold
the conversation, gapless seqs, and times that come back aware. A locked database answers
`unavailable` and writes nothing; the writer goes on once the lock is gone."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

import chat.writer
from chat.model import ConversationStatus
from chat.store import conversations, messages
from chat.writer import MessageWriter, NewMessage
from contact.db import Database, unavailable
from contact.migrate import upgrade
from tests.support.server import add_agent, migrated_sqlite

AT = datetime(2026, 12, 1, 13, 45, 7, 123456, tzinfo=UTC)
HOLDER: dict[str | None, str] = {}  # database file -> the agent who holds its conversations


async def _database(path: str, **kw: float) -> Database:
    url = await migrated_sqlite(path)
    return await _with_holder(url, **kw)


async def pg_database(postgres, **kw: float) -> Database:
    url = postgres.create_database(f"writer_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    return await _with_holder(url, **kw)


async def _with_holder(url: str, **kw: float) -> Database:
    agent, _ = await add_agent(url)
    db = Database(url, **kw)
    HOLDER[db.url.database] = agent.id
    return db


async def conversation(db: Database, status: str = ConversationStatus.ACTIVE) -> str:
    agent_id = HOLDER.get(db.url.database)
    cid = str(uuid.uuid4())
    async with db.write() as conn:
        await conn.execute(
            insert(conversations).values(
                id=cid,
                status=status,
                caller_type="volwassene",
                intent="advies",
                team="volwassenen",
                priority=0,
                resume_hash=uuid.uuid4().hex,
                created_at=AT,
                waiting_since=AT,
                last_seq=0,
                agent_id=agent_id,
            )
        )
    return cid


def _writer(db: Database, lane: bool) -> MessageWriter:
    writer = MessageWriter(db)
    if not lane:
        writer._lane = None  # the async engine's way, on the same database
    return writer


@pytest.fixture(params=["lane", "engine", "pg-lane", "pg-locked-lane", "pg-engine"])
async def setup(request, tmp_path, monkeypatch):
    if request.param == "pg-locked-lane":  # the lane's way when it lost a race twice
        monkeypatch.setattr(chat.writer, "_UNLOCKED_TRIES", 0)
    if request.param.startswith("pg-"):
        db = await pg_database(request.getfixturevalue("postgres"))
    else:
        db = await _database(str(tmp_path / "writer.db"), lock_timeout_s=0.3)
    writer = _writer(db, request.param.endswith("lane"))
    assert (writer._lane is not None) == request.param.endswith("lane")
    writer.start()
    yield db, writer
    await writer.stop()
    await db.dispose()


async def test_a_batch_keeps_every_rule(setup):
    db, writer = setup
    open_one = await conversation(db)
    closed = await conversation(db, status=ConversationStatus.CLOSED)
    first = await writer.write(NewMessage(open_one, "visitor", "c0", "hallo", AT))
    holder = HOLDER[db.url.database]
    assert first is not None and first.seq == 1 and not first.duplicate and first.holder_id == holder
    assert first.at == AT and first.at.tzinfo is not None

    # One batch: queued together before the writer task runs again.
    batch = [
        NewMessage(open_one, "visitor", "c0", "hallo", AT + timedelta(seconds=5)),  # stored before
        NewMessage(open_one, "visitor", "c1", "een", AT + timedelta(seconds=1)),
        NewMessage(open_one, "visitor", "c1", "een", AT + timedelta(seconds=1)),  # twice in the batch
        NewMessage(closed, "visitor", "c2", "te laat", AT),
        NewMessage(open_one, "agent", "c3", "niet van mij", AT, agent_id="someone-else"),
        NewMessage(open_one, "agent", "c4", "antwoord", AT + timedelta(seconds=2), agent_id=holder),
        NewMessage(open_one, "system", None, "systeem", AT + timedelta(seconds=3)),
    ]
    again, one, one_twice, late, not_holder, answer, system = await asyncio.gather(*(writer.write(m) for m in batch))
    assert again is not None and again.duplicate and (again.id, again.seq, again.at) == (first.id, 1, AT)
    assert one is not None and not one.duplicate and one.seq == 2
    assert one_twice is not None and one_twice.duplicate and one_twice.id == one.id and one_twice.holder_id is None
    assert late is None and not_holder is None
    assert answer is not None and answer.seq == 3
    assert system is not None and system.seq == 4
    assert writer.batches >= 2

    async with db.read() as conn:
        rows = (await conn.execute(select(messages).where(messages.c.conversation_id == open_one))).all()
        conv = (await conn.execute(select(conversations).where(conversations.c.id == open_one))).one()
    assert sorted(r.seq for r in rows) == [1, 2, 3, 4]
    assert {r.seq: r.text for r in rows} == {1: "hallo", 2: "een", 3: "antwoord", 4: "systeem"}
    assert {r.seq: r.at for r in rows}[3] == AT + timedelta(seconds=2)
    assert conv.last_seq == 4
    assert conv.last_activity_at == AT + timedelta(seconds=3)  # the batch's newest time


async def test_read_along_is_reported(setup):
    db, writer = setup
    cid = await conversation(db)
    async with db.write() as conn:
        await conn.execute(update(conversations).where(conversations.c.id == cid).values(read_along=True))
    written = await writer.write(NewMessage(cid, "visitor", "r1", "hallo", AT))
    assert written is not None and written.read_along


# SQLite's write lock; how PostgreSQL's writes fail is in tests/chat/test_message_writer_postgres.py.
@pytest.mark.parametrize("setup", ["lane", "engine"], indirect=True)
async def test_a_locked_database_is_unavailable_and_nothing_is_half_written(setup, tmp_path):
    db, writer = setup
    cid = await conversation(db)
    holder = sqlite3.connect(tmp_path / "writer.db", isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # someone else holds the write lock
        with pytest.raises(Exception) as caught:
            await writer.write(NewMessage(cid, "visitor", "l1", "vast", AT))
        assert unavailable(caught.value)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Nothing of it was stored; the same message again goes through, once.
    written = await writer.write(NewMessage(cid, "visitor", "l1", "vast", AT))
    assert written is not None and written.seq == 1 and not written.duplicate
    async with db.read() as conn:
        assert len((await conn.execute(select(messages.c.id).where(messages.c.conversation_id == cid))).all()) == 1


async def test_after_stop_nothing_is_taken(tmp_path):
    db = await _database(str(tmp_path / "stop.db"))
    writer = MessageWriter(db)
    writer.start()
    cid = await conversation(db)
    assert await writer.write(NewMessage(cid, "visitor", "s1", "hallo", AT)) is not None
    await writer.stop()
    with pytest.raises(RuntimeError):
        await writer.write(NewMessage(cid, "visitor", "s2", "te laat", AT))
    await db.dispose()
