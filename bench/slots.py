#!/usr/bin/env python
"""Tijdvakken availability with 10,000 bookings in the database (see docs/performance.md).

    .venv/bin/python bench/slots.py [--requests 1500] [--concurrency 10] [--bookings 10000]
    .venv/bin/python bench/slots.py --postgres-url postgresql+asyncpg://user@host:5432/empty_db

Measures `GET /api/callbacks/slots` (requests/s, p50, p99) with `--bookings` bookings in the
database, spread evenly over all tijdvakken of both kinds in the next 90 days, against the same
query on a database without bookings (the baseline), and prints both and their ratio, for
`days=90` and `days=14`, `terugbellen` and `adviesgesprek`. It also measures the booking
itself, `POST /api/callbacks`, the contended write path: `--book-requests` bookings at
`--book-concurrency`, into the database without bookings and into the one with them.

The real app (`app.bootstrap.create_app`) runs in this process on 127.0.0.1, with uvloop,
the server's access logger and `gc.freeze()` as `vt-contact serve` has them, on a fresh SQLite
file in a temporary folder (`synchronous=FULL`, the default). The clients are aiohttp sessions
in the same event loop: clients and server share one core, so the absolute figures are lower
than a server alone would reach; the ratios compare like with like. The clock stands still on
a Monday at 08:00 in Amsterdam, so every run sees the same tijdvakken. The scheduler (elected
background jobs) is off: it is not on the measured path and would only add noise.

With SQLite two apps run side by side, one on an empty database (the baseline) and one on the
database that gets the bookings. Each measurement is split into `--rounds` parts that alternate
between the two, so that whatever else the machine does at that moment weighs on both alike.

The bookings go through the real `POST /api/callbacks` (rate limits set out of reach), each
with its own valid Dutch mobile number, so none is merged; the places per tijdvak are set to
1,000 so that every tijdvak stays on the list. After the fill the bench checks that the slots
answer accounts for every booking.

With `--postgres-url` the runs go against that PostgreSQL database instead, one after the
other: the baseline on the empty database, then the bookings, then the same runs again. It must
be a database made for this (it is migrated to the head revision and must hold no callbacks);
the bench leaves its bookings behind.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import math
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from callback.store import requests as request_table  # noqa: E402
from app.bootstrap import create_app  # noqa: E402
from contact.clock import ManualClock  # noqa: E402
from contact.db import Database  # noqa: E402
from contact.logs import configure  # noqa: E402
from contact.migrate import upgrade  # noqa: E402
from contact.settings import Settings  # noqa: E402
from contact.web import PrivateAccessLogger  # noqa: E402

try:
    import psutil
except ImportError:  # pragma: no cover - psutil comes with the test extras
    psutil = None  # type: ignore[assignment]

HOST = "127.0.0.1"
SECRET = "bench-secret-key-0123456789abcdef"  # 32 characters, only for this throw-away server
HASH_KEY = "bench-hash-key-0123456789abcdefg"  # 32 characters
# Monday 30 November 2026, 08:00 in Amsterdam: the first tijdvak (09:00) can still be booked.
NOW = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
CAPACITY = 1000  # places per tijdvak: with 10,000 bookings every tijdvak keeps room
KINDS = ("terugbellen", "adviesgesprek")
QUERIES = (("terugbellen", 90), ("terugbellen", 14), ("adviesgesprek", 90), ("adviesgesprek", 14))
WARMUP = 100
now = time.perf_counter


class BenchError(RuntimeError):
    pass


@dataclass
class Run:
    """One measured run: per-request latencies (s), wall time and CPU use."""

    requests: int
    wall: float
    latencies: list[float]
    cpu: float  # this process (clients and server), in % of one core
    other: float | None  # the rest of the machine, in % of one core

    @property
    def rate(self) -> float:
        return self.requests / self.wall

    def pct(self, q: float) -> float:
        """Nearest-rank percentile in ms."""
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000


def phone(i: int) -> str:
    """A distinct valid Dutch mobile number per booking (061xxxxxxx), so no booking is merged."""
    if not 0 <= i < 10_000_000:
        raise ValueError("at most 10,000,000 distinct numbers")
    return f"061{i:07d}"


async def drive(n: int, concurrency: int, one: Callable[[int], Awaitable[None]], timeout: float) -> Run:
    """`n` calls of `one(i)` by `concurrency` workers that each start the next as soon as theirs
    is answered (a closed loop)."""
    latencies: list[float] = []
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            start = now()
            await one(i)
            latencies.append(now() - start)

    me = psutil.Process() if psutil else None
    cpu0 = me.cpu_times() if me else None
    all0 = psutil.cpu_times() if psutil else None
    proc0 = time.process_time()
    start = now()
    await asyncio.wait_for(asyncio.gather(*(worker() for _ in range(min(concurrency, n)))), timeout)
    wall = now() - start
    cpu = (time.process_time() - proc0) / wall * 100
    other = None
    if psutil and cpu0 is not None and all0 is not None and me is not None:
        cpu1, all1 = me.cpu_times(), psutil.cpu_times()
        busy = sum(getattr(all1, f) - getattr(all0, f) for f in ("user", "system", "nice", "irq", "softirq"))
        mine = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        other = max(0.0, busy - mine) / wall * 100
    return Run(n, wall, latencies, cpu, other)


def merge(runs: list[Run]) -> Run:
    """Several parts of one measurement as one run: all latencies, summed wall time."""
    wall = sum(r.wall for r in runs)
    others = [r.other for r in runs]
    return Run(
        requests=sum(r.requests for r in runs),
        wall=wall,
        latencies=[x for r in runs for x in r.latencies],
        cpu=sum(r.cpu * r.wall for r in runs) / wall,
        other=None if None in others else sum(o * r.wall for o, r in zip(others, runs, strict=True)) / wall,  # type: ignore[operator]
    )


class Server:
    """The real app on a loopback port, on its own database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.runner: web.AppRunner | None = None
        self.base = ""

    async def start(self) -> Server:
        app = create_app(settings_for(self.url), ManualClock(NOW))
        self.runner = web.AppRunner(app, shutdown_timeout=2, access_log_class=PrivateAccessLogger)
        await self.runner.setup()
        await web.TCPSite(self.runner, HOST, 0).start()
        self.base = f"http://{HOST}:{self.runner.addresses[0][1]}"
        return self

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None


