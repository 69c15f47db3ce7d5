"""Redis is not a single point of failure for the chat. Two `vt-contact serve` processes share
an SQLite file and a real redis-server, which the test stops and starts again on the same port:
meanwhile every event still answers (rate limits and presence fall back to each process), and
once Redis is back every message stored during the outage reaches the live peer on the other
process within 5 s, without anyone doing anything."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
import uuid

import pytest
import redis
from aiohttp import ClientSession

from tests.chat.test_several_processes import Cluster
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import agent_client, login, start_payload, visitor
from tests.support.services import free_port, service_missing


class ControlledRedis:
    """A redis-server on a fixed port that can be stopped and started again."""

    def __init__(self, workdir) -> None:
        self.binary = shutil.which("redis-server") or service_missing("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.workdir), "--loglevel", "warning"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


@pytest.fixture
def outage_cluster(tmp_path):
    red = ControlledRedis(tmp_path)
    red.start()
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'outage.db'}"
    assert run_cli("db", "upgrade", "--database-url", database_url).returncode == 0
    channel = f"vt-outage-{uuid.uuid4().hex[:6]}"
    a = ServerProcess(database_url, red.url, tmp_path, "a", VT_REDIS_CHANNEL=channel, VT_LOG_LEVEL="INFO")
    try:
        b = ServerProcess(database_url, red.url, tmp_path, "b", VT_REDIS_CHANNEL=channel, VT_LOG_LEVEL="INFO")
    except Exception:
        a.stop()
        red.stop()
        raise
    yield Cluster(database_url, a, b), red
    a.stop()
    b.stop()
    red.stop()
    for p in (a, b):
        text = p.log_path.read_text(errors="replace")
        assert "Traceback" not in text, text[-3000:]


async def test_a_redis_outage_loses_nothing_and_blocks_nobody(outage_cluster):
    cluster, red = outage_cluster
    username, password = cluster.add_agent()
    token = await login(cluster.a.url, username, password)
    agent = await agent_client(cluster.b.url, token)
    v = await visitor(cluster.a.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    await agent.call("accept", {"conversation_id": cid})
    await v.wait_for("assigned")

    red.stop()
    await asyncio.sleep(0.5)
    started_at = time.monotonic()
    # Every event answers, within its timeout, with ok or the error shape: never `internal`.
    sent_by_visitor, sent_by_agent = [], []
    for i in range(5):
        ack = await v.call("message", {"client_id": f"v{i}", "text": f"tijdens storing {i}"}, timeout=5)
        assert "seq" in ack, ack
        sent_by_visitor.append(ack["seq"])
        ack = await agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"antwoord {i}"})
        assert "seq" in ack, ack
        sent_by_agent.append(ack["seq"])
    newcomer = await visitor(cluster.b.url)
    assert (await newcomer.call("start", start_payload(), timeout=5))["status"] == "waiting"
    # An advisor who opens a console now gets it, with its queue.
    second_console = await agent_client(cluster.a.url, token)
    await second_console.wait_for("queue", timeout=5)
    async with ClientSession() as http:
        async with http.post(
            f"{cluster.a.url}/api/agent/login", json={"username": username, "password": password}
        ) as r:
            assert r.status == 200, await r.text()
    assert time.monotonic() - started_at < 15

    red.start()
    back_at = time.monotonic()
    for seq in sent_by_visitor:
        await agent.wait_for("message", lambda m, s=seq: m["conversation_id"] == cid and m["seq"] == s, timeout=5)
    for seq in sent_by_agent:
        await v.wait_for("message", lambda m, s=seq: m["seq"] == s, timeout=5)
    assert time.monotonic() - back_at <= 5.5
    # And the fan-out works as before afterwards.
    after = await agent.call("message", {"conversation_id": cid, "client_id": "after", "text": "weer normaal"})
    await v.wait_for("message", lambda m: m["seq"] == after["seq"], timeout=5)
    for c in (v, agent, newcomer, second_console):
        await c.disconnect()
    logs = cluster.a.log_path.read_text() + cluster.b.log_path.read_text()
    assert "ratelimit_fallback_to_memory" in logs or "presence_fallback_to_this_process" in logs
    assert "fanout_degraded" in logs and "fanout_recovered" in logs
    assert "tijdens storing" not in logs
