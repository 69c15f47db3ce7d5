#!/usr/bin/env python
"""The message writer's own CPU per message on PostgreSQL: its own connection (`_PostgresLane`,
two statements with compare-and-set, or its locked way: BEGIN, lock and read, write, COMMIT)
against the async engine, at low batching (docs/performance.md, session 10).

    .venv/bin/python bench/writer_cost.py [--messages 2000] [--in-flight 1] [--rounds 3]

A throwaway PostgreSQL (tests/support/services.py) with 20 open conversations; `--in-flight`
posts wait at a time (1: every batch holds one message). Each round writes the same number of
messages through the engine, the lane's locked way and the lane, one right after the other, and prints
this process's CPU time (what the server process would spend on it, the driver included; not
PostgreSQL's) and the wall time per message."""

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

import chat.writer  # noqa: E402
from chat.writer import MessageWriter, NewMessage  # noqa: E402
from contact.db import Database  # noqa: E402
from tests.chat.test_message_writer import AT, conversation, pg_database  # noqa: E402
from tests.support.services import postgres_server  # noqa: E402


async def _round(db: Database, way: str, cids: list[str], messages: int, in_flight: int) -> tuple[float, float, float]:
    writer = MessageWriter(db)
    if way == "engine":
        writer._lane = None
    chat.writer._UNLOCKED_TRIES = 0 if way == "locked" else 2
    writer.start()

    async def post(n: int) -> None:
        for i in range(n):
            await writer.write(NewMessage(cids[i % len(cids)], "visitor", uuid.uuid4().hex, "hallo daar", AT))

    await post(50)  # connections open, statements prepared
    batches = writer.batches
    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(post(messages // in_flight) for _ in range(in_flight)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    done = messages // in_flight * in_flight
    per_batch = done / max(1, writer.batches - batches)
    await writer.stop()
    return cpu / done * 1000, wall / done * 1000, per_batch


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", type=int, default=2000)
    p.add_argument("--in-flight", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    with postgres_server() as pg:
        db = await pg_database(pg)
        cids = [await conversation(db) for _ in range(20)]
        for n in range(1, args.rounds + 1):
            for way in ("engine", "locked", "own connection"):
                cpu, wall, per_batch = await _round(db, way, cids, args.messages, args.in_flight)
                name = f"{way:14s}"
                print(f"round {n} {name}: CPU {cpu:.3f} ms/message, wall {wall:.3f} ms/message, {per_batch:.1f}/batch")
        await db.close()


if __name__ == "__main__":
    asyncio.run(main())
