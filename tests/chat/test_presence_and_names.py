"""Every screen tells the truth about who is there and who wrote what.

On the shared real server: the advisor sees the visitor's connection go and come back; queue
cards of visitors who are gone are marked, come after those who are there, count in nobody's
place and are only taken on purpose; after a transfer the visitor reads the new advisor's name,
and every advisor's message carries its own writer's name, live and when read back."""

from __future__ import annotations

import asyncio

from tests.support.server import add_agent, agent_client, login, start_payload, visitor


async def _agent(server, teams=("jeugd", "volwassenen", "professionals", "crisis"), name=None, role="advisor"):
    identity, password = await add_agent(server.settings.database_url, teams=teams, name=name, role=role)
    return identity, await agent_client(server.url, await login(server.url, identity.username, password))


def _entry(snapshot, cid):
    return next((w for w in snapshot["waiting"] if w["conversation_id"] == cid), None)


async def test_the_advisor_sees_the_visitor_go_and_come_back(server):
    _, holder = await _agent(server)
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await holder.wait_for("mine", lambda m: any(c["id"] == cid and c["visitor_present"] for c in m["conversations"]))

    await v.disconnect()
    gone = await holder.wait_for("visitor_presence", lambda d: d["conversation_id"] == cid and not d["present"])
    assert gone["since"]
    history = (await holder.call("history", {"conversation_id": cid}))["conversation"]
    assert history["visitor_present"] is False and history["visitor_away_since"] == gone["since"]

    back = await visitor(server.url)
    resumed = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert resumed["status"] == "active"
    await holder.wait_for("visitor_presence", lambda d: d["conversation_id"] == cid and d["present"])
    history = (await holder.call("history", {"conversation_id": cid}))["conversation"]
    assert history["visitor_present"] is True and history["visitor_away_since"] is None
    for c in (back, holder):
        await c.disconnect()


async def test_gone_visitors_are_marked_come_last_count_for_nobody_and_are_taken_only_on_purpose(server):
    _, boss = await _agent(server, teams=("professionals",))
    gone_visitor = await visitor(server.url)
    first = await gone_visitor.call("start", start_payload(caller_type="professional", topic="kind van de buren"))
    here = await visitor(server.url)
    second = await here.call("start", start_payload(caller_type="professional", topic="leerling"))
    before = second["queue"]["position"]

    await gone_visitor.disconnect()
    snapshot = await boss.wait_for(
        "queue", lambda q: (e := _entry(q, first["conversation_id"])) is not None and not e["visitor_present"]
    )
    ids = [w["conversation_id"] for w in snapshot["waiting"]]
    assert ids.index(second["conversation_id"]) < ids.index(first["conversation_id"])
    assert _entry(snapshot, first["conversation_id"])["visitor_away_since"]
    # The visitor who is there moves up: the one who is gone is in nobody's way.
    moved = await here.wait_for("queue", lambda q: q["position"] == before - 1)
    assert moved["position"] == before - 1

    refused = await boss.call("accept", {"conversation_id": first["conversation_id"]})
    assert refused["error"]["code"] == "conflict" and refused["error"]["state"] == "visitor_away"
    assert refused["error"]["since"]
    taken = await boss.call("accept", {"conversation_id": first["conversation_id"], "confirm_visitor_away": True})
    assert taken["conversation"]["id"] == first["conversation_id"]
    for c in (here, boss):
        await c.disconnect()


async def test_after_a_transfer_every_message_carries_its_own_writers_name(server):
    _, anna = await _agent(server, name="Anna de Boer")
    bram_id, bram = await _agent(server, name="Bram Jansen")
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await anna.call("accept", {"conversation_id": cid})
    await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Anna")
    await anna.call("message", {"conversation_id": cid, "client_id": "a1", "text": "Hoi, met Anna."})
    assert (await v.wait_for("message", lambda m: m["seq"] == 1))["name"] == "Anna"

    await anna.call("transfer", {"conversation_id": cid, "agent_id": bram_id.id})
    await v.wait_for("transfer")
    await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Bram")
    await bram.call("message", {"conversation_id": cid, "client_id": "b1", "text": "Hoi, met Bram."})
    live = await v.wait_for("message", lambda m: m["seq"] == 2)
    assert live["name"] == "Bram" and live["sender"] == "agent"

    other = await visitor(server.url)
    resumed = await other.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert [(m["text"], m.get("name")) for m in resumed["messages"]] == [
        ("Hoi, met Anna.", "Anna"),
        ("Hoi, met Bram.", "Bram"),
    ]
    history = (await bram.call("history", {"conversation_id": cid}))["conversation"]
    assert [m.get("name") for m in history["messages"]] == ["Anna", "Bram"]
    for c in (v, other, anna, bram):
        await c.disconnect()


async def test_the_visitor_is_away_only_when_the_last_of_their_sockets_goes(server):
    _, holder = await _agent(server)
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    second = await visitor(server.url)  # a second tab of the same visitor
    assert (await second.call("resume", {"resume_token": started["resume_token"], "after_seq": 0}))[
        "status"
    ] == "active"
    await v.disconnect()
    # The second tab is still there: the advisor is not told the visitor went.
    await asyncio.sleep(0.3)
    await holder.call("history", {"conversation_id": cid})
    assert not [d for d in holder.events["visitor_presence"] if d["conversation_id"] == cid and not d["present"]]
    await second.disconnect()
    await holder.wait_for("visitor_presence", lambda d: d["conversation_id"] == cid and not d["present"])
    await holder.disconnect()
