"""CPU per chat start, in-process and without sockets (issue 19; docs/performance.md, "The start
path at a surge").

Builds the services as `vt-contact serve` does on a fresh SQLite file and runs N starts through
`ChatService.start`, at most C at a time, after 50 to warm up. Prints the process's CPU per
start (every thread: the event loop and SQLite's), the wall time per start and the start
latency p50/p99. To measure another version of the server, run this file with that version's
folder first on PYTHONPATH and as the working directory.

    .venv/bin/python bench/start_cost.py [--starts 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from app.services import build_services
from contact.clock import SystemClock
from tests.support.server import make_settings, migrated_sqlite


async def measure(starts: int, concurrency: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        url = await migrated_sqlite(str(Path(tmp) / "starts.db"))
        chat = build_services(make_settings(url), SystemClock()).chat
        gate = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def one(i: int) -> None:
            async with gate:
                began = time.perf_counter()
                await chat.start(
                    caller_type="volwassene",
                    intent="advies",
                    topic=None,
                    danger_now=False,
                    client_key=f"10.0.{i // 250}.{i % 250}",
                    browser=f"browser-{i}",
                )
                latencies.append(time.perf_counter() - began)

        try:
            await asyncio.gather(*(one(i) for i in range(50)))
            latencies.clear()
            cpu, wall = time.process_time(), time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(50, 50 + starts)))
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        finally:
            await chat.writer.stop()
            await chat.db.dispose()
    latencies.sort()
    return {
        "cpu_ms_per_start": 1000 * cpu / starts,
        "wall_ms_per_start": 1000 * wall / starts,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--starts", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=50)
    args = p.parse_args()
    r = asyncio.run(measure(args.starts, args.concurrency))
    print(
        f"{args.starts} starts, {args.concurrency} at a time: CPU {r['cpu_ms_per_start']:.2f} ms per start, "
        f"wall {r['wall_ms_per_start']:.2f} ms per start, p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms"
    )


if __name__ == "__main__":
    main()
