#!/usr/bin/env python
"""What reading opening hours per team costs at each decision (see docs/performance.md).

    .venv/bin/python bench/opening_hours.py [--n 2000]
    .venv/bin/python bench/opening_hours.py --postgres-url postgresql+asyncpg://user@host:5432/empty_db

On a fresh SQLite file (or the given, migrated-to-head PostgreSQL database) with an own pattern
for every team and 50 exceptions, measures per call (mean and p99 in ms): the version check a
decision makes at most every 0.25 s (`snapshot()` when nothing changed), a full reload (after a
change), and the state of all four teams from a loaded snapshot (pure, no database), as
remembered until its next change and as computed afresh.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from contact.auth import AgentIdentity
from contact.clock import ManualClock
from contact.db import Database
from contact.hours import ChatHours
from contact.migrate import upgrade
from contact.opening import OpeningHours

TEAMS = {"jeugd": "Jeugd", "volwassenen": "Volwassenen", "professionals": "Professionals", "crisis": "Crisisdienst"}
BOSS = AgentIdentity(
    id="bench-supervisor", username="bench", name="Bench", role="supervisor", teams=(), max_concurrent=None
)


def _figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"mean {statistics.fmean(samples) * 1000:.3f} ms, p99 {p99 * 1000:.3f} ms"


async def _time(n: int, action) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        await action()
        out.append(time.perf_counter() - started)
    return out


async def main(n: int, postgres_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = postgres_url or f"sqlite+aiosqlite:///{Path(folder) / 'hours.db'}"
        await asyncio.to_thread(upgrade, url)
        db = Database(url)
        clock = ManualClock(datetime(2026, 11, 24, 8, 0, tzinfo=UTC))
        hours = OpeningHours(db, clock, ChatHours("mon-fri 09:00-17:00"), TEAMS, check_every_s=0)
        days = {
            d: [{"opens": "09:00", "closes": "17:00"}, {"opens": "19:00", "closes": "22:00"}] for d in ("mon", "tue")
        }
        for team in TEAMS:
            await hours.set_pattern(BOSS, team, days)
        for i in range(50):
            start = clock.now() + timedelta(days=i % 25, hours=i % 7)
            team = list(TEAMS)[i % 4]
            await hours.add_exception(
                BOSS,
                team,
                starts_at=start.isoformat(),
                ends_at=(start + timedelta(hours=2)).isoformat(),
                open=i % 2 == 0,
            )
        await hours.snapshot()
        print(f"database: {url.split(':')[0]}, {n} calls each")
        print("version check (no change):", _figures(await _time(n, hours.snapshot)))

        async def reload() -> None:
            hours.forget()
            await hours.snapshot()

        print("full reload (after a change):", _figures(await _time(n, reload)))
        hours.check_every_s = 3600
        print("state of 4 teams (remembered until the next change):", _figures(await _time(n, hours.states)))

        async def computed() -> None:
            hours._memo.clear()
            await hours.states()

        print("state of 4 teams (computed, pure):", _figures(await _time(n, computed)))
        await db.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    asyncio.run(main(args.n, args.postgres_url))
