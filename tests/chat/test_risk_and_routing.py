"""The routing file and the risk phrases at work in a real chat."""

from __future__ import annotations

import asyncio

import pytest

from app.bootstrap import ConfigError
from tests.support.server import RunningServer, add_agent, agent_client, login, make_settings, start_payload, visitor


async def _agent(server):
    identity, password = await add_agent(server.settings.database_url)
    return await agent_client(server.url, await login(server.url, identity.username, password))


def entry(snapshot, cid):
    return next((w for w in snapshot["waiting"] if w["conversation_id"] == cid), None)


async def test_teams_and_priority_come_from_the_routing_file(server):
    agent = await _agent(server)
    cases = {
        "kind": (start_payload(caller_type="kind"), "jeugd"),
        "professional": (start_payload(caller_type="professional", intent="melding", topic=None), "professionals"),
        "danger": (start_payload(caller_type="volwassene", danger_now=True), "crisis"),
    }
    started = {}
    for name, (payload, _) in cases.items():
        v = await visitor(server.url)
        started[name] = ((await v.call("start", payload))["conversation_id"], v)
    snap = await agent.wait_for("queue", lambda q: all(entry(q, cid) for cid, _ in started.values()))
    for name, (_, team) in cases.items():
        assert entry(snap, started[name][0])["team"] == team, name
    assert entry(snap, started["danger"][0])["priority"] > entry(snap, started["kind"][0])["priority"]
    assert entry(snap, started["kind"][0])["priority"] > entry(snap, started["professional"][0])["priority"]
    # Danger at the start: 112 at once, for that visitor only.
    assert (await started["danger"][1].wait_for("crisis"))["phone"] == "112"
    assert "crisis" not in started["kind"][1].events
    for _, v in started.values():
        await v.disconnect()
    await agent.disconnect()


async def test_a_danger_phrase_moves_a_waiting_visitor_up_and_warns_the_agents(server):
    agent, colleague = await _agent(server), await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="volwassene", topic=None)))["conversation_id"]
    before = entry(await agent.wait_for("queue", lambda q: entry(q, cid) is not None), cid)["priority"]
    await v.call("message", {"client_id": "1", "text": "het regent hier"})
    await v.call(
        "message", {"client_id": "2", "text": "hij staat nu voor de deur met een mes en zegt dat ie me vermoord"}
    )
    # While it waits, every agent hears of it, and it moves up the queue.
    for a in (agent, colleague):
        risk = await a.wait_for("risk", lambda r: r["conversation_id"] == cid)
        assert risk["level"] == "acuut" and risk["signals"]
        # Each concept names its level and the words that matched, for the advisor to see why.
        assert {"concept", "level", "words"} <= set(risk["concepts"][0])
        assert any(c["level"] == "acuut" and "mes" in c["words"] for c in risk["concepts"])
    await agent.wait_for("queue", lambda q: (entry(q, cid) or {}).get("priority", 0) > before)
    crisis = await v.wait_for("crisis")  # the visitor is shown 112 at once
    assert crisis["phone"] == "112" and "112" in crisis["text"]
    mine = lambda c: [r for r in c.events["risk"] if r["conversation_id"] == cid]  # noqa: E731
    assert len(mine(agent)) == 1  # "het regent hier" gave nothing

    # Once accepted, signals go to the advisor holding it only.
    await agent.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "3", "text": "k wil dood"})
    await agent.wait_for("risk", lambda r: r["conversation_id"] == cid and len(mine(agent)) == 2)
    await asyncio.sleep(0.2)  # the colleague would have had it by now
    assert len(mine(colleague)) == 1
    for c in (v, agent, colleague):
        await c.disconnect()


async def test_a_broken_routing_file_stops_the_server_naming_the_line(tmp_path, database_url):
    broken = tmp_path / "routing.toml"
    broken.write_text('default_team = "jeugd"\n[teams.jeugd]\nname = "Jeugd"\n[[rule]\n')
    with pytest.raises(ConfigError, match=r"routing.toml:\d+"):
        await RunningServer(make_settings(database_url, routing_file=str(broken))).start()
    phrases = tmp_path / "phrases.txt"
    phrases.write_text("acuut\tmes\nheel erg\tding\n")
    with pytest.raises(ConfigError, match="line 2"):
        await RunningServer(make_settings(database_url, risk_phrases_file=str(phrases))).start()
