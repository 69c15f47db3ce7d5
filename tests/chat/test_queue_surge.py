"""A campaign peak: many visitors start at once while agents watch the queue.

Concurrent starts share their reads of the queue and still each get their own, exact place; in a
long queue a waiting visitor hears only a place that changed (new arrivals at the back change
nobody's); the agents' queue frames are spaced by the length of the queue; and a place that
changes is always told."""

from __future__ import annotations

import asyncio

from chat.queue import LONG_QUEUE
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


async def test_a_surge_gets_exact_places_and_no_flood(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "surge.db"))
    server = await RunningServer(make_settings(url)).start()
    clients = []
    try:
        identity, password = await add_agent(url, teams=("volwassenen",))
        agent = await agent_client(server.url, await login(server.url, identity.username, password))
        clients.append(agent)
        n = LONG_QUEUE + 10
        visitors = await asyncio.gather(*(visitor(server.url) for _ in range(n)))
        clients.extend(visitors)
        payload = start_payload(caller_type="volwassene", topic=None)
        acks = await asyncio.gather(*(v.call("start", payload) for v in visitors))
        assert all("conversation_id" in a for a in acks), acks[0]
        # Everyone started at once, everyone has an own place: 1..n, none twice.
        assert sorted(a["queue"]["position"] for a in acks) == list(range(1, n + 1))
        ids = [a["conversation_id"] for a in acks]
        await agent.wait_for("queue", lambda q: len(q["waiting"]) == n, timeout=10)
        frames = len(agent.events["queue"])
        assert frames < n / 2, f"{frames} queue frames for {n} starts"

        # One more at the back: nobody already waiting hears anything.
        await asyncio.sleep(0.5)
        told_before = [len(v.events["queue"]) for v in visitors]
        late = await visitor(server.url)
        clients.append(late)
        ack = await late.call("start", payload)
        assert ack["queue"]["position"] == n + 1
        await agent.wait_for("queue", lambda q: len(q["waiting"]) == n + 1, timeout=10)
        await asyncio.sleep(0.5)
        assert [len(v.events["queue"]) for v in visitors] == told_before

        # The first is taken: everyone behind moves up one place and is told so.
        by_place = sorted(zip(acks, visitors, strict=True), key=lambda pair: pair[0]["queue"]["position"])
        first = by_place[0][0]["conversation_id"]
        taken = await agent.call("accept", {"conversation_id": first})
        assert "conversation" in taken, taken
        for a, v in by_place[1:]:
            moved = await v.wait_for("queue", lambda q, a=a: q["position"] == a["queue"]["position"] - 1, timeout=10)
            assert moved["estimated_wait_s"] >= 0
        await late.wait_for("queue", lambda q: q["position"] == n, timeout=10)
        assert set(ids) - {first} <= {w["conversation_id"] for w in agent.events["queue"][-1]["waiting"]}
    finally:
        for c in clients:
            await c.disconnect()
        await server.stop()
