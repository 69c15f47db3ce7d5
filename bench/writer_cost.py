#!/usr/bin/env python
"""The message writer's own CPU per message on PostgreSQL: its own connection (`_PostgresLane`:
one statement a batch for conversations it knows, or as in session 10 a read before every write;
or its locked way: BEGIN, lock and read, write, COMMIT) against the async engine, at low
batching (docs/performance.md, sessions 10 and 11).

    .venv/bin/python bench/writer_cost.py [--messages 2000] [--in-flight 1] [--rounds 3]

A throwaway PostgreSQL (tests/support/services.py) with 20 open conversations; `--in-flight`
posts wait at a time (1: every batch holds one message). Each round writes the same number of
messages through the engine, the lane's locked way, the lane reading before every write, and the
lane, one right after the other, and prints this process's CPU time (what the server process
would spend on it, the driver included), PostgreSQL's CPU time (all its processes) and the wall
time per message."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

import chat.writer  # noqa: E402
from chat.writer import MessageWriter, NewMessage, _PostgresLane  # noqa: E402
from contact.db import Database  # noqa: E402
from tests.chat.test_message_writer import AT, conversation, pg_database  # noqa: E402
from tests.support.services import postgres_process  # noqa: E402

WAYS = ("engine", "locked", "read each batch", "own connection")


def _postgres_cpu(pid: int) -> float:
    """CPU seconds of the PostgreSQL server and its backends so far."""
    total = 0.0
    try:
        main = psutil.Process(pid)
        for proc in [main, *main.children(recursive=True)]:
            try:
                times = proc.cpu_times()
                total += times.user + times.system
            except psutil.Error:
                pass  # a backend that ended meanwhile
    except psutil.Error:
        pass
    return total


async def _round(
    db: Database, way: str, cids: list[str], messages: int, in_flight: int, pg_pid: int
) -> tuple[float, float, float, float]:
    writer = MessageWriter(db)
    if way == "engine":
        writer._lane = None
    if way == "read each batch":
        assert isinstance(writer._lane, _PostgresLane)
        writer._lane._trusted = lambda batch: {}  # type: ignore[method-assign]
    chat.writer._UNLOCKED_TRIES = 0 if way == "locked" else 2
    writer.start()

    async def post(n: int) -> None:
        for i in range(n):
            await writer.write(NewMessage(cids[i % len(cids)], "visitor", uuid.uuid4().hex, "hallo daar", AT))

    await post(50)  # connections open, statements prepared
    batches = writer.batches
    cpu, wall, pg = time.process_time(), time.perf_counter(), _postgres_cpu(pg_pid)
    await asyncio.gather(*(post(messages // in_flight) for _ in range(in_flight)))
    cpu, wall, pg = time.process_time() - cpu, time.perf_counter() - wall, _postgres_cpu(pg_pid) - pg
    done = messages // in_flight * in_flight
    per_batch = done / max(1, writer.batches - batches)
    await writer.stop()
    return cpu / done * 1000, pg / done * 1000, wall / done * 1000, per_batch


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--in-flight", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with postgres_process() as process:
        pg = process.start()
        pg_pid = int((process.workdir / "data" / "postmaster.pid").read_text().splitlines()[0])
        db = await pg_database(pg)
        cids = [await conversation(db) for _ in range(20)]
        for n in range(1, args.rounds + 1):
            for way in WAYS:
                cpu, pg_cpu, wall, per_batch = await _round(db, way, cids, args.messages, args.in_flight, pg_pid)
                print(
                    f"round {n} {way:15s}: CPU {cpu:.3f} ms/message, PostgreSQL {pg_cpu:.3f} ms/message, "
                    f"wall {wall:.3f} ms/message, {per_batch:.1f}/batch",
                    flush=True,
                )
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
