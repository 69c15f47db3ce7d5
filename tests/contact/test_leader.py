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
    dbs = [Database(database_url_for) for _ in range(8)]
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
