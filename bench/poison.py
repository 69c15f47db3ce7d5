#!/usr/bin/env python
"""Does poisoned input slow down everyone else? (see docs/performance.md)

    .venv/bin/python bench/poison.py [--visitors 20] [--rate 2] [--poison-rate 60] [--rounds 4] [--phase 5]

Starts the real server (`vt-contact serve --migrate`, one process, a fresh SQLite file in a
temporary folder) and, in this process, `--visitors` visitors with accepted conversations that
each send `--rate` normal messages a second. The run alternates clean phases and poisoned
phases of `--phase` seconds, `--rounds` of each: in a poisoned phase other visitors also send
`--poison-rate` bad inputs a second in all (text with NUL and control characters, lone
surrogates, text over 4,000 characters, wrong types, JSON nested 5,000 deep, unknown events),
and raw HTTP requests the parser refuses (bad request line, a header over 8 KiB, a control
character in a header). Printed: the ack latency of the normal messages (p50, p99, max) in
clean and poisoned phases of the same run, p99 poisoned / p99 clean, and that every poisoned
input was answered `invalid_input` (or 400) and every normal one stored.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import socketio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from contact.auth import AgentService, TokenSigner  # noqa: E402
from contact.db import Database  # noqa: E402
from contact.migrate import upgrade  # noqa: E402

SECRET = "bench-secret-key-long-enough-1234"
PASSWORD = "bench-password-1234"
now = time.perf_counter

POISON_MESSAGES: list[Any] = [
    {"client_id": "p", "text": "hallo\x00daar"},
    {"client_id": "p", "text": "bel\x07\x1b[2J"},
    {"client_id": "p", "text": "\ud800 los"},
    {"client_id": "p", "text": "x" * 5000},
    {"client_id": "p", "text": "y" * 40_000},
    {"client_id": "p", "text": 12345},
    {"client_id": ["p"], "text": "lijst"},
    {"client_id": "p\x00", "text": "id met NUL"},
    {"client_id": "p" * 500, "text": "lange id"},
    {"text": "geen id"},
    ["message", "als lijst"],
    "alleen een tekst",
    12345,
    None,
    {"client_id": "p", "text": {"a": json.loads("[" * 40 + "1" + "]" * 40)}},
]
DEEP = "[" * 5000 + "]" * 5000
RAW_HTTP = [
    b"GET /api/status?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: x\r\nX-Nul: a\x00b\r\n\r\n",
    b"GET / HTTP/9.9.9\r\nHost: x\r\n\r\n",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(database_url: str, folder: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VT_")}
    env.update(
        VT_SECRET_KEY=SECRET,
        VT_CHAT_HOURS="24/7",
        VT_LOG_LEVEL="WARNING",
        VT_VISITOR_MESSAGE_LIMIT="1000000",
        VT_START_LIMIT_PER_IP="1000000",
        VT_MAX_CONCURRENT_CHATS="10000",
        VT_HASH_KEY="h" * 32,
    )
    log = open(Path(folder) / "server.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--database-url", database_url],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{base}/readyz", timeout=1) as r:
                if r.status == 200:
                    return proc, base
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start; see {folder}/server.log")


async def client(base: str, namespace: str, auth: Any = None) -> socketio.AsyncClient:
    c = socketio.AsyncClient(reconnection=False)
    await c.connect(base, namespaces=[namespace], auth=auth, transports=["websocket"], wait_timeout=10)
    return c


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


async def raw_http(port: int, request: bytes) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    head = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(head.split()[1])


async def main(args: argparse.Namespace) -> None:
    folder = tempfile.mkdtemp(prefix="vt-poison-")
    url = f"sqlite+aiosqlite:///{folder}/poison.db"
    await asyncio.to_thread(upgrade, url)
    db = Database(url)
    await AgentService(db, TokenSigner(SECRET, 3600)).add(
        username="bench", name="Bench Advisor", role="advisor", teams=["jeugd", "volwassenen"],
        password=PASSWORD, now=datetime.now(UTC),
    )  # fmt: skip
    await db.dispose()
    proc, base = start_server(url, folder)
    port = int(base.rsplit(":", 1)[1])
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/agent/login", json={"username": "bench", "password": PASSWORD}) as r:
                token = (await r.json())["token"]
        agent = await client(base, "/agent", {"token": token})
        normal = []
        for _ in range(args.visitors):
            v = await client(base, "/visitor")
            started = await v.call("start", {"caller_type": "jongere", "intent": "advies"}, namespace="/visitor")
            await agent.call("accept", {"conversation_id": started["conversation_id"]}, namespace="/agent")
            normal.append(v)
        poisoners = []
        for _ in range(4):
            p = await client(base, "/visitor")
            await p.call("start", {"caller_type": "volwassene", "intent": "advies"}, namespace="/visitor")
            poisoners.append(p)

        latency: dict[str, list[float]] = {"clean": [], "poisoned": []}
        normal_errors: Counter[str] = Counter()
        poison_answers: Counter[str] = Counter()
        phase = "clean"
        stop = asyncio.Event()
        ids = itertools.count()

        async def talk(v: socketio.AsyncClient) -> None:
            await asyncio.sleep(random.random() / args.rate)  # spread the visitors over the second
            while not stop.is_set():
                started = now()
                at = phase
                ack = await v.call(
                    "message", {"client_id": f"m{next(ids)}", "text": "Hoi, ik wil iets vragen."}, namespace="/visitor"
                )
                if "seq" in ack:
                    latency[at].append(now() - started)
                else:
                    normal_errors[ack["error"]["code"]] += 1
                await asyncio.sleep(max(0.0, 1 / args.rate - (now() - started)))

        async def poison(p: socketio.AsyncClient, share: float) -> None:
            kinds = itertools.cycle(range(len(POISON_MESSAGES) + 3))
            while not stop.is_set():
                if phase != "poisoned":
                    await asyncio.sleep(0.05)
                    continue
                started = now()
                kind = next(kinds)
                try:
                    if kind < len(POISON_MESSAGES):
                        ack = await p.call("message", POISON_MESSAGES[kind], namespace="/visitor", timeout=10)
                        poison_answers[ack.get("error", {}).get("code", "stored!") if isinstance(ack, dict) else "?"] += 1
                    elif kind == len(POISON_MESSAGES):
                        ack = await p.call("nonsense", {"x": 1}, namespace="/visitor", timeout=10)
                        poison_answers[ack["error"]["code"]] += 1
                    elif kind == len(POISON_MESSAGES) + 1:
                        ack = await p.call("message", {"client_id": "p", "text": [[DEEP]]}, namespace="/visitor")
                        poison_answers[ack["error"]["code"]] += 1
                    else:
                        status = await raw_http(port, random.choice(RAW_HTTP))
                        poison_answers[f"http {status}"] += 1
                except (socketio.exceptions.SocketIOError, OSError, TimeoutError) as exc:
                    poison_answers[type(exc).__name__] += 1
                await asyncio.sleep(max(0.0, share - (now() - started)))

        share = len(poisoners) / args.poison_rate
        tasks = [asyncio.create_task(talk(v)) for v in normal]
        tasks += [asyncio.create_task(poison(p, share)) for p in poisoners]
        await asyncio.sleep(1)  # warm up
        latency["clean"].clear()
        for _ in range(args.rounds):
            for phase in ("clean", "poisoned"):  # noqa: B007 - read by the tasks
                await asyncio.sleep(args.phase)
        stop.set()
        await asyncio.gather(*tasks)
        for c in (*normal, *poisoners, agent):
            await c.disconnect()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()

    print(f"{args.visitors} visitors x {args.rate}/s normal messages; {args.poison_rate}/s poisoned inputs")
    print(f"{args.rounds} rounds of {args.phase} s clean and {args.phase} s poisoned, alternating, one run\n")
    print("| phase | normal acks | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|")
    for name, values in latency.items():
        print(
            f"| {name} | {len(values)} | {percentile(values, 0.5) * 1000:.1f} | "
            f"{percentile(values, 0.99) * 1000:.1f} | {max(values) * 1000:.1f} |"
        )
    ratio = percentile(latency["poisoned"], 0.99) / percentile(latency["clean"], 0.99)
    print(f"\np99 poisoned / p99 clean: {ratio:.2f}")
    print(f"normal messages refused: {dict(normal_errors) or 'none'}")
    print(f"poisoned inputs answered: {dict(poison_answers)}")
    log = (Path(folder) / "server.log").read_text(errors="replace")
    print(f"server log: {log.count('Traceback')} tracebacks, {len(log.splitlines())} lines (level WARNING)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--rate", type=float, default=2.0, help="normal messages a second per visitor")
    parser.add_argument("--poison-rate", type=float, default=60.0, help="poisoned inputs a second in all")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--phase", type=float, default=5.0, help="seconds per phase")
    asyncio.run(main(parser.parse_args()))
