"""`GET /metrics`: scraped from real servers and read with prometheus-client's own parser. The
figures move with a real chat, the token is asked for, nothing personal is a label, and two
processes each answer for themselves (while the database figures agree)."""

from __future__ import annotations

import asyncio
import re
import uuid

import pytest
from aiohttp import ClientSession
from prometheus_client.parser import text_string_to_metric_families

from app.services import ConfigError
from tests.support.processes import ServerProcess, run_cli
from tests.support.server import (
    RunningServer,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

TOKEN = "metrics-token-long-enough-0123"
# What a label value may be: a code (namespace, event, outcome, team, status) - never an id,
# a number, an address or text.
CODE = re.compile(r"^[a-z][a-z_]{0,31}$")


async def scrape(url: str, token: str | None = TOKEN, **headers: str) -> dict[tuple[str, tuple], float]:
    """Every sample as {(name, sorted labels): value}."""
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with ClientSession() as http:
        async with http.get(f"{url}/metrics", headers=headers) as r:
            assert r.status == 200, await r.text()
            assert r.headers["Content-Type"].startswith("text/plain")
            text = await r.text()
    samples: dict[tuple[str, tuple], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[tuple[str, tuple], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def ack_count(samples: dict[tuple[str, tuple], float], namespace: str, event: str) -> float:
    return value(samples, "vt_ack_seconds_count", namespace=namespace, event=event, outcome="ok")


@pytest.fixture(scope="module")
async def metered(tmp_path_factory):
    url = await migrated_sqlite(str(tmp_path_factory.mktemp("metrics") / "metrics.db"))
    server = await RunningServer(make_settings(url, metrics_token=TOKEN, metrics_cache_s=0)).start()
    yield server
    await server.stop()


async def test_a_chat_moves_the_figures(metered):
    before = await scrape(metered.url)
    assert value(before, "vt_database_figures_up") == 1
    assert value(before, "vt_queue_length", team="jeugd") == 0
    assert value(before, "vt_scheduler_leader") in (0, 1)

    _, _, agent = await signed_in_agent(metered, teams=("jeugd",))
    v = await visitor(metered.url)
    started = await v.call("start", start_payload(caller_type="jongere"))
    cid = started["conversation_id"]
    waiting = await scrape(metered.url)
    assert value(waiting, "vt_queue_length", team="jeugd") == 1
    assert value(waiting, "vt_queue_oldest_wait_seconds", team="jeugd") >= 0
    assert (
        value(waiting, "vt_connections", namespace="visitor")
        == value(before, "vt_connections", namespace="visitor") + 1
    )
    assert value(waiting, "vt_connections", namespace="agent") >= 1

    assert (await agent.call("accept", {"conversation_id": cid}))["conversation"]
    await v.call("message", {"client_id": "m1", "text": "hallo"})
    await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": "hoi"})
    await agent.call("message", {"conversation_id": cid, "client_id": "a2", "text": "hoe gaat het"})
    await v.call("message", {"wrong": True})  # refused: counted as such, not as a message
    after = await scrape(metered.url)
    assert (
        value(after, "vt_messages_total", sender="visitor") == value(before, "vt_messages_total", sender="visitor") + 1
    )
    assert value(after, "vt_messages_total", sender="agent") == value(before, "vt_messages_total", sender="agent") + 2
    assert ack_count(after, "visitor", "start") == ack_count(before, "visitor", "start") + 1
    assert ack_count(after, "agent", "accept") == ack_count(before, "agent", "accept") + 1
    assert value(after, "vt_ack_seconds_count", namespace="visitor", event="message", outcome="invalid_input") >= 1
    assert value(after, "vt_queue_length", team="jeugd") == 0
    assert value(after, "vt_ack_seconds_bucket", namespace="agent", event="message", outcome="ok", le="+Inf") >= 2

    escalated = await agent.call("escalate", {"conversation_id": cid, "reason": "acuut"})
    assert "error" not in escalated, escalated
    assert value(await scrape(metered.url), "vt_crisis_alarms_open") == 1

    await v.disconnect()
    await agent.disconnect()
    await asyncio.sleep(0.2)
    gone = await scrape(metered.url)
    assert value(gone, "vt_connections", namespace="visitor") == value(before, "vt_connections", namespace="visitor")
    for name, labels in gone:
        for key, label in labels:
            assert key == "le" or CODE.match(label), (name, key, label)


async def test_the_token_is_asked_for(metered):
    async with ClientSession() as http:
        for headers in ({}, {"Authorization": "Bearer wrong-token-of-some-length"}, {"Authorization": TOKEN}):
            async with http.get(f"{metered.url}/metrics", headers=headers) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "unauthorized"
    assert await scrape(metered.url)


async def test_without_a_token_only_a_direct_local_request_is_served(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "open.db"))
    server = await RunningServer(make_settings(url)).start()
    try:
        assert value(await scrape(server.url, token=None), "vt_database_figures_up") == 1
        async with ClientSession() as http:
            # Through a proxy (which says so in its header) it is refused: the proxy is local too.
            async with http.get(f"{server.url}/metrics", headers={"X-Forwarded-For": "203.0.113.9"}) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "unauthorized"
    finally:
        await server.stop()


def test_a_short_token_stops_the_start(tmp_path):
    from app.bootstrap import create_app

    with pytest.raises(ConfigError, match="VT_METRICS_TOKEN"):
        create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", metrics_token="short"))


async def test_two_processes_each_serve_their_own(tmp_path, redis_url):
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'two.db'}"
    assert (await asyncio.to_thread(run_cli, "db", "upgrade", "--database-url", database_url)).returncode == 0
    username, password = f"m{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    added = await asyncio.to_thread(
        run_cli, "agent", "add", username, "--name", "Mo Meter", "--role", "advisor", "--team", "jeugd",
        "--database-url", database_url, stdin=password + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    env = {
        "VT_REDIS_CHANNEL": f"vt-metrics-{uuid.uuid4().hex[:6]}",
        "VT_METRICS_TOKEN": TOKEN,
        "VT_METRICS_CACHE_S": "0",
    }
    a = await asyncio.to_thread(ServerProcess, database_url, redis_url, tmp_path, "a", **env)
    try:
        b = await asyncio.to_thread(ServerProcess, database_url, redis_url, tmp_path, "b", **env)
        try:
            v = await visitor(a.url)
            agent = await agent_client(b.url, await login(b.url, username, password))
            cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
            on_a, on_b = await scrape(a.url), await scrape(b.url)
            assert value(on_a, "vt_connections", namespace="visitor") == 1
            assert value(on_b, "vt_connections", namespace="visitor") == 0
            assert value(on_a, "vt_connections", namespace="agent") == 0
            assert value(on_b, "vt_connections", namespace="agent") == 1
            # The database's figures are the same truth on both.
            assert value(on_a, "vt_queue_length", team="jeugd") == value(on_b, "vt_queue_length", team="jeugd") == 1
            await agent.call("accept", {"conversation_id": cid})
            await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": "hoi"})
            await v.call("message", {"client_id": "m1", "text": "hallo"})
            on_a, on_b = await scrape(a.url), await scrape(b.url)
            assert value(on_a, "vt_messages_total", sender="visitor") == 1
            assert value(on_a, "vt_messages_total", sender="agent") == 0
            assert value(on_b, "vt_messages_total", sender="agent") == 1
            # Exactly one process leads the scheduler (the election may take a few seconds).
            for _ in range(100):
                leaders = [value(await scrape(p.url), "vt_scheduler_leader") for p in (a, b)]
                if sum(leaders) == 1:
                    break
                await asyncio.sleep(0.1)
            assert sorted(leaders) == [0, 1]
            await v.disconnect()
            await agent.disconnect()
        finally:
            await asyncio.to_thread(b.stop)
    finally:
        await asyncio.to_thread(a.stop)


async def test_a_database_that_is_gone_is_an_error_not_a_hang(tmp_path):
    from tests.support.services import postgres_process

    with postgres_process() as pg:
        url = pg.start().create_database(f"m_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade_schema, url)
        settings = make_settings(
            url,
            metrics_token=TOKEN,
            metrics_cache_s=0,
            ready_timeout_s=1,
            db_statement_timeout_s=1,
            scheduler_enabled=False,
        )
        server = await RunningServer(settings).start()
        try:
            up = await scrape(server.url)
            assert value(up, "vt_database_figures_up") == 1
            assert value(up, "vt_dependency_errors_total", dependency="database") == 0
            pg.stop()
            began = asyncio.get_running_loop().time()
            down = await scrape(server.url)
            assert asyncio.get_running_loop().time() - began < 5
            assert value(down, "vt_database_figures_up") == 0
            assert value(down, "vt_dependency_errors_total", dependency="database") >= 1
            # The last values read stay (a gap in the graph would hide the last known queue).
            assert ("vt_queue_length", (("team", "jeugd"),)) in down
            pg.start()
            for _ in range(50):
                if value(await scrape(server.url), "vt_database_figures_up") == 1:
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError("the figures did not come back with the database")
        finally:
            await server.stop()


def upgrade_schema(url: str) -> None:
    from contact.migrate import upgrade

    upgrade(url)
