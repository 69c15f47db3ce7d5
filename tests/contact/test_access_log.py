"""The access log's hash chain: intact after many appends (also concurrent ones on PostgreSQL
from two connection pools), and a changed, deleted or reordered entry found by the real
`vt-contact audit verify`; purging keeps the rest verifiable through a signed checkpoint."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from contact.access_log import AccessLog, access_log, record, verify
from contact.clock import ManualClock
from contact.db import Database
from contact.keys import Keys
from tests.support.processes import run_cli
from tests.support.server import migrated_sqlite

KEY = b"k" * 32
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


async def _fill(db: Database, n: int, start: datetime = T0) -> None:
    for i in range(n):
        async with db.write() as conn:
            await record(
                conn,
                at=start + timedelta(minutes=i),
                action="conversation_history",
                agent_id=f"agent-{i % 3}",
                role="advisor",
                contact_type="conversation",
                contact_id=f"conv-{i % 4}",
                address_hash="a" * 64,
                after_seq=i,
            )


def _verify_cli(url: str) -> tuple[int, str]:
    done = run_cli("audit", "verify", "--database-url", url, env=None)
    return done.returncode, done.stdout + done.stderr


@pytest.fixture
async def db_url(tmp_path) -> str:
    return await migrated_sqlite(str(tmp_path / "log.db"))


async def test_an_intact_chain_verifies(db_url):
    db = Database(db_url)
    try:
        await _fill(db, 12)
        verdict = await verify(db, KEY)
        assert verdict.ok and verdict.entries == 12
    finally:
        await db.dispose()
    code, out = await asyncio.to_thread(_verify_cli, db_url)
    assert code == 0 and "12 entries" in out


@pytest.mark.parametrize(
    ("tamper", "broken", "problem"),
    [
        ("UPDATE access_log SET contact_id = 'conv-9' WHERE seq = 5", 5, "changed"),
        ("UPDATE access_log SET agent_id = 'someone' WHERE seq = 1", 1, "changed"),
        ("DELETE FROM access_log WHERE seq = 7", 7, "missing"),
        ("DELETE FROM access_log WHERE seq = 12", 12, "missing"),
        # Two entries swap places (their sequence numbers swapped).
        (
            "UPDATE access_log SET seq = -3 WHERE seq = 3; UPDATE access_log SET seq = 3 WHERE seq = 4; "
            "UPDATE access_log SET seq = 4 WHERE seq = -3",
            3,
            "",
        ),
        ("UPDATE access_log SET at = '2026-01-01 00:00:00.000000' WHERE seq = 9", 9, "changed"),
        # A forged entry added at the end without going through the head.
        (
            "INSERT INTO access_log (seq, at, action, detail, prev_hash, hash) "
            "SELECT 13, at, action, detail, hash, hash FROM access_log WHERE seq = 12",
            13,
            "beyond the chain head",
        ),
    ],
)
async def test_a_tampered_entry_is_found_by_the_cli(db_url, tamper, broken, problem):
    db = Database(db_url)
    try:
        await _fill(db, 12)
        async with db.write() as conn:
            for statement in tamper.split(";"):
                await conn.execute(text(statement))
    finally:
        await db.dispose()
    code, out = await asyncio.to_thread(_verify_cli, db_url)
    assert code == 1, out
    assert f"BROKEN at entry {broken}:" in out and problem in out


async def test_no_entry_without_a_head_row_and_a_failed_append_leaves_nothing(db_url):
    db = Database(db_url)
    try:
        with pytest.raises(ValueError):
            async with db.write() as conn:
                await record(conn, at=T0, action="not_an_action", agent_id="a", role="advisor")
        async with db.read() as conn:
            assert await conn.scalar(select(func.count()).select_from(access_log)) == 0
        assert (await verify(db, KEY)).ok
    finally:
        await db.dispose()


async def test_purge_keeps_the_rest_verifiable(db_url):
    db = Database(db_url)
    clock = ManualClock(T0 + timedelta(days=10))
    try:
        await _fill(db, 6, start=T0)  # old
        await _fill(db, 4, start=T0 + timedelta(days=9))  # recent
        log = AccessLog(db, clock, Keys(KEY))
        assert await log.purge(retention_days=5) == 6
        verdict = await verify(db, KEY)
        assert verdict.ok and verdict.entries == 4
        assert not (await verify(db, b"another key")).ok  # the checkpoint is signed
        async with db.write() as conn:  # a forged checkpoint that hides more entries
            await conn.execute(text("UPDATE access_log_head SET checkpoint_seq = 7"))
        assert (await verify(db, KEY)).first_broken == 7
    finally:
        await db.dispose()


async def test_concurrent_appends_on_postgres_keep_one_chain(postgres):
    from contact.migrate import upgrade

    url = postgres.create_database("access_log_concurrent")
    await asyncio.to_thread(upgrade, url)
    pools = [Database(url, pool_size=8), Database(url, pool_size=8)]

    async def append(db: Database, i: int) -> None:
        async with db.write() as conn:
            await record(conn, at=T0, action="case_view", agent_id=f"a{i}", role="supervisor", contact_id=f"c{i}")

    try:
        verdicts = []

        async def verify_meanwhile() -> None:
            for _ in range(5):
                verdicts.append(await verify(pools[1], KEY))
                await asyncio.sleep(0.01)

        await asyncio.gather(*(append(pools[i % 2], i) for i in range(200)), verify_meanwhile())
        assert verdicts and all(v.ok for v in verdicts), verdicts  # a walk during appends is no false alarm
        verdict = await verify(pools[0], KEY)
        assert verdict.ok and verdict.entries == 200, verdict
        async with pools[0].read() as conn:
            seqs = list((await conn.execute(select(access_log.c.seq).order_by(access_log.c.seq))).scalars())
        assert seqs == list(range(1, 201))
    finally:
        for db in pools:
            await db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_migration_0016_up_down_up(backend, tmp_path, request):
    from alembic import command

    from contact.migrate import alembic_config, upgrade

    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm16.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database("migrations_0016")
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    try:
        await _fill(db, 3)
        assert (await verify(db, KEY)).ok
        await db.dispose()
        await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
        async with db.read() as conn:
            tables = await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
        assert "access_log" not in tables and "access_log_head" not in tables
        await db.dispose()
        await asyncio.to_thread(upgrade, url)
        await _fill(db, 2)  # a fresh head row: the chain starts again
        verdict = await verify(db, KEY)
        assert verdict.ok and verdict.entries == 2
    finally:
        await db.dispose()


async def test_cli_purge_after_the_retention_then_verify(db_url):
    from tests.support.processes import cli_env

    db = Database(db_url)
    try:
        await _fill(db, 5, start=datetime.now(UTC) - timedelta(days=6 * 365))  # older than five years
        await _fill(db, 3, start=datetime.now(UTC) - timedelta(days=1))
    finally:
        await db.dispose()
    env = cli_env(VT_HASH_KEY="p" * 32)
    purged = await asyncio.to_thread(run_cli, "audit", "purge", "--database-url", db_url, env=env)
    assert purged.returncode == 0 and "5 access-log entries" in purged.stdout, purged.stderr
    ok = await asyncio.to_thread(run_cli, "audit", "verify", "--database-url", db_url, env=env)
    assert ok.returncode == 0 and "3 entries" in ok.stdout
    # Verified with another key, the checkpoint's signature does not match.
    other = await asyncio.to_thread(
        run_cli, "audit", "verify", "--database-url", db_url, env=cli_env(VT_HASH_KEY="q" * 32)
    )
    assert other.returncode == 1 and "checkpoint signature" in other.stderr
