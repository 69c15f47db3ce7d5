#!/usr/bin/env python
"""How long the message lane's commits take with SQLite's checkpoints in the commit (as before
session 8) and with them in the checkpointer's thread (contact/checkpoints.py), side by side.

    .venv/bin/python bench/wal_commits.py --seconds 30 --rounds 2

No server and no sockets: one writer that commits like the message lane (BEGIN IMMEDIATE, a
batch of messages with their conversations' seq, COMMIT, `synchronous=FULL`, this process's
write gate) at the rate run's pace (500 messages/s in batches of 5), on a database that starts
with a WAL full of set-up writes, as the rate run does. What it measures is the disk and
SQLite, not the CPU, so its figures hold on a busy machine better than a rate run's latencies.
Each round runs both ways one after the other on fresh files; nothing here is part of the
server."""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from contact.checkpoints import WalCheckpointer  # noqa: E402
from contact.db import Database  # noqa: E402

SCHEMA = [
    "CREATE TABLE conversation (id INTEGER PRIMARY KEY, last_seq INTEGER NOT NULL, at TEXT)",
    "CREATE TABLE message (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    " sender TEXT NOT NULL, client_id TEXT NOT NULL, body TEXT NOT NULL, at TEXT NOT NULL)",
    "CREATE UNIQUE INDEX message_seq ON message (conversation_id, seq)",
    "CREATE UNIQUE INDEX message_client ON message (conversation_id, sender, client_id)",
]


def _prepare(db: Database, conversations: int, history: int) -> None:
    """The schema and the conversations, checkpointed; then the set-up's writes, left in the WAL."""
    conn = db.sqlite_connect()
    try:
        for statement in SCHEMA:
            conn.execute(statement)
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO conversation VALUES (?, 0, '')", [(i,) for i in range(conversations)])
        conn.execute("COMMIT")
        for _ in range(0, history, 50):
            _batch(conn, conversations, 50)
    finally:
        conn.close()


_SEQ: dict[int, int] = {}


def _batch(conn: object, conversations: int, n: int, db_file: Path | None = None) -> tuple[float, bool]:
    """One batch as the lane writes it; returns the COMMIT's seconds and whether the commit
    wrote into the database file (only a checkpoint does: the commit carried one)."""
    execute = conn.execute  # type: ignore[attr-defined]
    execute("BEGIN IMMEDIATE")
    rows = []
    for _ in range(n):
        cid = random.randrange(conversations)
        seq = _SEQ.get(cid, 0) + 1
        _SEQ[cid] = seq
        rows.append((cid, seq, "visitor", os.urandom(8).hex(), "x" * random.randint(20, 300), time.time()))
        execute("UPDATE conversation SET last_seq = ?, at = ? WHERE id = ?", (seq, str(time.time()), cid))
    conn.executemany(  # type: ignore[attr-defined]
        "INSERT INTO message (conversation_id, seq, sender, client_id, body, at) VALUES (?, ?, ?, ?, ?, ?)", rows
    )
    before = db_file.stat().st_mtime_ns if db_file is not None else 0
    t0 = time.perf_counter()
    execute("COMMIT")
    took = time.perf_counter() - t0
    return took, db_file is not None and db_file.stat().st_mtime_ns != before


async def _run(background: bool, seconds: float, args: argparse.Namespace) -> dict[str, float]:
    folder = Path(tempfile.mkdtemp(prefix="vt-wal-", dir=args.dir))
    _SEQ.clear()
    try:
        db = Database(f"sqlite+aiosqlite:///{folder / 'bench.db'}", background_checkpoints=background)
        await asyncio.to_thread(_prepare, db, args.conversations, args.history)
        checkpointer = WalCheckpointer(db) if background else None
        if checkpointer is not None:
            checkpointer.start()
        conn = db.sqlite_connect()
        commits: list[float] = []
        carried: list[float] = []  # commits that did a checkpoint
        waits: list[float] = []
        pace = args.batch / args.rate
        start = time.perf_counter()
        due = start
        while time.perf_counter() - start < seconds:
            due += pace
            t0 = time.perf_counter()
            async with db.write_gate():
                waits.append(time.perf_counter() - t0)
                took, checkpointed = await asyncio.to_thread(
                    _batch, conn, args.conversations, args.batch, folder / "bench.db"
                )
                commits.append(took)
                if checkpointed:
                    carried.append(took * 1000)
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
        if checkpointer is not None:
            await checkpointer.stop()
        conn.close()
        await db.dispose()
        wal = Path(f"{folder / 'bench.db'}-wal")
        ms = sorted(c * 1000 for c in commits)
        gate = sorted(w * 1000 for w in waits)
        return {
            "commits": len(ms),
            "p50": ms[len(ms) // 2],
            "p99": ms[int(len(ms) * 0.99)],
            "max": ms[-1],
            "over_50": sum(1 for m in ms if m > 50),
            "gate_p99": gate[int(len(gate) * 0.99)],
            "gate_max": gate[-1],
            "wal_mb": _size_mb(wal),
            "carried": len(carried),
            "carried_p50": sorted(carried)[len(carried) // 2] if carried else 0.0,
            "others_p99": _others_p99(ms, carried),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _size_mb(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def _others_p99(ms: list[float], carried: list[float]) -> float:
    rest = list(ms)
    for c in carried:
        rest.remove(c)
    return rest[int(len(rest) * 0.99)] if rest else 0.0


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rate", type=float, default=500, help="messages per second")
    parser.add_argument("--batch", type=int, default=5, help="messages per commit")
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--history", type=int, default=20_000, help="messages written before the run")
    parser.add_argument("--dir", default=None, help="where the database goes (default: the temp folder)")
    args = parser.parse_args()
    print(
        f"{'':<26}{'commits':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'>50 ms':>8}{'gate p99/max ms':>18}"
        f"  with a checkpoint: n, p50 ms; p99 ms of the others"
    )
    for n in range(args.rounds):
        for background in (False, True):
            r = await _run(background, args.seconds, args)
            name = f"{'checkpointer' if background else 'in the commit'} (round {n + 1})"
            print(
                f"{name:<26}{r['commits']:>8}{r['p50']:>9.1f}{r['p99']:>9.1f}{r['max']:>9.1f}{r['over_50']:>8}"
                f"{r['gate_p99']:>9.1f}/{r['gate_max']:<8.1f}"
                f"  {r['carried']:>4}, {r['carried_p50']:.1f}; {r['others_p99']:.1f}"
                f"   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )


if __name__ == "__main__":
    asyncio.run(main())
