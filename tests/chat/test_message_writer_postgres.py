"""How the message writer's own PostgreSQL connection (`_PostgresLane`) ends badly, on a real
PostgreSQL: killed between batches and during one, a statement that hangs on a lock, a
duplicate client_id another process stored meanwhile, and stop and `Database.close`, which
leave no connection behind. A failed batch is `unavailable` (the client sends again); the next
batch has a new connection; nothing is half written. Each both ways of the lane: one or two
statements with compare-and-set (`unlocked`), and the conversations locked (`locked`, where a race
lost twice ends); both ways, a client_id stored at the same moment elsewhere meets the unique
index and is written again one by one. Two writers of two processes on the same conversations:
gapless, each message once. What the lane knows of a conversation spares the read in an ongoing
chat (one statement a batch, also when two processes take turns) and never refuses a message on
its own: closed, handed over, read along or a client_id stored elsewhere, the conversation is
read again; checked also against a model of random changes (fixed seeds), which fails if the
write stops comparing status, holder or read-along, or if a refusal on what a lane knows is
trusted."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy import select

import chat.writer
from chat.model import OPEN_STATUSES, ConversationStatus
from chat.store import messages
from chat.writer import MessageWriter, NewMessage, Written, _PostgresLane, takes
from contact.db import Database, DatabaseClosed, unavailable
from tests.chat.test_message_writer import AT, HOLDER, conversation, pg_database
from tests.support.server import add_agent


def _dsn(db: Database) -> str:
    return db.url.set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(params=["unlocked", "locked"])
async def other(request, postgres, monkeypatch) -> AsyncIterator[tuple[Database, MessageWriter, asyncpg.Connection]]:
    """A database, its running writer, and a plain connection of someone else to the same database."""
    if request.param == "locked":
        monkeypatch.setattr(chat.writer, "_UNLOCKED_TRIES", 0)
    db = await pg_database(postgres, statement_timeout_s=2.0)
    writer = MessageWriter(db)
    assert isinstance(writer._lane, _PostgresLane)
    writer.start()
    conn = await asyncpg.connect(_dsn(db))
    try:
        yield db, writer, conn
    finally:
        await conn.close()
        await writer.stop()
        await db.close()


def _lane_pid(writer: MessageWriter) -> int:
    assert isinstance(writer._lane, _PostgresLane) and writer._lane._conn is not None
    return int(writer._lane._conn.get_server_pid())


async def _backends(conn: asyncpg.Connection) -> set[int]:
    rows = await conn.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    return {r["pid"] for r in rows}


async def _waits_for_lock(conn: asyncpg.Connection, pid: int) -> None:
    for _ in range(200):
        if await conn.fetchval("SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = $1", pid):
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the writer never waited for the lock")


async def _stored(db: Database, cid: str) -> list[tuple[int, str | None]]:
    async with db.read() as conn:
        rows = await conn.execute(
            select(messages.c.seq, messages.c.client_id)
            .where(messages.c.conversation_id == cid)
            .order_by(messages.c.seq)
        )
        return [(r.seq, r.client_id) for r in rows]


async def _stored_elsewhere(conn: asyncpg.Connection, cid: str, seq: int, client_id: str) -> str:
    """Another process stores the visitor's message `client_id` as `seq` (its counter too)."""
    message_id = str(uuid.uuid4())
    await conn.execute(
        "INSERT INTO message (id, conversation_id, seq, sender, client_id, text, at)"
        " VALUES ($1, $2, $3, 'visitor', $4, 'elders', $5)",
        message_id,
        cid,
        seq,
        client_id,
        AT,
    )
    await conn.execute("UPDATE conversation SET last_seq = $1 WHERE id = $2", seq, cid)
    return message_id


async def test_killed_between_batches_the_next_batch_has_a_new_connection(other):
    db, writer, conn = other
    cid = await conversation(db)
    assert (await writer.write(NewMessage(cid, "visitor", "k1", "een", AT))).seq == 1  # type: ignore[union-attr]
    first = _lane_pid(writer)
    assert await conn.fetchval("SELECT pg_terminate_backend($1)", first)
    await asyncio.sleep(0.2)
    written = await writer.write(NewMessage(cid, "visitor", "k2", "twee", AT))
    assert written is not None and written.seq == 2 and not written.duplicate
    assert _lane_pid(writer) != first
    # Killed again, and the next write comes at once (the loop has not seen the end yet).
    assert await conn.fetchval("SELECT pg_terminate_backend($1)", _lane_pid(writer))
    written = await writer.write(NewMessage(cid, "visitor", "k3", "drie", AT))
    assert written is not None and written.seq == 3
    assert await _stored(db, cid) == [(1, "k1"), (2, "k2"), (3, "k3")]


