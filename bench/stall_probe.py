#!/usr/bin/env python
"""What the server was doing when a message was late: a measuring wrapper of `vt-contact` for
`bench/chat_relay.py --vt-command`, and a report that lines its records up with the bench's
latency timeline (docs/performance.md, "Stalls at the rate run and the disconnect wave").

    STALL_PROBE_OUT=/tmp/p.jsonl .venv/bin/python bench/chat_relay.py --skip-bare --saturation 1 \\
        --duration 40 --json /tmp/r.json --vt-command ".venv/bin/python bench/stall_probe.py"
    .venv/bin/python bench/stall_probe.py report /tmp/r.json /tmp/p.jsonl

(from the repository's folder).

As the server it records, one JSON line each, on the machine's monotonic clock (the bench's
`rate_timeline_t0` is on the same clock):
- `gc`: every collection, its wall time and the CPU time of the thread that ran it (CPU time does
  not grow when the machine is busy, wall time does);
- `lag`: the event loop woke more than 20 ms late; `blocked`: the loop's stack at that moment
  (a watchdog thread looks every 4 ms);
- `job`: each scheduled job's run; `write`: each write transaction, its wait for the lock, its
  body and its commit, and who opened it; `batch`: each message batch (its wait for its turn
  and its transaction); `lane_begin`/`lane_commit`: the message writer's BEGIN IMMEDIATE and
  COMMIT when longer than 8 ms; `checkpoint`: each WAL checkpoint of the checkpointer
  (contact/checkpoints.py), its mode, time and the WAL's frames.
`STALL_PROBE_GC=700,10,10` sets other GC thresholds once the server runs (an experiment);
`STALL_PROBE_GC_CENSUS=1` records what the young generation holds before each collection.
Nothing here is part of the server."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

# Run as a script (`--vt-command ".venv/bin/python bench/stall_probe.py"`): the checkout beside it is the code measured.
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

_OUT = None
# Re-entrant: a collection can start while this thread writes a line, and its record comes here too.
_LOCK = threading.RLock()


def rec(**kw: Any) -> None:
    kw.setdefault("t", time.perf_counter())
    with _LOCK:
        assert _OUT is not None
        _OUT.write(json.dumps(kw) + "\n")


def _short(frames: Any) -> list[str]:
    out = []
    for f in frames:
        name = f.filename.split("/site-packages/")[-1]
        for root in (os.getcwd() + "/", str(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + "/"):
            name = name.removeprefix(root)
        out.append(f"{name}:{f.lineno}:{f.name}")
    return out


def install() -> None:
    global _OUT
    _OUT = open(os.environ.get("STALL_PROBE_OUT", "/tmp/stall_probe.jsonl"), "a", buffering=1)  # noqa: SIM115
    started: dict[str, float] = {}

    census = bool(os.environ.get("STALL_PROBE_GC_CENSUS"))

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            if census and info["generation"] == 0:
                young = gc.get_objects(0)
                kinds: dict[str, int] = {}
                for o in young:
                    kinds[type(o).__name__] = kinds.get(type(o).__name__, 0) + 1
                sizes = sorted(
                    ((len(o), type(o).__name__) for o in young if isinstance(o, (dict, list, set, tuple))), reverse=True
                )
                rec(
                    kind="gc_census",
                    young=len(young),
                    kinds=sorted(kinds.items(), key=lambda kv: -kv[1])[:12],
                    largest=sizes[:8],
                )
            started["t"], started["c"] = time.perf_counter(), time.thread_time()
            return
        rec(
            kind="gc",
            gen=info["generation"],
            ms=round((time.perf_counter() - started.get("t", 0)) * 1000, 2),
            cpu_ms=round((time.thread_time() - started.get("c", 0)) * 1000, 2),
            collected=info["collected"],
        )

    gc.callbacks.append(on_gc)
    main = threading.main_thread().ident
    beat = [time.perf_counter()]

    def watchdog() -> None:
        reported = 0.0
        while True:
            time.sleep(0.004)
            lag = time.perf_counter() - beat[0]
            if lag > 0.025 and beat[0] != reported:
                frame = sys._current_frames().get(main)
                if frame is not None:
                    rec(kind="blocked", lag_ms=round(lag * 1000, 1), stack=_short(traceback.extract_stack(frame))[-14:])
                if lag > 0.1:
                    reported = beat[0]

    threading.Thread(target=watchdog, daemon=True).start()

    async def heartbeat() -> None:
        while True:
            t = time.perf_counter()
            beat[0] = t
            await asyncio.sleep(0.002)
            lag = time.perf_counter() - t - 0.002
            if lag > 0.02:
                rec(kind="lag", ms=round(lag * 1000, 1))

    import app.lifecycles as lifecycles
    import chat.writer as writer
    import contact.db as db
    import contact.scheduler as scheduler

    guarded = scheduler.JobRunner._guarded

    async def timed_job(self: Any, task: Any) -> None:
        t0 = time.perf_counter()
        try:
            await guarded(self, task)
        finally:
            rec(kind="job", name=task.name, start=t0, ms=round((time.perf_counter() - t0) * 1000, 1))

    scheduler.JobRunner._guarded = timed_job  # type: ignore[method-assign]

    write = db.Database.write

    @contextlib.asynccontextmanager
    async def timed_write(self: Any) -> Any:
        t0 = time.perf_counter()
        async with write(self) as conn:
            t1 = time.perf_counter()
            yield conn
            t2 = time.perf_counter()
        t3 = time.perf_counter()
        stack = [s for s in _short(traceback.extract_stack()) if "contextlib" not in s and "stall_probe" not in s]
        rec(
            kind="write",
            start=t0,
            wait_ms=round((t1 - t0) * 1000, 1),
            body_ms=round((t2 - t1) * 1000, 1),
            commit_ms=round((t3 - t2) * 1000, 1),
            by=stack[-1] if stack else "?",
        )

    db.Database.write = timed_write  # type: ignore[method-assign,assignment]

    connect = db.Database.sqlite_connect

    class TimedConnection:
        def __init__(self, conn: Any) -> None:
            self._conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        def execute(self, sql: str, *args: Any) -> Any:
            if sql not in ("BEGIN IMMEDIATE", "COMMIT"):
                return self._conn.execute(sql, *args)
            t0 = time.perf_counter()
            try:
                return self._conn.execute(sql, *args)
            finally:
                d = time.perf_counter() - t0
                if d > 0.008:
                    rec(kind="lane_" + sql.split()[0].lower(), ms=round(d * 1000, 1), start=t0)

    db.Database.sqlite_connect = lambda self: TimedConnection(connect(self))  # type: ignore[method-assign,assignment,return-value]

    write_batch = writer.MessageWriter._write_batch

    async def timed_batch(self: Any, batch: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await write_batch(self, batch)
        finally:
            rec(kind="batch", start=t0, ms=round((time.perf_counter() - t0) * 1000, 1), n=len(batch))

    writer.MessageWriter._write_batch = timed_batch  # type: ignore[method-assign]

    import contact.checkpoints as checkpoints

    checkpoint = checkpoints.WalCheckpointer._checkpoint

    def timed_checkpoint(self: Any, mode: str, wait_s: float = 0.0) -> Any:
        t0 = time.perf_counter()
        done = checkpoint(self, mode, wait_s)
        rec(kind="checkpoint", start=t0, mode=mode, ms=round((time.perf_counter() - t0) * 1000, 1), frames=done.frames)
        return done

    checkpoints.WalCheckpointer._checkpoint = timed_checkpoint  # type: ignore[method-assign]

    found = lifecycles.lifecycles

    async def probe(_app: Any) -> Any:
        task = asyncio.get_running_loop().create_task(heartbeat())
        if os.environ.get("STALL_PROBE_GC"):
            gc.set_threshold(*map(int, os.environ["STALL_PROBE_GC"].split(",")))
        rec(kind="started", gc_threshold=gc.get_threshold())
        yield
        task.cancel()

    lifecycles.lifecycles = lambda app: [*found(app), probe]  # type: ignore[assignment]


def report(result_path: str, probe_path: str) -> None:
    """The stalls of the rate run (half-seconds with a message later than 50 ms) and what the
    server recorded within 0.4 s before and 0.5 s after each; then totals per kind."""
    result = json.load(open(result_path))["vt"]  # noqa: SIM115
    t0 = result["rate_timeline_t0"]
    records = [json.loads(line) for line in open(probe_path)]  # noqa: SIM115
    end = t0 + max(b["t"] for b in result["rate_timeline"]) + 1
    during = [r for r in records if t0 <= r.get("start", r["t"]) <= end]
    for b in result["rate_timeline"]:
        if b["max_ms"] <= 50:
            continue
        print(f"stall at {b['t']:.1f} s: max {b['max_ms']} ms, p50 {b['p50_ms']} ms")
        for r in during:
            at = r.get("start", r["t"]) - t0
            if not b["t"] - 0.4 <= at <= b["t"] + 0.5 or r["kind"] == "batch":
                continue
            if r["kind"] == "write" and r["body_ms"] + r["commit_ms"] + r["wait_ms"] < 10:
                continue
            if r["kind"] == "gc" and r["ms"] < 3:
                continue
            shown = {k: v for k, v in r.items() if k not in ("t", "start", "kind", "stack")}
            if "stack" in r:
                shown["at"] = " < ".join(reversed(r["stack"][-4:]))
            print(f"  {at:6.2f} {r['kind']:<11} {shown}")
    gcs = [r for r in during if r["kind"] == "gc"]
    print(
        f"\ncollections: {len(gcs)}, of which >3 ms {sum(1 for r in gcs if r['ms'] > 3)}; "
        f"CPU ms p50/max {sorted(r['cpu_ms'] for r in gcs)[len(gcs) // 2] if gcs else '-'}/"
        f"{max((r['cpu_ms'] for r in gcs), default='-')}; wall ms max {max((r['ms'] for r in gcs), default='-')}"
    )
    by: dict[str, list[float]] = {}
    for r in during:
        if r["kind"] == "write":
            by.setdefault(r["by"], []).append(r["body_ms"] + r["commit_ms"])
    for who, holds in sorted(by.items(), key=lambda kv: -sum(kv[1])):
        print(f"write lock held by {who}: {len(holds)} times, {sum(holds):.0f} ms in all, longest {max(holds):.0f} ms")
    lags = [r["ms"] for r in during if r["kind"] == "lag"]
    print(f"loop late by >20 ms: {len(lags)} times, longest {max(lags, default=0)} ms")
    commits = sorted(r["ms"] for r in during if r["kind"] == "lane_commit")
    print(
        f"lane COMMIT >8 ms: {len(commits)} times, >50 ms {sum(1 for ms in commits if ms > 50)}, "
        f">100 ms {sum(1 for ms in commits if ms > 100)}, longest {commits[-5:]}"
    )
    for gen in (0, 1, 2):
        mine = [r for r in gcs if r["gen"] == gen]
        if mine:
            print(
                f"gen {gen} collections: {len(mine)}, CPU ms in all {sum(r['cpu_ms'] for r in mine):.0f}, "
                f"longest wall {max(r['ms'] for r in mine)} ms"
            )
    for mode in ("PASSIVE", "RESTART", "TRUNCATE"):
        these = [r for r in during if r["kind"] == "checkpoint" and r["mode"] == mode]
        runs = sorted(r["ms"] for r in these)
        if runs:
            print(
                f"checkpoints {mode}: {len(runs)}, ms p50 {runs[len(runs) // 2]}, longest {runs[-3:]}, "
                f"WAL frames at most {max(r['frames'] for r in these)}"
            )


if __name__ == "__main__":
    if sys.argv[1:2] == ["report"]:
        report(sys.argv[2], sys.argv[3])
    else:
        install()
        from app.cli import main

        sys.exit(main())
