"""Push mode on a real server: the longest-waiting conversation of a push team is offered to the
least-busy online agent of that team, who takes it or lets it pass; an unanswered offer runs
out (time moved by the test) and goes to the next agent."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from contact.clock import ManualClock
from routing.rules import DEFAULT_RULES
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


@pytest.fixture
async def push_server(tmp_path):
    rules = DEFAULT_RULES.read_text(encoding="utf-8")
    youth = '[teams.jeugd]\nname = "Jeugd"\noverflow_after_s = 120\n'
    assert youth in rules
    routing_file = tmp_path / "routing.toml"
    routing_file.write_text(rules.replace(youth, youth + "push = true\n"), encoding="utf-8")
    url = await migrated_sqlite(str(tmp_path / "push.db"))
    clock = ManualClock(datetime(2026, 11, 24, 9, 0, tzinfo=UTC))
    server = await RunningServer(
        make_settings(url, routing_file=str(routing_file), push_offer_timeout_s=30, push_check_s=0.1), clock
    ).start()
    server.clock = clock
    yield server
    await server.stop()


async def _agent(server, teams=("jeugd",)):
    identity, password = await add_agent(server.settings.database_url, teams=teams)
    return identity, await agent_client(server.url, await login(server.url, identity.username, password))


def _offered(cid):
    return lambda o: o["conversation_id"] == cid


async def _no_offer(client, cid, wait=0.5):
    await asyncio.sleep(wait)
    return not any(o["conversation_id"] == cid for o in client.events["offer"])


async def test_offer_to_least_busy_pass_run_out_and_take(push_server):
    server = push_server
    _, a = await _agent(server)
    v1 = await visitor(server.url)
    first = (await v1.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    offer = await a.wait_for("offer", _offered(first))
    assert offer["team"] == "jeugd" and offer["caller_type"] == "jongere" and offer["expires_at"]
    assert "conversation" in await a.call("accept", {"conversation_id": first})

    # B is free, A holds one: B gets the next offer; an offline member of the team gets none.
    _, b = await _agent(server)
    await add_agent(server.settings.database_url, teams=("jeugd",))
    _, adults = await _agent(server, teams=("volwassenen",))
    v2 = await visitor(server.url)
    second = (await v2.call("start", start_payload(caller_type="kind")))["conversation_id"]
    await b.wait_for("offer", _offered(second))
    assert await _no_offer(a, second, wait=0.3)

    # Only the agent it is offered to can let it pass.
    refused = await a.call("pass", {"conversation_id": second})
    assert refused["error"]["code"] == "conflict"
    assert (await b.call("pass", {"conversation_id": second})) == {"ok": True}
    await a.wait_for("offer", _offered(second))  # at once, to the next agent
    # A lets it run out: nobody is left who did not pass, so no new offer; the queue still shows it.
    server.clock.advance(seconds=31)
    withdrawn = await a.wait_for("offer_withdrawn", _offered(second))
    assert withdrawn["reason"] == "expired"
    await asyncio.sleep(0.3)
    for client in (a, b):  # each was offered it once, and passed
        assert len([o for o in client.events["offer"] if o["conversation_id"] == second]) == 1
    assert all(o["conversation_id"] != second for o in adults.events["offer"])
    assert "conversation" in await b.call("accept", {"conversation_id": second})

    # An offer taken by someone else (from the queue) is withdrawn from the agent it was offered to.
    v3 = await visitor(server.url)
    third = (await v3.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    offered = await asyncio.wait_for(_first_offer((a, b), third), timeout=5)
    other = b if offered is a else a
    assert "conversation" in await other.call("accept", {"conversation_id": third})
    assert (await offered.wait_for("offer_withdrawn", _offered(third)))["reason"] == "taken"
    for c in (v1, v2, v3, a, b, adults):
        await c.disconnect()


async def _first_offer(clients, cid):
    while True:
        for client in clients:
            if any(o["conversation_id"] == cid for o in client.events["offer"]):
                return client
        await asyncio.sleep(0.02)


async def test_pass_bad_input(push_server):
    server = push_server
    _, a = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    await a.wait_for("offer", _offered(cid))
    assert (await a.call("pass", {"conversation_id": "nope"}))["error"]["code"] == "not_found"
    for bad in ({}, {"conversation_id": ""}, {"conversation_id": 3}, {"conversation_id": cid, "x": 1}, "x"):
        assert (await a.call("pass", bad))["error"]["code"] == "invalid_input", bad
    assert (await a.call("pass", {"conversation_id": cid})) == {"ok": True}
    assert (await a.call("pass", {"conversation_id": cid}))["error"]["code"] == "conflict"  # only once
    for c in (v, a):
        await c.disconnect()


async def test_a_danger_start_is_one_alarm_for_the_crisis_team_not_also_an_offer(push_server):
    """One conversation, one control: the crisis alarm's "Ik pak dit op" takes it; no push offer
    besides it while it alerts."""
    server = push_server
    crisis_id, crisis = await _agent(server, teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(danger_now=True)))["conversation_id"]
    alert = await crisis.wait_for("crisis_alert", lambda a: a["conversation_id"] == cid)
    assert alert["status"] == "waiting"
    await asyncio.sleep(0.5)  # several rounds of the push scheduler
    assert not any(o["conversation_id"] == cid for o in crisis.events.get("offer", []))
    taken = await crisis.call("ack_crisis", {"conversation_id": cid})
    assert taken["taken"] is True and taken["conversation"]["id"] == cid
    for c in (v, crisis):
        await c.disconnect()


async def test_an_open_offer_survives_a_reload_and_is_withdrawn_when_the_visitor_leaves(push_server):
    server = push_server
    _, a = await _agent(server)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    await a.wait_for("offer", _offered(cid))
    # The console reloads: a new connection is told its open offer, and sync has it too.
    token = a.sio.connection_auth["token"]
    await a.disconnect()
    again = await agent_client(server.url, token)
    assert (await again.wait_for("offer"))["conversation_id"] == cid
    assert (await again.call("sync", {}))["offer"]["conversation_id"] == cid
    assert (await v.call("leave", {})) == {"ok": True}
    assert (await again.wait_for("offer_withdrawn", _offered(cid)))["reason"] == "ended"
    assert (await again.call("sync", {}))["offer"] is None
    await again.disconnect()
    await v.disconnect()
