"""Each advisor sees the queue of their own teams; what waits too long overflows to everyone."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from contact.clock import ManualClock
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


async def _agent(server, role="advisor", teams=("jeugd",)):
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams)
    return await agent_client(server.url, await login(server.url, identity.username, password))


def ids(snapshot):
    return [w["conversation_id"] for w in snapshot["waiting"]]


async def test_agents_see_their_teams_and_visitors_their_teams_position(server):
    youth = await _agent(server, teams=("jeugd",))
    adults = await _agent(server, teams=("volwassenen",))
    boss = await _agent(server, role="supervisor", teams=())
    visitors = [await visitor(server.url) for _ in range(3)]
    child1 = await visitors[0].call("start", start_payload(caller_type="kind"))
    adult = await visitors[1].call("start", start_payload(caller_type="volwassene", topic=None))
    child2 = await visitors[2].call("start", start_payload(caller_type="jongere"))
    mine = {child1["conversation_id"], adult["conversation_id"], child2["conversation_id"]}

    def ours(snapshot):
        return [cid for cid in ids(snapshot) if cid in mine]

    seen_youth = await youth.wait_for("queue", lambda q: len(ours(q)) == 2)
    assert ours(seen_youth) == [child1["conversation_id"], child2["conversation_id"]]
    seen_adults = await adults.wait_for("queue", lambda q: len(ours(q)) == 1)
    assert ours(seen_adults) == [adult["conversation_id"]]
    await boss.wait_for("queue", lambda q: len(ours(q)) == 3)

    # Positions count within the team that serves the visitor.
    assert child2["queue"]["position"] == child1["queue"]["position"] + 1
    # A risk signal while waiting goes to those who can take it and to supervisors only.
    await visitors[1].call("message", {"client_id": "r", "text": "ik ben vroeger misbruikt door mijn oom"})
    for c in (adults, boss):
        risk = await c.wait_for("risk", lambda r: r["conversation_id"] == adult["conversation_id"])
        assert risk["level"] == "hoog"
    await asyncio.sleep(0.2)
    assert all(r["conversation_id"] != adult["conversation_id"] for r in youth.events["risk"])

    # Not one's own team, and not overflowing: not for this advisor to take.
    refused = await youth.call("accept", {"conversation_id": adult["conversation_id"]})
    assert refused["error"]["code"] == "forbidden"
    assert "conversation" in await adults.call("accept", {"conversation_id": adult["conversation_id"]})
    for c in (*visitors, youth, adults, boss):
        await c.disconnect()


async def test_a_conversation_waiting_past_its_limit_overflows_to_every_advisor(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "overflow.db"))
    clock = ManualClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    server = await RunningServer(make_settings(url, sweep_interval_s=0.05), clock).start()
    try:
        youth = await _agent(server, teams=("jeugd",))
        v = await visitor(server.url)
        cid = (await v.call("start", start_payload(caller_type="volwassene", topic=None)))["conversation_id"]
        await youth.wait_for("queue")
        assert cid not in ids(youth.events["queue"][-1])
        clock.advance(seconds=121)  # volwassenen: 120 s in routing.toml
        snapshot = await youth.wait_for("queue", lambda q: cid in ids(q))
        assert next(w for w in snapshot["waiting"] if w["conversation_id"] == cid)["overflow"] is True
        assert "conversation" in await youth.call("accept", {"conversation_id": cid})
        await v.disconnect()
        await youth.disconnect()
    finally:
        await server.stop()
