"""A crisis worker who takes on the crisis of a conversation a colleague holds: reads it along at
once, live, and takes it over with the holder's consent or, without an answer in time, on their
own authority. On a real server with its own database and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.server import (
    clocked_server,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def desk(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "takeover.db"))
    server = await clocked_server(url, MORNING, takeover_wait_s=30, crisis_check_s=0.1)
    yield server
    await server.stop()


async def _agent(server, role="advisor", teams=("jeugd",), name=None):
    identity, _, client = await signed_in_agent(server, role=role, teams=teams, name=name)
    return identity, client


async def _escalated(server, holder, crisis):
    """A chat held by `holder`, escalated, and its crisis taken on by `crisis`: answers its ids."""
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "hij heeft een mes"})
    await holder.call("escalate", {"conversation_id": cid, "reason": "Vader met mes in huis"})
    await crisis.wait_for("crisis_alert", lambda a: a["conversation_id"] == cid)
    return v, cid


async def test_taking_the_crisis_on_reads_along_and_the_holder_hands_over(desk):
    server = desk
    holder_id, holder = await _agent(server, name="Anouk Visser")
    crisis_id, crisis = await _agent(server, role="crisis", teams=("crisis",), name="Cor Crisisdienst")
    v, cid = await _escalated(server, holder, crisis)

    acked = await crisis.call("ack_crisis", {"conversation_id": cid})
    assert acked["taken"] is False and acked["read_along"] is True
    assert [m["text"] for m in acked["conversation"]["messages"]] == ["hij heeft een mes"]
    reader = await holder.wait_for("reader", lambda d: d["conversation_id"] == cid)
    assert reader["by_name"] == "Cor Crisisdienst"
    # Live: the visitor's and the holder's next messages reach the reader too.
    await v.call("message", {"client_id": "2", "text": "hij komt de trap op"})
    await holder.call("message", {"conversation_id": cid, "client_id": "h1", "text": "Bel nu 112."})
    await crisis.wait_for("message", lambda m: m["conversation_id"] == cid and m["text"] == "hij komt de trap op")
    live = await crisis.wait_for("message", lambda m: m["conversation_id"] == cid and m["sender"] == "agent")
    assert live["name"] == "Anouk"
    # A reader cannot write in it.
    refused = await crisis.call("message", {"conversation_id": cid, "client_id": "c0", "text": "hallo"})
    assert refused["error"]["code"] == "forbidden"

    asked = await crisis.call("take_over", {"conversation_id": cid})
    assert asked["state"] == "asked" and asked["expires_at"]
    request = await holder.wait_for("take_over_request", lambda d: d["conversation_id"] == cid)
    assert request["by"] == crisis_id.id and request["expires_at"] == asked["expires_at"]
    assert (await crisis.call("take_over", {"conversation_id": cid}))["state"] == "asked"  # asking twice: the same

    answered = await holder.call("take_over_answer", {"conversation_id": cid, "accept": True})
    assert answered == {"ok": True, "handed_over": True}
    await v.wait_for("transfer")
    await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Cor")
    await crisis.wait_for("taken_over", lambda d: d["conversation_id"] == cid)
    await crisis.wait_for("mine", lambda m: cid in [c["id"] for c in m["conversations"]])
    await holder.wait_for("mine", lambda m: cid not in [c["id"] for c in m["conversations"]])
    told = await holder.wait_for("taken_from_you", lambda d: d["conversation_id"] == cid)
    assert told["how"] == "consent"
    sent = await crisis.call("message", {"conversation_id": cid, "client_id": "c1", "text": "Met Cor. Ben je veilig?"})
    assert sent["seq"] == 4
    late = await holder.call("message", {"conversation_id": cid, "client_id": "h2", "text": "nog iets"})
    assert late["error"]["code"] == "forbidden"
    timeline = (await crisis.call("history", {"conversation_id": cid}))["conversation"]["crisis"]["timeline"]
    assert [e["kind"] for e in timeline][-2:] == ["take_over_asked", "taken_over"]
    for c in (v, holder, crisis):
        await c.disconnect()


async def test_no_answer_in_time_lets_the_crisis_worker_take_over_and_no_is_respected(desk):
    server = desk
    _, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",), name="Cor Crisisdienst")
    v, cid = await _escalated(server, holder, crisis)
    await crisis.call("ack_crisis", {"conversation_id": cid})

    # No: the crisis worker is told and keeps reading along.
    await crisis.call("take_over", {"conversation_id": cid})
    assert (await holder.call("take_over_answer", {"conversation_id": cid, "accept": False}))["handed_over"] is False
    await crisis.wait_for("take_over_declined", lambda d: d["conversation_id"] == cid)
    nothing = await holder.call("take_over_answer", {"conversation_id": cid, "accept": True})
    assert nothing["error"]["code"] == "conflict" and nothing["error"]["state"] == "nothing_asked"

    # Asked again, no answer: before the waiting time it stays asked, after it the worker may go ahead.
    await crisis.call("take_over", {"conversation_id": cid})
    server.clock.advance(seconds=29)
    assert (await crisis.call("take_over", {"conversation_id": cid}))["state"] == "asked"
    server.clock.advance(seconds=1)
    taken = await crisis.call("take_over", {"conversation_id": cid})
    assert taken["state"] == "taken" and taken["conversation"]["id"] == cid
    told = await holder.wait_for("taken_from_you", lambda d: d["conversation_id"] == cid)
    assert told["how"] == "no_answer"
    await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Cor")
    for c in (v, holder, crisis):
        await c.disconnect()


async def test_a_holder_who_is_offline_is_not_waited_for(desk):
    server = desk
    _, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    v, cid = await _escalated(server, holder, crisis)
    await crisis.call("ack_crisis", {"conversation_id": cid})
    await holder.disconnect()
    taken = await crisis.call("take_over", {"conversation_id": cid})
    assert taken["state"] == "taken"
    for c in (v, crisis):
        await c.disconnect()


async def test_who_may_read_along_and_take_over(desk):
    server = desk
    _, holder = await _agent(server)
    _, crisis = await _agent(server, role="crisis", teams=("crisis",))
    _, bystander = await _agent(server, teams=("jeugd",))
    _, other_crisis = await _agent(server, role="crisis", teams=("crisis",))
    _, boss = await _agent(server, role="supervisor", teams=())
    v, cid = await _escalated(server, holder, crisis)
    # Before anyone took the crisis on, and for anyone who did not: no reading along.
    for who in (bystander, other_crisis, crisis):
        for event in ("read_along", "take_over"):
            answer = await who.call(event, {"conversation_id": cid})
            assert answer["error"]["code"] == "forbidden", (event, answer)
    await crisis.call("ack_crisis", {"conversation_id": cid})
    assert (await other_crisis.call("take_over", {"conversation_id": cid}))["error"]["code"] == "forbidden"
    # A supervisor may always read along; the holder may not take over their own conversation.
    seen = await boss.call("read_along", {"conversation_id": cid})
    assert seen["read_along"] is True and seen["conversation"]["id"] == cid
    assert (await holder.call("take_over_answer", {"conversation_id": cid, "accept": True}))["error"]["code"] == (
        "conflict"
    )
    # Bad input and unknown conversations.
    for bad in ({}, {"conversation_id": ""}, {"conversation_id": cid, "x": 1}, "take", None):
        assert (await crisis.call("take_over", bad))["error"]["code"] == "invalid_input"
    assert (await crisis.call("take_over", {"conversation_id": "nope"}))["error"]["code"] == "not_found"
    bad_answer = await holder.call("take_over_answer", {"conversation_id": cid, "accept": "ja"})
    assert bad_answer["error"]["code"] == "invalid_input"
    # Both ask: the second waits for the first.
    await crisis.call("take_over", {"conversation_id": cid})
    second = await boss.call("take_over", {"conversation_id": cid})
    assert second["error"]["code"] == "conflict" and second["error"]["state"] == "asked_by_other"
    # Once the conversation is over, nothing more to take over.
    await holder.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})
    assert (await crisis.call("take_over", {"conversation_id": cid}))["error"]["code"] == "closed"
    for c in (v, holder, crisis, bystander, other_crisis, boss):
        await c.disconnect()
