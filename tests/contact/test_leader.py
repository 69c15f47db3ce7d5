"""Leader election by a database lease: exactly one holder, and a takeover when it goes silent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contact.clock import ManualClock
from contact.db import Database
from contact.leader import Election, LeaderLease
from contact.migrate import upgrade


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url_for(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'lease.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"lease_{tmp_path.name[-12:].lower()}")
    await asyncio.to_thread(upgrade, url)
    return url


async def test_one_holder_and_takeover_after_expiry(database_url_for):
    clock = ManualClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    db_a, db_b = Database(database_url_for), Database(database_url_for)  # two "processes"
    try:
        a = LeaderLease(db_a, clock, "scheduler", "proc-a", ttl_s=15)
        b = LeaderLease(db_b, clock, "scheduler", "proc-b", ttl_s=15)
        assert await a.acquire() is True
        assert await b.acquire() is False
        clock.advance(seconds=10)
        assert await a.acquire() is True  # renewed: now valid until 12:00:25
        clock.advance(seconds=10)
        assert await b.acquire() is False
        clock.advance(seconds=6)  # a fell silent past its expiry
        assert await b.acquire() is True
        assert await a.acquire() is False
        await b.release()
        assert await a.acquire() is True  # a clean release hands over at once
    finally:
        await db_a.dispose()
        await db_b.dispose()


async def test_many_contenders_at_once_exactly_one_wins(database_url_for):
    clock = ManualClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    # Eight engines queue for SQLite's one write lock at once: give them the old, longer wait,
    # so a loaded machine tests who wins, not how long a lock may be waited for.
    dbs = [Database(database_url_for, lock_timeout_s=30) for _ in range(8)]
    try:
        results = await asyncio.gather(
            *(LeaderLease(db, clock, "race", f"proc-{i}").acquire() for i, db in enumerate(dbs))
        )
        assert results.count(True) == 1
    finally:
        for db in dbs:
            await db.dispose()


async def test_election_switches_roles(database_url_for):
    clock = ManualClock(datetime(2026, 11, 24, 12, 0, tzinfo=UTC))
    db = Database(database_url_for)
    events: list[str] = []

    def election(name: str) -> Election:
        async def elected() -> None:
            events.append(f"{name} elected")

        async def demoted() -> None:
            events.append(f"{name} demoted")

        return Election(LeaderLease(db, clock, "scheduler", name, ttl_s=15), elected, demoted)

    a, b = election("a"), election("b")
    try:
        assert await a.step() is True
        assert await b.step() is False
        clock.advance(seconds=16)
        assert await b.step() is True
        assert await a.step() is False
        await b.stop()
        assert await a.step() is True
        assert events == ["a elected", "b elected", "a demoted", "b demoted", "a elected"]
    finally:
        await a.stop()
        await db.dispose()


async def test_a_dead_leader_is_replaced_within_five_seconds_with_the_default_lease(database_url_for):
    """The leader's process dies (no release, no more renewals): with the default lease the
    other process runs the scheduler again within 5 s, so crisis re-alerts hardly pause."""
    from contact.clock import SystemClock
    from contact.settings import Settings

    ttl = Settings(database_url=database_url_for).leader_ttl_s
    clock = SystemClock()
    db_a, db_b = Database(database_url_for), Database(database_url_for)
    elected: dict[str, float] = {}

    def on(name):
        async def elected_now():
            elected[name] = asyncio.get_running_loop().time()

        return elected_now

    async def nothing():
        pass

    a = Election(LeaderLease(db_a, clock, "failover", "proc-a", ttl_s=ttl), on("a"), nothing)
    b = Election(LeaderLease(db_b, clock, "failover", "proc-b", ttl_s=ttl), on("b"), nothing)
    try:
        assert await a.step() is True
        b.start()
        await asyncio.sleep(0.2)
        assert "b" not in elected
        # a dies: its task ends without releasing the lease.
        died = asyncio.get_running_loop().time()
        for _ in range(100):
            if "b" in elected:
                break
            await asyncio.sleep(0.1)
        assert "b" in elected and elected["b"] - died <= 5.0, elected
    finally:
        await b.stop()
        await db_a.dispose()
        await db_b.dispose()