class Bench:
    def __init__(self, args: argparse.Namespace, session: aiohttp.ClientSession) -> None:
        self.args = args
        self.http = session
        self.tijdvakken: dict[str, list[str]] = {}

    async def slots(self, server: Server, kind: str, days: int) -> list[dict[str, Any]]:
        url = f"{server.base}/api/callbacks/slots"
        async with self.http.get(url, params={"kind": kind, "days": str(days)}) as r:
            body = await r.json()
            if r.status != 200:
                raise BenchError(f"slots {kind} {days}: {r.status} {body}")
            return body["slots"]

    async def query(self, server: Server, kind: str, days: int, n: int) -> Run:
        url = f"{server.base}/api/callbacks/slots?kind={kind}&days={days}"

        async def one(_: int) -> None:
            async with self.http.get(url) as r:
                await r.read()
                if r.status != 200:
                    raise BenchError(f"slots {kind} {days}: {r.status}")

        return await drive(n, self.args.concurrency, one, self.args.timeout)

    def booking(self, i: int) -> dict[str, Any]:
        """Booking i: kinds alternate, and each kind's tijdvakken are filled round-robin."""
        kind = KINDS[i % 2]
        starts = self.tijdvakken[kind]
        return {
            "kind": kind,
            "slot_start": starts[(i // 2) % len(starts)],
            "phone": phone(i),
            "caller_type": "volwassene",
            "safe_to_leave_voicemail": i % 3 != 0,
            "name": f"Beller {i}",
            "topic": "Ik maak me zorgen over de buren.",
        }

    async def book(self, server: Server, first: int, n: int) -> Run:
        url = f"{server.base}/api/callbacks"

        async def one(i: int) -> None:
            async with self.http.post(url, json=self.booking(first + i)) as r:
                body = await r.read()
                if r.status != 201:
                    raise BenchError(f"booking {first + i}: {r.status} {body[:300]!r}")

        return await drive(n, self.args.book_concurrency, one, self.args.timeout)

    async def warm(self, server: Server) -> None:
        for kind, days in QUERIES:
            await self.query(server, kind, days, WARMUP)

    async def queries(self, label: str, server: Server) -> dict[tuple[str, int], Run]:
        """Each query on one server, one after the other."""
        runs = {}
        for kind, days in QUERIES:
            runs[(kind, days)] = run = await self.query(server, kind, days, self.args.requests)
            show(label, kind, days, run)
        return runs

    async def queries_alternating(
        self, empty: Server, full: Server
    ) -> tuple[dict[tuple[str, int], Run], dict[tuple[str, int], Run]]:
        """Each query on both servers, in `--rounds` parts that take turns."""
        rounds = max(1, min(self.args.rounds, self.args.requests))
        parts = [self.args.requests // rounds + (r < self.args.requests % rounds) for r in range(rounds)]
        a: dict[tuple[str, int], Run] = {}
        b: dict[tuple[str, int], Run] = {}
        for kind, days in QUERIES:
            runs_a, runs_b = [], []
            for n in parts:
                runs_a.append(await self.query(empty, kind, days, n))
                runs_b.append(await self.query(full, kind, days, n))
            a[(kind, days)], b[(kind, days)] = merge(runs_a), merge(runs_b)
            show("no bookings", kind, days, a[(kind, days)])
            show(f"{self.args.bookings:,} bookings", kind, days, b[(kind, days)])
        return a, b

    async def check_booked(self, server: Server, expected: dict[str, int]) -> None:
        """The 90-day answer must account for every booking: sum of (capacity - remaining)."""
        for kind in KINDS:
            found = await self.slots(server, kind, 90)
            booked = sum(CAPACITY - s["remaining"] for s in found)
            if booked != expected[kind] or len(found) != len(self.tijdvakken[kind]):
                raise BenchError(
                    f"{kind}: slots show {booked} booked in {len(found)} tijdvakken, "
                    f"expected {expected[kind]} in {len(self.tijdvakken[kind])}"
                )


def show(label: str, kind: str, days: int, run: Run) -> None:
    print(f"  {label:<16} {kind:<13} days={days:<3} {run.rate:7.0f} req/s  p99 {run.pct(0.99):6.1f} ms", flush=True)


def settings_for(url: str) -> Settings:
    return Settings(
        database_url=url,
        secret_key=SECRET,
        hash_key=HASH_KEY,
        callback_horizon_days=120,  # 90 days ahead are bookable
        callback_capacity=CAPACITY,
        adviesgesprek_capacity=CAPACITY,
        start_limit_per_ip=1_000_000_000,
        callback_limit_per_ip=1_000_000_000,
        scheduler_enabled=False,
        log_level="WARNING",
        log_format="console",
    )


async def existing_requests(url: str) -> int:
    db = Database(url)
    try:
        async with db.read() as conn:
            return int(await conn.scalar(select(func.count()).select_from(request_table)) or 0)
    finally:
        await db.dispose()


def fmt_ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def fmt_other(*runs: Run) -> str:
    return "/".join(f"{r.other:.0f}" for r in runs) + "%" if all(r.other is not None for r in runs) else "-"


def print_report(
    args: argparse.Namespace,
    backend: str,
    counts: dict[str, dict[int, int]],
    empty: dict[tuple[str, int], Run],
    full: dict[tuple[str, int], Run],
    book_empty: Run,
    book_full: Run,
    fill: Run,
) -> None:
    n = f"{args.bookings:,}"
    print()
    print(
        f"slot availability, GET /api/callbacks/slots, {args.requests} requests per cell, "
        f"{args.concurrency} concurrent clients, {backend}, clients and server in one process"
    )
    print(
        f"{'':26}{'tijd-':>6}  {'no bookings':<26}  {n + ' bookings':<26}  {'with / without':>17}"
        f"  {'cpu':>9}  {'other':>9}"
    )
    print(
        f"{'':26}{'vakken':>6}  {'req/s':>6} {'p50 ms':>9} {'p99 ms':>9}  {'req/s':>6} {'p50 ms':>9} {'p99 ms':>9}"
        f"  {'req/s':>8} {'p99':>8}  {'base/with':>9}  {'base/with':>9}"
    )
    for kind, days in QUERIES:
        a, b = empty[(kind, days)], full[(kind, days)]
        print(
            f"{kind + ' days=' + str(days):<26}{counts[kind][days]:>6}  "
            f"{a.rate:>6.0f} {a.pct(0.5):>9.2f} {a.pct(0.99):>9.2f}  "
            f"{b.rate:>6.0f} {b.pct(0.5):>9.2f} {b.pct(0.99):>9.2f}  "
            f"{fmt_ratio(b.rate, a.rate):>8} {fmt_ratio(b.pct(0.99), a.pct(0.99)):>8}  "
            f"{f'{a.cpu:.0f}/{b.cpu:.0f}%':>9}  {fmt_other(a, b):>9}"
        )
    print()
    print(
        f"booking, POST /api/callbacks, {book_empty.requests} bookings per row, "
        f"{args.book_concurrency} concurrent clients, {backend}"
    )
    print(f"{'':34}{'req/s':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'cpu':>6} {'other':>6}")
    for label, run in (("database without bookings", book_empty), (f"{n} bookings in the database", book_full)):
        print(
            f"{label:<34}{run.rate:>7.0f} {run.pct(0.5):>8.1f} {run.pct(0.99):>8.1f} {run.pct(1.0):>8.1f}"
            f" {run.cpu:>5.0f}% {fmt_other(run):>6}"
        )
    print(
        f"with / without: req/s {fmt_ratio(book_full.rate, book_empty.rate)}, "
        f"p99 {fmt_ratio(book_full.pct(0.99), book_empty.pct(0.99))}"
    )
    print(
        f"fill: {fill.requests:,} bookings in {fill.wall:.1f} s ({fill.rate:.0f}/s, p50 {fill.pct(0.5):.1f} ms, "
        f"p99 {fill.pct(0.99):.1f} ms) at {args.book_concurrency} concurrent clients"
    )
    print("cpu: this process (clients + server) in % of one core; other: the rest of the machine, same unit")
    worst = max(full[q].pct(0.99) / empty[q].pct(0.99) for q in QUERIES)
    print(f"worst p99 ratio with / without bookings: {worst:.2f}" + ("  (> 10x: look into it)" if worst > 10 else ""))


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="vt-bench-slots-"))
    servers: list[Server] = []
    try:
        configure("WARNING", "console")
        if args.postgres_url:
            backend = "PostgreSQL, one after the other"
            urls = [args.postgres_url]
        else:
            backend = f"SQLite (synchronous=FULL), alternating in {args.rounds} rounds"
            urls = [f"sqlite+aiosqlite:///{tmp / name}" for name in ("empty.db", "bookings.db")]
        for url in urls:
            await asyncio.to_thread(upgrade, url)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        if args.postgres_url and (count := await existing_requests(args.postgres_url)):
            print(f"the database already holds {count} callback requests: give an empty database", file=sys.stderr)
            return 2
        for url in urls:
            servers.append(await Server(url).start())
        empty_server, full_server = servers[0], servers[-1]
        # As `vt-contact serve` does: keep start-up objects out of the collector's full passes.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 20, 100)

        connector = aiohttp.TCPConnector(limit=max(args.concurrency, args.book_concurrency))
        async with aiohttp.ClientSession(connector=connector) as session:
            bench = Bench(args, session)
            counts: dict[str, dict[int, int]] = {}
            for kind in KINDS:
                counts[kind] = {days: len(await bench.slots(empty_server, kind, days)) for days in (14, 90)}
                bench.tijdvakken[kind] = [s["start"] for s in await bench.slots(empty_server, kind, 90)]
            print(
                f"{backend}; clock {NOW:%Y-%m-%d %H:%M} UTC; tijdvakken in 90 days: "
                + ", ".join(f"{k} {len(v)}" for k, v in bench.tijdvakken.items()),
                flush=True,
            )
            book_n = args.book_requests
            expected = {k: sum(1 for i in range(args.bookings) if KINDS[i % 2] == k) for k in KINDS}
            started = now()
            for server in servers:
                await bench.warm(server)

            if len(servers) == 1:  # PostgreSQL: baseline, bookings, the same again
                print("baseline (no bookings)", flush=True)
                empty = await bench.queries("no bookings", full_server)
                print(f"booking {args.bookings:,}", flush=True)
                book_empty = await bench.book(full_server, 0, min(book_n, args.bookings))
                fill = book_empty
                if args.bookings > book_empty.requests:
                    rest = await bench.book(full_server, book_empty.requests, args.bookings - book_empty.requests)
                    fill = merge([book_empty, rest])
                await bench.check_booked(full_server, expected)
                print(f"with {args.bookings:,} bookings", flush=True)
                await bench.warm(full_server)
                full = await bench.queries(f"{args.bookings:,} bookings", full_server)
                book_full = await bench.book(full_server, args.bookings, book_n)
            else:  # SQLite: the same measurements on both databases, taking turns
                print(f"booking {args.bookings:,}", flush=True)
                fill = await bench.book(full_server, 0, args.bookings)
                await bench.check_booked(full_server, expected)
                await bench.check_booked(empty_server, dict.fromkeys(KINDS, 0))
                await bench.warm(full_server)
                print("slot queries, taking turns", flush=True)
                empty, full = await bench.queries_alternating(empty_server, full_server)
                print("bookings, taking turns", flush=True)
                rounds = max(1, min(args.rounds, book_n))
                parts = [book_n // rounds + (r < book_n % rounds) for r in range(rounds)]
                runs_a, runs_b, done = [], [], 0
                for n in parts:
                    # Numbers from `--bookings` on: new to both databases, so none is merged.
                    runs_a.append(await bench.book(empty_server, args.bookings + done, n))
                    runs_b.append(await bench.book(full_server, args.bookings + done, n))
                    done += n
                book_empty, book_full = merge(runs_a), merge(runs_b)
            print(f"total {now() - started:.0f} s", flush=True)
        print_report(args, backend, counts, empty, full, book_empty, book_full, fill)
        return 0
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        for server in servers:
            await server.stop()
        if args.keep and not args.postgres_url:
            print(f"databases kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def event_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed, as `vt-contact serve` uses it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1500, help="slot queries per measured row (1500)")
    parser.add_argument("--concurrency", type=int, default=10, help="concurrent clients for slot queries (10)")
    parser.add_argument("--bookings", type=int, default=10_000, help="bookings in the database (10,000)")
    parser.add_argument("--book-requests", type=int, default=500, help="bookings per measured booking row (500)")
    parser.add_argument("--book-concurrency", type=int, default=20, help="concurrent clients when booking (20)")
    parser.add_argument("--rounds", type=int, default=3, help="parts per measurement, taking turns (SQLite, 3)")
    parser.add_argument("--postgres-url", help="an empty postgresql+asyncpg:// database instead of SQLite")
    parser.add_argument("--timeout", type=float, default=600, help="limit per measured run in seconds (600)")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite database")
    args = parser.parse_args()
    if args.requests < 1 or args.concurrency < 1 or args.bookings < 1 or args.book_requests < 1 or args.rounds < 1:
        parser.error("counts must be 1 or more")
    if args.bookings + args.book_requests > 10_000_000:
        parser.error("at most 10,000,000 bookings")
    if args.postgres_url and not args.postgres_url.startswith("postgresql+asyncpg://"):
        parser.error("--postgres-url must be postgresql+asyncpg://…")
    loop = event_loop()
    try:
        return loop.run_until_complete(run(args))
    except KeyboardInterrupt:
        return 130
    finally:
        with contextlib.suppress(Exception):
            loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
