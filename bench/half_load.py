#!/usr/bin/env python
"""The control for `bench/scale.py --mode processes`: what the same fixed work costs per unit on
this machine at full rate in one process (a), at half rate in one process (c), and at half rate in
each of two processes at once (b), with nothing crossing between the processes.

Each unit of work is the risk-signal detector scoring one chat message (pure Python, the same
texts in the same order everywhere, after a warm-up pass); a process wakes for each unit on a
timer, as a server wakes for each message. Since nothing is shared and nothing crosses, a
second process adds no work at all here: whatever b/a shows is what the machine itself charges
for spreading the same work over two processes, each at half its rate (cold caches between
wake-ups, two vCPUs shared with the other process). It is the floor under the two-process ratio of
the relay, which must also carry every crossing message over Redis.

`--neighbour P` keeps one more process busy P % of one core all along (in 10 ms slices), as
PostgreSQL, Redis and the client keep the machine busy in the relay bench (about 50 %): the
penalty of half the rate shrinks as the machine is busier, and this shows by how much.

Reported per variant and round: CPU per unit of the whole process (what the relay bench measures)
and of the work alone (thread time around each call), medians over the rounds, and b/a, b/c, c/a.

.venv/bin/python bench/half_load.py [--rate 300] [--duration 20] [--rounds 5] [--neighbour 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def _work(rate: float, duration: float) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from bench.risk_signals import TUNING, load
    from routing.risk import default_detector

    detector = default_detector()
    sentences = [text for *_, text in load(TUNING["train (A)"])]
    for text in sentences:  # warm-up: every word seen once, as in a server that has run a while
        detector.detect(text)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    units = 0
    work_s = 0.0
    start = loop.time() + 0.5
    total = int(rate * duration)

    def unit(i: int) -> None:
        nonlocal units, work_s
        t = time.thread_time()
        detector.detect(sentences[i % len(sentences)])
        work_s += time.thread_time() - t
        units += 1
        if units == total:
            done.set()

    cpu0 = time.process_time()
    for i in range(total):
        loop.call_at(start + i / rate, unit, i)
    await done.wait()
    cpu = time.process_time() - cpu0
    return {"units": units, "cpu_ms_per_unit": cpu / units * 1000, "work_ms_per_unit": work_s / units * 1000}


def child(rate: float, duration: float) -> None:
    print(json.dumps(asyncio.run(_work(rate, duration))))


def neighbour(percent: float) -> None:
    """Busy `percent` % of each 10 ms, asleep the rest, until killed."""
    busy = 0.010 * percent / 100
    while True:
        start = time.perf_counter()
        while time.perf_counter() - start < busy:
            pass
        time.sleep(max(0.0, 0.010 - (time.perf_counter() - start)))


def run(processes: int, rate: float, duration: float) -> dict[str, float]:
    """`processes` children at once, each at `rate`; CPU summed and divided by all units."""
    procs = [
        subprocess.Popen(
            [sys.executable, __file__, "--child", "--rate", str(rate), "--duration", str(duration)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=duration * 4 + 120)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    units = sum(r["units"] for r in results)
    return {
        "cpu_ms_per_unit": sum(r["cpu_ms_per_unit"] * r["units"] for r in results) / units,
        "work_ms_per_unit": sum(r["work_ms_per_unit"] * r["units"] for r in results) / units,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=300.0, help="units per second of (a)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each run")
    parser.add_argument("--rounds", type=int, default=5, help="times (a), (b) and (c) run in turn")
    parser.add_argument("--max-load", type=float, default=1.0, help="refuse to start above this 1-minute load")
    parser.add_argument("--neighbour", type=float, default=0.0, help="%% of one core another process burns all along")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--burn", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rate, args.duration)
        return 0
    if args.burn is not None:
        neighbour(args.burn)
        return 0
    load = os.getloadavg()[0]
    if load > args.max_load:
        print(f"machine busy (1-minute load {load:.2f} > {args.max_load}): figures would be noise")
        return 2
    variants = {
        "a": ("(a) one process, full rate", 1, args.rate),
        "b": ("(b) two processes, half rate each", 2, args.rate / 2),
        "c": ("(c) one process, half rate", 1, args.rate / 2),
    }
    figures: dict[str, list[dict[str, float]]] = {k: [] for k in variants}
    burner = None
    if args.neighbour > 0:
        burner = subprocess.Popen([sys.executable, __file__, "--burn", str(args.neighbour)])
        print(f"a neighbour burns {args.neighbour:.0f} % of one core all along")
    try:
        for r in range(1, args.rounds + 1):
            for key, (label, processes, rate) in variants.items():
                got = run(processes, rate, args.duration)
                figures[key].append(got)
                print(
                    f"{r}{label:<38} CPU {got['cpu_ms_per_unit']:.3f} ms/unit, work alone {got['work_ms_per_unit']:.3f}"
                )
    finally:
        if burner is not None:
            burner.kill()
            burner.wait()
    print()
    for measure in ("cpu_ms_per_unit", "work_ms_per_unit"):
        med = {k: statistics.median(f[measure] for f in v) for k, v in figures.items()}
        print(
            f"{measure}: medians (a) {med['a']:.3f} (b) {med['b']:.3f} (c) {med['c']:.3f}; "
            f"b/a {med['b'] / med['a']:.2f}, b/c {med['b'] / med['c']:.2f}, c/a {med['c'] / med['a']:.2f}"
        )
    print(f"machine: 1-minute load {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