async def test_killed_during_a_batch_it_is_unavailable_and_sent_again_once(other):
    db, writer, conn = other
    cid = await conversation(db)
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", cid)  # the batch waits
        writing = asyncio.ensure_future(writer.write(NewMessage(cid, "visitor", "d1", "tijdens", AT)))
        pid = await asyncio.wait_for(_first_lane_pid(writer), 5)
        await _waits_for_lock(conn, pid)
        assert await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        with pytest.raises(Exception) as caught:
            await asyncio.wait_for(writing, 5)
        assert unavailable(caught.value), repr(caught.value)
    assert await _stored(db, cid) == []
    again = await writer.write(NewMessage(cid, "visitor", "d1", "tijdens", AT))  # the client sends it again
    assert again is not None and again.seq == 1 and not again.duplicate
    same = await writer.write(NewMessage(cid, "visitor", "d1", "tijdens", AT))  # and once more: stored once
    assert same is not None and same.duplicate and same.id == again.id
    assert await _stored(db, cid) == [(1, "d1")]


async def _first_lane_pid(writer: MessageWriter) -> int:
    for _ in range(500):
        if isinstance(writer._lane, _PostgresLane) and writer._lane._conn is not None:
            return _lane_pid(writer)
        await asyncio.sleep(0.01)
    raise AssertionError("the writer opened no connection")


async def test_a_statement_that_hangs_ends_at_the_statement_timeout(other):
    db, writer, conn = other
    cid = await conversation(db)
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", cid)
        began = time.monotonic()
        with pytest.raises(Exception) as caught:
            await writer.write(NewMessage(cid, "visitor", "h1", "vast", AT))
        took = time.monotonic() - began
    assert unavailable(caught.value), repr(caught.value)
    assert 1.5 < took < 4, took  # the 2 s statement timeout of the Database (the server: 1.6 s)
    written = await writer.write(NewMessage(cid, "visitor", "h1", "vast", AT))
    assert written is not None and written.seq == 1 and not written.duplicate


async def test_a_client_id_another_process_stored_meanwhile_comes_back_as_duplicate(other):
    db, writer, conn = other
    cid = await conversation(db)
    assert await writer.write(NewMessage(cid, "visitor", "r0", "eerst", AT)) is not None
    pid = _lane_pid(writer)
    async with conn.transaction():
        # The other process holds the conversation and stores the same client_id; the batch has
        # seen no duplicate before it gets the row (unlocked, the lane knows the conversation and
        # writes at once): the unique index refuses it, and one by one, read, it is found.
        await conn.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", cid)
        other_id = await _stored_elsewhere(conn, cid, 2, "r1")
        writing = asyncio.ensure_future(writer.write(NewMessage(cid, "visitor", "r1", "hier", AT)))
        await _waits_for_lock(conn, pid)
    written = await asyncio.wait_for(writing, 10)
    assert written is not None and written.duplicate and written.id == other_id and written.seq == 2
    assert _lane_pid(writer) == pid  # a refusal of the server: the connection stays
    after = await writer.write(NewMessage(cid, "visitor", "r2", "daarna", AT))
    assert after is not None and after.seq == 3
    assert await _stored(db, cid) == [(1, "r0"), (2, "r1"), (3, "r2")]


async def test_a_reader_who_starts_between_read_and_write_is_told(other):
    """Someone starts reading along (the flag set, their snapshot read) while a batch is between its
    read and its write: the message must reach them live, as their snapshot was read before it was
    stored. Unlocked, the flag changed since the read, so the conversation is read again; locked,
    the read waits for the row."""
    db, writer, conn = other
    cid = await conversation(db)
    assert await writer.write(NewMessage(cid, "visitor", "a0", "eerst", AT)) is not None
    pid = _lane_pid(writer)
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", cid)
        await conn.execute("UPDATE conversation SET read_along = true WHERE id = $1", cid)
        writing = asyncio.ensure_future(writer.write(NewMessage(cid, "visitor", "a1", "hier", AT)))
        await _waits_for_lock(conn, pid)
    written = await asyncio.wait_for(writing, 10)
    assert written is not None and written.seq == 2 and written.read_along


async def test_stop_closes_the_writers_connection(postgres):
    db = await pg_database(postgres)
    writer = MessageWriter(db)
    writer.start()
    cid = await conversation(db)
    conn = await asyncpg.connect(_dsn(db))
    try:
        await db.dispose()  # only the writer's own connection is left open on the server
        assert await writer.write(NewMessage(cid, "visitor", "s1", "hallo", AT)) is not None
        assert _lane_pid(writer) in await _backends(conn)
        await writer.stop()
        await db.close()
        for _ in range(50):
            if not await _backends(conn):
                break
            await asyncio.sleep(0.05)
        assert await _backends(conn) == set()
        assert not db._own_connections
    finally:
        await conn.close()


