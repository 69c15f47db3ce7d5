#!/usr/bin/env python
"""Does a resume token tell, by its answer, whether it once existed? (see docs/performance.md)

    .venv/bin/python bench/resume_tokens.py [--requests 2000]

Whoever opens a shared browser later may find a visitor's resume token in it. A token that was
never issued, one that expired, one the visitor stopped (or fled with quick exit) and one whose
conversation the advisor closed must give the same answer, `{"status": "closed", "messages":
[]}`, in the same time. This starts conversations on the real app in this process (a fresh
SQLite file, a clock the script moves), ends them in each of those ways, and then sends
`resume` for the four kinds of dead token over one Socket.IO connection, interleaved in random
order. A live token (an open conversation with five messages) is the reference of a full
answer. Printed: the answer shapes, median and p90 per kind, and each median against the
made-up one's.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import socketio
from aiohttp import ClientSession, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contact.auth import AgentService, TokenSigner  # noqa: E402
from app.bootstrap import create_app  # noqa: E402
from contact.clock import ManualClock  # noqa: E402
from contact.db import Database  # noqa: E402
from contact.migrate import upgrade  # noqa: E402
from contact.settings import Settings  # noqa: E402

SECRET = "bench-secret-key-long-enough-1234"
MONDAY_10 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
PER_KIND = 40


async def main(requests: int) -> None:
    folder = tempfile.mkdtemp(prefix="vt-resume-")
    url = f"sqlite+aiosqlite:///{folder}/resume.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        database_url=url, secret_key=SECRET, hash_key="h" * 32, chat_hours="24/7", start_limit_per_ip=10**9,
        visitor_message_limit=10**6, max_concurrent_chats=10**4, scheduler_enabled=False, log_level="WARNING",
    )  # fmt: skip
    clock = ManualClock(MONDAY_10)
    app = create_app(settings, clock)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    db = Database(url)
    await AgentService(db, TokenSigner(SECRET, 3600)).add(
        username="bench", name="Bench Advisor", role="advisor", teams=["jeugd", "volwassenen"],
        password="bench-password", now=MONDAY_10,
    )  # fmt: skip
    await db.dispose()
    async with ClientSession() as http:
        async with http.post(f"{base}/api/agent/login", json={"username": "bench", "password": "bench-password"}) as r:
            agent_token = (await r.json())["token"]
    agent = socketio.AsyncClient()
    await agent.connect(base, namespaces=["/agent"], auth={"token": agent_token}, transports=["websocket"])

    async def conversation() -> tuple[socketio.AsyncClient, str, str]:
        """A visitor with an accepted conversation of five messages."""
        v = socketio.AsyncClient()
        await v.connect(base, namespaces=["/visitor"], transports=["websocket"])
        started = await v.call("start", {"caller_type": "jongere", "intent": "advies"}, namespace="/visitor")
        await agent.call("accept", {"conversation_id": started["conversation_id"]}, namespace="/agent")
        for i in range(5):
            await v.call("message", {"client_id": str(i), "text": f"bericht {i}"}, namespace="/visitor")
        return v, started["conversation_id"], started["resume_token"]

    expired = []
    for _ in range(PER_KIND):
        v, _, token = await conversation()
        await v.disconnect()
        expired.append(token)
    await asyncio.sleep(0.5)  # the disconnects are recorded
    clock.advance(seconds=settings.resume_ttl_s + 60)
    stopped, closed, live = [], [], []
    for i in range(PER_KIND):
        v, _, token = await conversation()
        await v.call("leave", {"quick_exit": i % 2 == 0}, namespace="/visitor")
        await v.disconnect()
        stopped.append(token)
    for _ in range(PER_KIND):
        v, cid, token = await conversation()
        await agent.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}}, namespace="/agent")
        await v.disconnect()
        closed.append(token)
    for _ in range(5):
        v, _, token = await conversation()
        await v.disconnect()
        live.append(token)
    kinds = {
        "live": live,
        "expired": expired,
        "stopped": stopped,
        "closed": closed,
        "made_up": [secrets.token_urlsafe(32) for _ in range(PER_KIND)],
    }
    probe = socketio.AsyncClient()
    await probe.connect(base, namespaces=["/visitor"], transports=["websocket"])
    plan = [(kind, random.choice(tokens)) for kind, tokens in kinds.items() for _ in range(requests)]
    random.shuffle(plan)
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    shapes: dict[str, set[str]] = {kind: set() for kind in kinds}
    for kind, token in plan:
        started = time.perf_counter()
        answer = await probe.call("resume", {"resume_token": token, "after_seq": 0}, namespace="/visitor")
        times[kind].append((time.perf_counter() - started) * 1000)
        shapes[kind].add(f"{answer['status']}/{len(answer['messages'])} msgs")
    await probe.disconnect()
    await agent.disconnect()
    await runner.cleanup()

    reference = statistics.median(times["made_up"])
    print(f"resume over Socket.IO, {requests} requests per kind, interleaved at random")
    print(f"{'token':<9} {'answer':>14} {'median ms':>10} {'p90 ms':>8} {'median / made-up':>17}")
    for kind, values in times.items():
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        median = statistics.median(values)
        print(f"{kind:<9} {','.join(sorted(shapes[kind])):>14} {median:>10.3f} {p90:>8.3f} {median / reference:>17.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
