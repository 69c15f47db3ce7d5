"""Nothing is lost across a network drop or a server restart: `resume` replays by seq."""

from __future__ import annotations

import asyncio
from datetime import UTC

import pytest
from sqlalchemy import select

from chat.store import conversations
from contact.db import Database
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    start_payload,
    visitor,
)


async def conversation_field(url, cid, field):
    db = Database(url)
    try:
        async with db.read() as conn:
            return await conn.scalar(select(conversations.c[field]).where(conversations.c.id == cid))
    finally:
        await db.dispose()


async def until(check, what, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def own_server(tmp_path):
    """A server of this test alone, since it is restarted."""
    url = await migrated_sqlite(str(tmp_path / "restart.db"))
    running = await RunningServer(make_settings(url)).start()
    yield running
    await running.stop()


async def test_resume_after_reconnect_replays_only_what_was_missed(server):
    identity, password = await add_agent(server.settings.database_url)
    agent = await agent_client(server.url, await login(server.url, identity.username, password))
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "v1", "text": "een"})
    await v.disconnect()  # the phone loses its network
    for i in range(2, 5):
        await agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"bericht {i}"})
    back = await visitor(server.url)
    resumed = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 1})
    assert resumed["conversation_id"] == cid and resumed["status"] == "active"
    assert [(m["seq"], m["text"]) for m in resumed["messages"]] == [
        (2, "bericht 2"),
        (3, "bericht 3"),
        (4, "bericht 4"),
    ]
    assert resumed["agent"]["name"] == identity.name.split()[0]
    # The new connection is bound: it can write, and live messages reach it.
    assert (await back.call("message", {"client_id": "v5", "text": "ik ben er weer"}))["seq"] == 5
    await agent.call("message", {"conversation_id": cid, "client_id": "a6", "text": "fijn"})
    assert (await back.wait_for("message", lambda m: m["seq"] == 6))["text"] == "fijn"
    full = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert [m["seq"] for m in full["messages"]] == [1, 2, 3, 4, 5, 6]
    await back.disconnect()
    await agent.disconnect()


async def test_resume_after_a_server_restart(own_server):
    server = own_server
    identity, password = await add_agent(server.settings.database_url)
    token = await login(server.url, identity.username, password)
    agent = await agent_client(server.url, token)
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "v1", "text": "voor de herstart"})
    sent = await agent.call("message", {"conversation_id": cid, "client_id": "a2", "text": "laatste voor herstart"})
    assert sent["seq"] == 2

    await server.restart()  # both sockets drop; the database is the truth

    agent2 = await agent_client(server.url, token)  # the token outlives the process
    mine = await agent2.wait_for("mine")
    assert [c["id"] for c in mine["conversations"]] == [cid]
    v2 = await visitor(server.url)
    resumed = await v2.call("resume", {"resume_token": started["resume_token"], "after_seq": 1})
    assert [(m["seq"], m["sender"], m["text"]) for m in resumed["messages"]] == [(2, "agent", "laatste voor herstart")]
    # A retried message from before the restart is recognised by its client_id.
    assert (await v2.call("message", {"client_id": "v1", "text": "voor de herstart"}))["seq"] == 1
    nxt = await v2.call("message", {"client_id": "v3", "text": "na de herstart"})
    assert nxt["seq"] == 3
    assert (await agent2.wait_for("message", lambda m: m["seq"] == 3))["text"] == "na de herstart"
    await v2.disconnect()
    await agent2.disconnect()
    for c in (v, agent):
        if c.sio.connected:
            await c.disconnect()


async def test_resume_of_an_ended_conversation_says_so_and_reads_nothing_back(server):
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    await v.call("message", {"client_id": "1", "text": "hoi"})
    await v.call("leave", {})
    other = await visitor(server.url)
    resumed = await other.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert resumed == {"conversation_id": resumed["conversation_id"], "status": "closed", "messages": []}
    err = await other.call("message", {"client_id": "2", "text": "nog iets"})
    assert err["error"]["code"] == "not_found"
    await v.disconnect()
    await other.disconnect()


async def test_a_visitor_gone_too_long_leaves_the_queue_and_gets_the_place_back(tmp_path):
    from datetime import datetime

    from contact.clock import ManualClock

    url = await migrated_sqlite(str(tmp_path / "away.db"))
    clock = ManualClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    server = await RunningServer(make_settings(url, sweep_interval_s=0.05, waiting_grace_s=120), clock).start()
    try:
        identity, password = await add_agent(url)
        agent = await agent_client(server.url, await login(server.url, identity.username, password))
        first = await visitor(server.url)
        started = await first.call("start", start_payload())
        cid = started["conversation_id"]
        clock.advance(seconds=30)
        later = await visitor(server.url)
        later_cid = (await later.call("start", start_payload()))["conversation_id"]
        in_queue = lambda q: [w["conversation_id"] for w in q["waiting"]]  # noqa: E731
        await agent.wait_for("queue", lambda q: in_queue(q) == [cid, later_cid])

        await first.disconnect()  # the tab is closed, or the phone lost its network
        await until(lambda: conversation_field(url, cid, "visitor_away_since"), "away mark")
        clock.advance(seconds=60)  # within the grace period: still waiting
        await asyncio.sleep(0.3)  # several sweeps run meanwhile
        assert await conversation_field(url, cid, "status") == "waiting"
        clock.advance(seconds=61)  # now gone longer than 120 s: out of the advisors' queue
        await agent.wait_for("queue", lambda q: in_queue(q) == [later_cid])
        assert (await later.wait_for("queue", lambda q: q["position"] == 1))["position"] == 1

        back = await visitor(server.url)
        resumed = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
        assert resumed["status"] == "waiting" and resumed["queue"]["position"] == 1  # the old place
        await agent.wait_for("queue", lambda q: in_queue(q) == [cid, later_cid])
        for c in (agent, later, back):
            await c.disconnect()
    finally:
        await server.stop()