async def test_database_close_waits_for_the_batch_under_way_then_closes_the_connection(other):
    db, writer, conn = other
    cid = await conversation(db)
    async with conn.transaction():
        await conn.execute("SELECT 1 FROM conversation WHERE id = $1 FOR UPDATE", cid)
        writing = asyncio.ensure_future(writer.write(NewMessage(cid, "visitor", "c1", "bijna", AT)))
        pid = await asyncio.wait_for(_first_lane_pid(writer), 5)
        await _waits_for_lock(conn, pid)
        closing = asyncio.ensure_future(db.close())
        await asyncio.sleep(0.1)
        assert not closing.done()  # the batch under way may end
    written = await asyncio.wait_for(writing, 5)
    assert written is not None and written.seq == 1
    await asyncio.wait_for(closing, 5)
    for _ in range(50):
        if pid not in await _backends(conn):
            break
        await asyncio.sleep(0.05)
    assert pid not in await _backends(conn)  # closed by Database.close, before the writer stopped
    # A batch after close is refused as `unavailable` and opens nothing.
    with pytest.raises(DatabaseClosed) as caught:
        await writer.write(NewMessage(cid, "visitor", "c2", "te laat", AT))
    assert unavailable(caught.value)
    assert not db._own_connections


async def test_through_the_server_a_resend_after_a_kill_is_stored_once_and_reaches_the_advisor_again(postgres):
    """All connections of the server killed between two posts of the same client_id (its first
    ack was lost): the resend is answered with the stored message, and the advisor gets it again."""
    from contact.migrate import upgrade
    from tests.chat.test_live_holes import _active_chat
    from tests.support.server import RunningServer, make_settings

    url = postgres.create_database(f"writer_server_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    server = await RunningServer(make_settings(url)).start()
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        _, agent, v, _, cid = await _active_chat(server)
        first = await v.call("message", {"client_id": "v1", "text": "eerste poging"})
        await agent.wait_for("message", lambda m: m["seq"] == first["seq"])
        agent.events["message"].clear()
        killed = await conn.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        assert killed
        await asyncio.sleep(0.2)
        for _ in range(10):  # `unavailable` at most once: the client sends again
            again = await v.call("message", {"client_id": "v1", "text": "eerste poging"})
            if "error" not in again:
                break
            assert again["error"]["code"] == "unavailable", again
        assert again == first
        got = await agent.wait_for("message", lambda m: m["seq"] == first["seq"])
        assert got["id"] == first["id"] and got["text"] == "eerste poging"
        second = await v.call("message", {"client_id": "v2", "text": "tweede"})
        assert second["seq"] == first["seq"] + 1
        await v.disconnect()
        await agent.disconnect()
    finally:
        await conn.close()
        await server.stop()


async def test_two_writers_of_two_processes_on_the_same_conversations_gapless_and_once(postgres):
    db = await pg_database(postgres)
    others = Database(db.url.render_as_string(hide_password=False))
    cids = [await conversation(db) for _ in range(2)]
    writers = [MessageWriter(db), MessageWriter(others)]
    for writer in writers:
        writer.start()
    try:

        async def post(w: int, lane: int) -> list[int]:
            seqs = []
            for n in range(40):
                cid = cids[n % 2]
                written = await writers[w].write(NewMessage(cid, "visitor", f"w{w}-{lane}-{n}", "hallo", AT))
                assert written is not None and not written.duplicate
                seqs.append(written.seq)
            return seqs

        await asyncio.gather(*(post(w, lane) for w in (0, 1) for lane in range(3)))
        for cid in cids:
            stored = await _stored(db, cid)
            assert [seq for seq, _ in stored] == list(range(1, 121))
            assert len({client_id for _, client_id in stored}) == 120
        # Once more, every one of them: each is a duplicate now, nothing new is stored.
        again = await writers[1].write(NewMessage(cids[0], "visitor", "w0-0-0", "hallo", AT))
        assert again is not None and again.duplicate and again.seq in range(1, 121)
        assert len(await _stored(db, cids[0])) == 120
    finally:
        for writer in writers:
            await writer.stop()
        await others.close()
        await db.close()


def _lane(writer: MessageWriter) -> _PostgresLane:
    assert isinstance(writer._lane, _PostgresLane)
    return writer._lane


async def _posted(writer: MessageWriter, message: NewMessage) -> tuple[Written | None, int]:
    """What the writer answers, and how many statements it took."""
    before = _lane(writer).round_trips
    written = await writer.write(message)
    return written, _lane(writer).round_trips - before


async def test_an_ongoing_chat_is_one_statement_a_batch_also_with_two_processes_taking_turns(postgres):
    """The first message of a conversation is read and written; after that the lane knows its
    state and writes at once. A visitor on one process and the advisor on another take turns:
    neither makes the other's write fail, and the seqs are those of the order of the writes."""
    db = await pg_database(postgres)
    others = Database(db.url.render_as_string(hide_password=False))
    here, there = MessageWriter(db), MessageWriter(others)
    for writer in (here, there):
        writer.start()
    try:
        cid = await conversation(db)
        holder = HOLDER[db.url.database]
        written, trips = await _posted(here, NewMessage(cid, "visitor", "v0", "hallo", AT))
        assert written is not None and written.seq == 1 and written.holder_id == holder and trips == 2
        written, trips = await _posted(there, NewMessage(cid, "agent", "a0", "hoi", AT, agent_id=holder))
        assert written is not None and written.seq == 2 and trips == 2
        for n in range(1, 6):
            visitor, trips_v = await _posted(here, NewMessage(cid, "visitor", f"v{n}", "en toen", AT))
            agent, trips_a = await _posted(there, NewMessage(cid, "agent", f"a{n}", "ja", AT, agent_id=holder))
            assert visitor is not None and agent is not None
            assert (visitor.seq, agent.seq, trips_v, trips_a) == (2 * n + 1, 2 * n + 2, 1, 1)
            assert not visitor.duplicate and visitor.holder_id == holder and not visitor.read_along
        assert [seq for seq, _ in await _stored(db, cid)] == list(range(1, 13))
        assert _lane(here).races_lost == _lane(there).races_lost == 0
    finally:
        for writer in (here, there):
            await writer.stop()
        await others.close()
        await db.close()


async def test_what_the_lane_knows_only_says_yes(postgres):
    """Changed by someone else after the lane last wrote: closed, handed to another advisor, a
    reader, a client_id stored by another process. Each time the write finds it changed and the
    conversation is read: the answer is the one a read gives, and nothing is refused on what the
    lane knew."""
    db = await pg_database(postgres)
    writer = MessageWriter(db)
    writer.start()
    conn = await asyncpg.connect(_dsn(db))
    try:
        holder = HOLDER[db.url.database]
        other_agent, _ = await add_agent(db.url.render_as_string(hide_password=False))
        cid = await conversation(db)
        assert (await writer.write(NewMessage(cid, "agent", "a1", "eerst", AT, agent_id=holder))) is not None

        # Handed to another advisor: the old holder is refused (after a read), the new one taken.
        await conn.execute("UPDATE conversation SET agent_id = $1 WHERE id = $2", other_agent.id, cid)
        refused, trips = await _posted(writer, NewMessage(cid, "agent", "a2", "nog even", AT, agent_id=holder))
        assert refused is None and trips == 2  # the write (changed), then the read
        taken, trips = await _posted(
            writer, NewMessage(cid, "agent", "b1", "ik neem het over", AT, agent_id=other_agent.id)
        )
        assert taken is not None and taken.seq == 2 and taken.holder_id == other_agent.id
        assert trips == 1  # the read of the refused one showed the new holder

        # Someone reads along: the message is written after a read, and says so.
        await conn.execute("UPDATE conversation SET read_along = true WHERE id = $1", cid)
        read_along, trips = await _posted(writer, NewMessage(cid, "visitor", "v1", "hallo", AT))
        assert read_along is not None and read_along.seq == 3 and read_along.read_along and trips == 3

        # Another process stored this client_id (the visitor sent again there): the stored one.
        other_id = await _stored_elsewhere(conn, cid, 4, "v2")
        again, trips = await _posted(writer, NewMessage(cid, "visitor", "v2", "elders", AT))
        assert again is not None and again.duplicate and again.id == other_id and again.seq == 4 and trips == 2

        # Closed: refused, after a read.
        await conn.execute("UPDATE conversation SET status = 'closed' WHERE id = $1", cid)
        closed, trips = await _posted(writer, NewMessage(cid, "visitor", "v3", "hallo?", AT))
        assert closed is None and trips == 2
        assert await _stored(db, cid) == [(1, "a1"), (2, "b1"), (3, "v1"), (4, "v2")]
    finally:
        await conn.close()
        await writer.stop()
        await db.close()


@dataclass
class _Model:
    """What a conversation is, as the test changed it, and what it holds."""

    status: str = ConversationStatus.ACTIVE
    holder: str | None = None
    read_along: bool = False
    last_seq: int = 0
    stored: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)  # (sender, client_id) -> id, seq


