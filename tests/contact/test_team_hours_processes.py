"""A team closed at run time on one `vt-contact serve` process closes `start` for that team's
callers on another process within a second (PostgreSQL and Redis shared, as in production)."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiohttp import ClientSession

from tests.support.processes import ServerProcess, cli_add_agent, run_cli
from tests.support.server import login, start_payload, visitor

WITHIN_S = 1.0


async def _kid_status(url: str) -> dict:
    async with ClientSession() as http, http.get(f"{url}/api/status?caller_type=kind") as r:
        return await r.json()


async def _until(url: str, want_open: bool) -> float:
    started = time.monotonic()
    while (await _kid_status(url))["chat"]["open"] is not want_open:
        assert time.monotonic() - started < 5, "the change never reached the other process"
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_closed_on_process_a_is_closed_on_process_b_within_a_second(postgres, redis_url, tmp_path):
    database_url = postgres.create_database(f"hours_{uuid.uuid4().hex[:8]}")
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    username, password = cli_add_agent(database_url, "supervisor", "Sanne", prefix="s")
    env = {"VT_REDIS_CHANNEL": f"vt-hours-{uuid.uuid4().hex[:6]}"}
    a = ServerProcess(database_url, redis_url, tmp_path, "a", **env)
    b = ServerProcess(database_url, redis_url, tmp_path, "b", **env)
    try:
        token = await login(a.url, username, password)
        headers = {"Authorization": f"Bearer {token}"}
        kid = await visitor(b.url)
        adult = await visitor(b.url)
        assert (await _kid_status(b.url))["chat"]["open"] is True  # VT_CHAT_HOURS=24/7: B has read the hours

        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        async with ClientSession() as http:
            async with http.post(
                f"{a.url}/api/supervisor/hours/jeugd/close",
                json={"until": until, "reason": "incident"},
                headers=headers,
            ) as r:
                assert r.status == 200, await r.text()
                closure = (await r.json())["exceptions"][0]["id"]
        took = await _until(b.url, want_open=False)
        refused = await kid.call("start", start_payload(caller_type="kind"))
        assert refused["error"]["code"] == "closed" and refused["error"]["reason"]["code"] == "incident"
        assert refused["error"]["emergency"] == "112" and refused["error"]["phone"] == "0800-2000"
        assert (await adult.call("start", start_payload(caller_type="volwassene", topic=None)))["status"] == "waiting"
        assert took < WITHIN_S, took

        # And back: the closure deleted on A opens B again as fast.
        async with ClientSession() as http:
            async with http.delete(f"{a.url}/api/supervisor/hours/jeugd/exceptions/{closure}", headers=headers) as r:
                assert r.status == 200
        assert await _until(b.url, want_open=True) < WITHIN_S
        assert (await kid.call("start", start_payload(caller_type="kind")))["status"] == "waiting"
        await kid.disconnect()
        await adult.disconnect()
    finally:
        a.stop()
        b.stop()
    for p in (a, b):
        assert "Traceback" not in p.log_path.read_text(errors="replace")
