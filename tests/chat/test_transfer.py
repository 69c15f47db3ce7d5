"""Transfer to a team or a colleague: history and notes go along, the visitor is told."""

from __future__ import annotations

from tests.support.server import add_agent, agent_client, login, start_payload, visitor


async def _agent(server, teams=("jeugd", "volwassenen", "professionals", "crisis"), name=None):
    identity, password = await add_agent(server.settings.database_url, teams=teams, name=name)
    return identity, await agent_client(server.url, await login(server.url, identity.username, password))


async def _held_chat(server, holder):
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="jongere")))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "mijn vader drinkt veel"})
    await holder.call("note", {"conversation_id": cid, "text": "complexe scheiding? doorzetten"})
    return v, cid


async def test_transfer_to_a_colleague_takes_history_and_notes(server):
    _, holder = await _agent(server)
    colleague_id, colleague = await _agent(server, name="Ilse Mulder")
    v, cid = await _held_chat(server, holder)
    assert await holder.call("transfer", {"conversation_id": cid, "agent_id": colleague_id.id}) == {"ok": True}
    assert "collega" in (await v.wait_for("transfer"))["text"]
    assert (await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Ilse"))["agent"]["name"] == "Ilse"
    await colleague.wait_for("mine", lambda m: [c["id"] for c in m["conversations"]] == [cid])
    history = (await colleague.call("history", {"conversation_id": cid}))["conversation"]
    assert [m["text"] for m in history["messages"]] == ["mijn vader drinkt veel"]
    assert [n["text"] for n in history["notes"]] == ["complexe scheiding? doorzetten"]
    # The former holder lets go; the colleague now talks.
    assert (await holder.call("message", {"conversation_id": cid, "client_id": "x", "text": "hoi"}))["error"][
        "code"
    ] == "forbidden"
    assert (await colleague.call("message", {"conversation_id": cid, "client_id": "y", "text": "Hoi, met Ilse"}))[
        "seq"
    ] == 2
    for c in (v, holder, colleague):
        await c.disconnect()


async def test_transfer_to_a_team_puts_it_back_in_that_queue(server):
    _, holder = await _agent(server)
    _, adults = await _agent(server, teams=("volwassenen",))
    v, cid = await _held_chat(server, holder)
    assert await holder.call("transfer", {"conversation_id": cid, "team": "volwassenen"}) == {"ok": True}
    snapshot = await adults.wait_for("queue", lambda q: any(w["conversation_id"] == cid for w in q["waiting"]))
    assert next(w for w in snapshot["waiting"] if w["conversation_id"] == cid)["team"] == "volwassenen"
    assert (await v.wait_for("queue"))["position"] >= 1
    accepted = await adults.call("accept", {"conversation_id": cid})
    assert [n["text"] for n in accepted["conversation"]["notes"]] == ["complexe scheiding? doorzetten"]
    for c in (v, holder, adults):
        await c.disconnect()


async def test_bad_transfers_change_nothing(server):
    holder_id, holder = await _agent(server)
    _, other = await _agent(server)
    offline, _ = await add_agent(server.settings.database_url)
    v, cid = await _held_chat(server, holder)
    cases = [
        ({"conversation_id": cid, "team": "ruimtevaart"}, "not_found"),
        ({"conversation_id": cid, "agent_id": "no-such-agent"}, "not_found"),
        ({"conversation_id": cid, "agent_id": holder_id.id}, "not_found"),
        ({"conversation_id": cid}, "invalid_input"),
        ({"conversation_id": cid, "team": "jeugd", "agent_id": holder_id.id}, "invalid_input"),
        ({"conversation_id": "nope", "team": "jeugd"}, "not_found"),
        ({"conversation_id": cid, "agent_id": offline.id}, "conflict"),  # nobody there to take it
    ]
    for payload, expected in cases:
        assert (await holder.call("transfer", payload))["error"]["code"] == expected, payload
    assert (await other.call("transfer", {"conversation_id": cid, "team": "jeugd"}))["error"]["code"] == "forbidden"
    # Still held by the holder.
    assert (await holder.call("message", {"conversation_id": cid, "client_id": "z", "text": "nog hier"}))["seq"] == 2
    for c in (v, holder, other):
        await c.disconnect()
