#!/usr/bin/env python
"""What an idle visitor socket's memory is made of: a measuring wrapper of `vt-contact` and a
driver that connects idle sockets to it (docs/performance.md, "Idle socket memory and
per-message CPU (session 8)").

    .venv/bin/python bench/mem_probe.py --sockets 1000

The driver starts `vt-contact serve` through this file (the wrapper), connects 20 visitor
sockets, asks for a reading, connects `--sockets` more and asks again. A reading, taken in the
server after a full collection: a tracemalloc snapshot (`--frames` frames per allocation), the
live objects counted by type and the tasks counted by their coroutine's name. The report is the
difference per socket: by type, by task, and by the allocation site in the innermost frame that
is not the standard library's `asyncio`/`tracemalloc` (`--group`).

The server is asked through files in a temporary folder, not by a signal (a signal handler that
walked the heap while sockets were connecting hung connections in session 7). Nothing here is
part of the server; the wrapper is only active when `MEM_PROBE_DIR` is set.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import gc
import json
import os
import pickle
import sys
import tempfile
import tracemalloc
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# ------------------------------------------------------------------------------ wrapper --


def _reading(folder: Path, name: str, frames: int) -> None:
    gc.collect()
    counts = collections.Counter(type(o).__qualname__ for o in gc.get_objects())
    tasks = collections.Counter()
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        tasks[getattr(coro, "__qualname__", type(coro).__name__)] += 1
    # Tracing starts at the first reading: the server starts in seconds, and the difference of
    # two readings holds only what was allocated between them anyway.
    if frames and not tracemalloc.is_tracing():
        tracemalloc.start(frames)
    snap = tracemalloc.take_snapshot() if tracemalloc.is_tracing() else None
    with open(folder / f"{name}.snap", "wb") as f:
        pickle.dump(snap, f)
    (folder / f"{name}.json").write_text(json.dumps({"types": counts, "tasks": tasks}))
    (folder / f"{name}.done").write_text("")


def install(folder: Path) -> None:
    frames = int(os.environ.get("MEM_PROBE_FRAMES", "0"))
    import app.lifecycles as lifecycles

    found = lifecycles.lifecycles

    async def watch() -> None:
        while True:
            await asyncio.sleep(0.2)
            for want in folder.glob("want-*"):
                name = want.name.removeprefix("want-")
                want.unlink()
                _reading(folder, name, frames)

    async def probe(_app: Any) -> Any:
        task = asyncio.get_running_loop().create_task(watch())
        yield
        task.cancel()

    lifecycles.lifecycles = lambda app: [*found(app), probe]  # type: ignore[assignment]


# ------------------------------------------------------------------------------- driver --


async def ask(folder: Path, name: str, timeout: float = 120) -> dict[str, Any]:
    (folder / f"want-{name}").write_text("")
    for _ in range(int(timeout * 10)):
        if (folder / f"{name}.done").exists():
            data: dict[str, Any] = json.loads((folder / f"{name}.json").read_text())
            with open(folder / f"{name}.snap", "rb") as f:
                data["snap"] = pickle.load(f)
            return data
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no reading {name} within {timeout} s")


def _site(tb: tracemalloc.Traceback, depth: int) -> str:
    """The innermost `depth` frames that are not asyncio's or tracemalloc's own."""
    out = []
    for frame in reversed(tb):  # innermost first (Traceback is oldest first since 3.7 with most_recent_first=False)
        name = frame.filename.split("/site-packages/")[-1].split("/lib/python3.11/")[-1]
        name = name.removeprefix(str(ROOT) + "/")
        out.append(f"{name}:{frame.lineno}")
        if len(out) >= depth:
            break
    return " < ".join(out)


def report(before: dict[str, Any], after: dict[str, Any], n: int, rss: tuple[int, int], depth: int) -> None:
    print(f"RSS: {(rss[1] - rss[0]) / n:.1f} KiB per socket ({rss[0]} -> {rss[1]} KiB)")
    print("\ntasks per socket:")
    for name in sorted(set(after["tasks"]) | set(before["tasks"])):
        d = after["tasks"].get(name, 0) - before["tasks"].get(name, 0)
        if d:
            print(f"  {d / n:6.2f}  {name}")
    print("\nobjects per socket (>= 0.5):")
    diffs = {t: after["types"].get(t, 0) - before["types"].get(t, 0) for t in after["types"]}
    for t, d in sorted(diffs.items(), key=lambda kv: -kv[1]):
        if d / n >= 0.5:
            print(f"  {d / n:6.2f}  {t}")
    if before["snap"] is None:
        return
    stats = after["snap"].compare_to(before["snap"], "traceback")
    total = sum(s.size_diff for s in stats)
    print(f"\ntracemalloc: {total / n / 1024:.2f} KiB per socket; by site ({depth} frames), >= 40 B per socket:")
    by: dict[str, list[int]] = {}
    for s in stats:
        key = _site(s.traceback, depth)
        acc = by.setdefault(key, [0, 0])
        acc[0] += s.size_diff
        acc[1] += s.count_diff
    for key, (size, count) in sorted(by.items(), key=lambda kv: -kv[1][0]):
        if size / n < 40:
            continue
        print(f"  {size / n:7.0f} B {count / n:5.1f}x  {key}")


async def drive(args: argparse.Namespace) -> None:
    import aiohttp

    from bench import chat_relay as cr

    folder = Path(tempfile.mkdtemp(prefix="mem-probe-"))
    cr.VT_COMMAND[:] = [sys.executable, str(Path(__file__).resolve()), "serve"]
    cr.EXTRA_SERVER_ENV.update(MEM_PROBE_DIR=str(folder), MEM_PROBE_FRAMES=str(args.frames))
    children = cr.Children()
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            vt, _tokens = await cr.start_vt(children, folder, 1)
            pid = vt.proc.pid

            def connect() -> Any:
                return cr.Sock("/visitor").connect(session, vt.url)

            probe = await cr.gather_limited([connect for _ in range(20)], 20)
            await asyncio.sleep(args.warm)
            before = await ask(folder, "before")
            rss0 = await cr.settled_rss(pid, 1)
            socks = await cr.gather_limited([connect for _ in range(args.sockets)], 100)
            await asyncio.sleep(args.settle)
            after = await ask(folder, "after")
            rss1 = await cr.settled_rss(pid, 1)
            report(before, after, args.sockets, (rss0, rss1), args.group)
            await cr.close_all(socks + probe)
    finally:
        children.stop_all()


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        install(Path(os.environ["MEM_PROBE_DIR"]))
        from app.cli import main as cli_main

        sys.argv[1:2] = []
        sys.exit(cli_main())
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sockets", type=int, default=1000)
    p.add_argument("--frames", type=int, default=25, help="tracemalloc frames (0: no tracemalloc, RSS only)")
    p.add_argument("--group", type=int, default=3, help="frames per allocation site in the report")
    p.add_argument("--warm", type=float, default=5, help="seconds after the first 20 sockets")
    p.add_argument("--settle", type=float, default=3, help="seconds after connecting before the reading")
    asyncio.run(drive(p.parse_args()))


if __name__ == "__main__":
    main()