async def test_what_the_lanes_know_against_a_model_of_random_changes(postgres):
    """Two lanes (two processes) post to two conversations while someone else closes, hands over,
    reopens, reads along and stores messages of their own, in random order (fixed seeds). Every
    answer is the one the conversation as it is gives: the next seq, the stored message for a
    client_id sent again, None where it does not take the message; the holder and the read-along
    flag as they are. Posts of one moment go as one batch."""
    db = await pg_database(postgres)
    others = Database(db.url.render_as_string(hide_password=False))
    writers = [MessageWriter(db), MessageWriter(others)]
    for writer in writers:
        writer.start()
    conn = await asyncpg.connect(_dsn(db))
    try:
        agents = [HOLDER[db.url.database], (await add_agent(db.url.render_as_string(hide_password=False)))[0].id]
        for seed in range(25):
            rng = random.Random(seed)
            models = {await conversation(db): _Model(holder=agents[0]) for _ in range(2)}
            sent: list[tuple[str, str, str]] = []  # (conversation, sender, client_id) sent so far
            for step in range(30):
                cid = rng.choice(list(models))
                model = models[cid]
                kind = rng.choices(["post", "burst", "status", "read_along", "elsewhere"], [6, 2, 2, 1, 1])[0]
                if kind in ("post", "burst"):
                    w = rng.randrange(2)
                    posts = []
                    for _ in range(1 if kind == "post" else rng.randint(2, 4)):
                        target = rng.choice(list(models))
                        again = [s for s in sent if s[0] == target]
                        if again and rng.random() < 0.2:
                            _, sender, client_id = rng.choice(again)
                        else:
                            sender, client_id = rng.choice(["visitor", "agent"]), f"{seed}-{step}-{len(posts)}"
                            sent.append((target, sender, client_id))
                        agent_id = rng.choice(agents) if sender == "agent" else None
                        statuses = (ConversationStatus.ACTIVE,) if sender == "agent" else OPEN_STATUSES
                        posts.append(NewMessage(target, sender, client_id, "tekst", AT, agent_id, statuses))
                    answers = await asyncio.gather(*(writers[w].write(p) for p in posts))
                    for post, answer in zip(posts, answers, strict=True):
                        _check(models[post.conversation_id], post, answer, f"seed {seed} step {step}")
                elif kind == "status":
                    model.status = rng.choice(list(ConversationStatus))
                    model.holder = rng.choice(agents) if model.status != ConversationStatus.WAITING else None
                    await conn.execute(
                        "UPDATE conversation SET status = $1, agent_id = $2 WHERE id = $3",
                        str(model.status),
                        model.holder,
                        cid,
                    )
                elif kind == "read_along":
                    model.read_along = not model.read_along
                    await conn.execute("UPDATE conversation SET read_along = $1 WHERE id = $2", model.read_along, cid)
                else:
                    client_id = f"{seed}-{step}-elders"
                    model.last_seq += 1
                    model.stored[("visitor", client_id)] = (
                        await _stored_elsewhere(conn, cid, model.last_seq, client_id),
                        model.last_seq,
                    )
                    sent.append((cid, "visitor", client_id))
            for cid, model in models.items():
                assert [seq for seq, _ in await _stored(db, cid)] == list(range(1, model.last_seq + 1)), seed
        # The lanes wrote at once on what they knew, and found it changed too (then read).
        lanes = [_lane(writer) for writer in writers]
        assert sum(lane.races_lost for lane in lanes) > 20
        assert sum(lane.round_trips for lane in lanes) < 2 * sum(writer.batches for writer in writers)
    finally:
        await conn.close()
        for writer in writers:
            await writer.stop()
        await others.close()
        await db.close()


def _check(model: _Model, post: NewMessage, answer: Written | None, where: str) -> None:
    """`answer` against the model, which it then updates."""
    key = (post.sender, post.client_id or "")
    if key in model.stored:
        assert answer is not None and answer.duplicate, where
        assert (answer.id, answer.seq) == model.stored[key], where
        return
    if not takes(model.status, model.holder, post):
        assert answer is None, (where, model, post)
        return
    model.last_seq += 1
    assert answer is not None and not answer.duplicate, (where, model, post)
    assert (answer.seq, answer.holder_id, answer.read_along) == (model.last_seq, model.holder, model.read_along), where
    model.stored[key] = (answer.id, answer.seq)
