#!/usr/bin/env python
"""Does a manage link tell, by its answer time, whether it once existed? (see docs/performance.md)

    .venv/bin/python bench/manage_tokens.py [--requests 2000]

Someone holding a victim's phone may find a manage link, or guess one. The answer to a
cancelled, a used (the callback took place) and a made-up token is the same `404 not_found`;
this measures whether their answer times differ. It books callbacks on the real app in this
process (a fresh SQLite file), cancels some, has an advisor close others, and then asks
`GET /api/callbacks/{token}` for the three kinds of dead token, interleaved in random order so
that whatever else the machine does weighs on all alike. A live token is the reference of a
full answer. Printed: median and p90 per kind, and each median against the made-up one's.
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

from aiohttp import ClientSession, web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from contact.auth import AgentService, TokenSigner  # noqa: E402
from app.bootstrap import create_app  # noqa: E402
from contact.clock import ManualClock  # noqa: E402
from contact.db import Database  # noqa: E402
from contact.migrate import upgrade  # noqa: E402
from contact.settings import Settings  # noqa: E402

SECRET = "bench-secret-key-long-enough-1234"
MONDAY_8 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)


async def main(requests: int) -> None:
    folder = tempfile.mkdtemp(prefix="vt-tokens-")
    url = f"sqlite+aiosqlite:///{folder}/tokens.db"
    await asyncio.to_thread(upgrade, url)
    settings = Settings(
        database_url=url, secret_key=SECRET, hash_key="h" * 32, chat_hours="24/7", callback_capacity=1000,
        callback_limit_per_ip=10**9, scheduler_enabled=False, log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings, ManualClock(MONDAY_8))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    base = f"http://127.0.0.1:{runner.addresses[0][1]}"
    db = Database(url)
    await AgentService(db, TokenSigner(SECRET, 3600)).add(
        username="bench", name="Bench Advisor", role="advisor", teams=["volwassenen"], password="bench-password", now=MONDAY_8
    )
    await db.dispose()
    async with ClientSession() as http:
        async with http.post(f"{base}/api/agent/login", json={"username": "bench", "password": "bench-password"}) as r:
            agent = {"Authorization": f"Bearer {(await r.json())['token']}"}

        async def book(i: int) -> str:
            body = {"kind": "terugbellen", "slot_start": "2026-11-30T14:00:00+01:00", "phone": f"061{i:07d}",
                    "caller_type": "volwassene", "safe_to_leave_voicemail": False, "name": f"Naam {i}"}  # fmt: skip
            async with http.post(f"{base}/api/callbacks", json=body) as r:
                assert r.status == 201, await r.text()
                return (await r.json())["manage_token"]

        live = [await book(i) for i in range(50)]
        cancelled = [await book(100 + i) for i in range(50)]
        for token in cancelled:
            async with http.post(f"{base}/api/callbacks/{token}/cancel") as r:
                assert r.status == 200
        used = [await book(200 + i) for i in range(50)]
        async with http.get(f"{base}/api/agent/callbacks?date=2026-11-30", headers=agent) as r:
            work = await r.json()
        by_reference = {c["requests"][0]["reference"]: c["id"] for tv in work["tijdvakken"] for c in tv["callbacks"]}
        for token in used:  # the call took place: claimed, reached, closed
            async with http.get(f"{base}/api/callbacks/{token}") as r:
                callback = f"{base}/api/agent/callbacks/{by_reference[(await r.json())['reference']]}"
            await http.post(f"{callback}/claim", headers=agent)
            await http.post(f"{callback}/attempts", json={"result": "bereikt"}, headers=agent)
            async with http.post(f"{callback}/close", json={"outcome": {"kind": "geen"}}, headers=agent) as r:
                assert r.status == 200, await r.text()

        kinds = {
            "live": live,
            "cancelled": cancelled,
            "used": used,
            "made_up": [secrets.token_urlsafe(32) for _ in range(50)],
        }
        plan = [(kind, random.choice(tokens)) for kind, tokens in kinds.items() for _ in range(requests)]
        random.shuffle(plan)
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        statuses: dict[str, set[int]] = {kind: set() for kind in kinds}
        for kind, token in plan:
            started = time.perf_counter()
            async with http.get(f"{base}/api/callbacks/{token}") as r:
                await r.read()
                statuses[kind].add(r.status)
            times[kind].append((time.perf_counter() - started) * 1000)
    await runner.cleanup()

    reference = statistics.median(times["made_up"])
    print(f"GET /api/callbacks/{{token}}, {requests} requests per kind, interleaved at random")
    print(f"{'token':<10} {'status':>7} {'median ms':>10} {'p90 ms':>8} {'median / made-up':>17}")
    for kind, values in times.items():
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        status = ",".join(str(s) for s in sorted(statuses[kind]))
        median = statistics.median(values)
        print(f"{kind:<10} {status:>7} {median:>10.3f} {p90:>8.3f} {median / reference:>17.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000)
    asyncio.run(main(parser.parse_args().requests))
