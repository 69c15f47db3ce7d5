"""The crisis procedure over two `vt-contact serve` processes on PostgreSQL and Redis: exactly one
process runs the scheduler, every re-alert round reaches each agent once (wherever they are
connected), and when the leading process dies the other takes over the re-alerts."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import uuid

import asyncpg

from tests.support.processes import ServerProcess, run_cli
from tests.support.server import agent_client, login, start_payload, visitor

# Re-alerts every second, leadership lost 2 s after the leader stops renewing.
FAST = {"VT_CRISIS_REALERT_S": "1", "VT_CRISIS_CHECK_S": "0.2", "VT_LEADER_TTL_S": "2", "VT_LOG_LEVEL": "INFO"}


def _add_agent(database_url: str, role: str, team: str) -> tuple[str, str]:
    username = f"c{uuid.uuid4().hex[:10]}"
    password = f"pw-{uuid.uuid4().hex}"
    done = run_cli(
        "agent", "add", username, "--name", "Cor Crisis", "--role", role, "--team", team,
        "--database-url", database_url, stdin=password + "\n",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return username, password


async def _lease_holder(database_url: str) -> str | None:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval("SELECT holder FROM lease WHERE name = 'scheduler' AND expires_at > now()")
    finally:
        await conn.close()


def _rounds(client, cid):
    return [a["round"] for a in client.events["crisis_alert"] if a["conversation_id"] == cid]


async def test_one_scheduler_over_two_processes_and_a_failover(postgres, redis_url, tmp_path):
    database_url = postgres.create_database(f"crisis_{uuid.uuid4().hex[:8]}")
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    channel = f"vt-crisis-{uuid.uuid4().hex[:6]}"
    a = ServerProcess(database_url, redis_url, tmp_path, "a", VT_REDIS_CHANNEL=channel, **FAST)
    b = ServerProcess(database_url, redis_url, tmp_path, "b", VT_REDIS_CHANNEL=channel, **FAST)
    procs = {"a": a, "b": b}
    try:
        holder_user, holder_pw = _add_agent(database_url, "advisor", "jeugd")
        tokens = [await login(a.url, *_add_agent(database_url, "crisis", "crisis")) for _ in range(2)]
        holder = await agent_client(a.url, await login(a.url, holder_user, holder_pw))
        on_a = await agent_client(a.url, tokens[0])
        on_b = await agent_client(b.url, tokens[1])
        v = await visitor(b.url)
        cid = (await v.call("start", start_payload(caller_type="kind")))["conversation_id"]
        await holder.call("accept", {"conversation_id": cid})
        assert (await holder.call("escalate", {"conversation_id": cid, "reason": "dreiging"}))["ok"] is True

        # About four rounds; each agent gets each round exactly once, in order, from one scheduler.
        await on_b.wait_for("crisis_alert", lambda x: x["conversation_id"] == cid and x["round"] == 4, timeout=15)
        await asyncio.sleep(0.5)
        assert (await on_a.call("ack_crisis", {"conversation_id": cid}))["ok"] is True
        await asyncio.sleep(0.5)
        seen_a, seen_b = _rounds(on_a, cid), _rounds(on_b, cid)
        assert seen_a == list(range(1, len(seen_a) + 1)), seen_a
        assert seen_b == seen_a
        await asyncio.sleep(1.5)
        assert _rounds(on_b, cid) == seen_b  # acknowledged: no more rounds

        holder_name = await _lease_holder(database_url)
        assert holder_name is not None
        started = {n: p.log_path.read_text().count("scheduler_started") for n, p in procs.items()}
        leader = next(n for n, count in started.items() if count == 1)
        assert sorted(started.values()) == [0, 1], started

        # The leader dies without a word; the other process takes the lease and the re-alerts over.
        survivor_name = "b" if leader == "a" else "a"
        survivor = procs[survivor_name]
        procs[leader].proc.send_signal(signal.SIGKILL)
        procs[leader].proc.wait(10)
        clients = {"a": on_a, "b": on_b}
        watcher = clients[survivor_name]
        for c in (holder, v, clients[leader]):
            with contextlib.suppress(Exception):  # its process may be gone
                await c.disconnect()
        holder = await agent_client(survivor.url, await login(survivor.url, holder_user, holder_pw))
        v2 = await visitor(survivor.url)
        cid2 = (await v2.call("start", start_payload(danger_now=True)))["conversation_id"]
        await watcher.wait_for("crisis_alert", lambda x: x["conversation_id"] == cid2 and x["round"] == 2, timeout=15)
        assert "scheduler_started" in survivor.log_path.read_text()
        assert await _lease_holder(database_url) != holder_name
        for c in (holder, v2, watcher):
            await c.disconnect()
    finally:
        for p in (a, b):
            p.stop()
    for p in (a, b):
        text = p.log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]
        assert "dreiging" not in text
