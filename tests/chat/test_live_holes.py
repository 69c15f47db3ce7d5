"""No live hole without any fault: a message committed while a visitor resumes is either in the
`resume` answer or arrives live (the socket joins the room before the messages are read), and a
re-send the server recognises as a duplicate sends the stored message to the peers again."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from contact.migrate import upgrade
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

ROUNDS = 100


@pytest.fixture(params=["sqlite", "postgres"])
async def hole_server(request, tmp_path):
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path / "holes.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"holes_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    server = await RunningServer(make_settings(url)).start()
    yield server
    await server.stop()


async def _active_chat(server):
    identity, password = await add_agent(server.settings.database_url)
    agent = await agent_client(server.url, await login(server.url, identity.username, password))
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    cid = started["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    return identity, agent, v, started, cid


async def test_a_message_posted_during_each_resume_is_in_the_answer_or_arrives_live(hole_server):
    server = hole_server
    _, agent, first, started, cid = await _active_chat(server)
    await first.disconnect()
    have = 0  # the highest seq the visitor's client holds, all below it too
    holes = []
    for i in range(ROUNDS):
        back = await visitor(server.url)

        async def post(i=i):
            # Staggered, so that over the rounds the commit lands in every moment of the resume.
            await asyncio.sleep((i % 10) * 0.001)
            return await agent.call("message", {"conversation_id": cid, "client_id": f"a{i}", "text": f"bericht {i}"})

        resumed, sent = await asyncio.gather(
            back.call("resume", {"resume_token": started["resume_token"], "after_seq": have}), post()
        )
        assert resumed["status"] == "active", resumed
        got = {m["seq"] for m in resumed["messages"]}
        if sent["seq"] not in got:
            try:
                await back.wait_for("message", lambda m, s=sent["seq"]: m["seq"] == s, timeout=3)
            except TimeoutError:
                pass
        got |= {m["seq"] for m in back.events.get("message", [])}
        missing = sorted(set(range(have + 1, sent["seq"] + 1)) - got)
        if missing:
            holes.append((i, missing))
        have = sent["seq"]
        await back.disconnect()
    assert holes == [], f"{len(holes)} of {ROUNDS} resumes missed a message: {holes[:5]}"
    await agent.disconnect()


async def test_a_resume_of_a_dead_token_stays_bound_to_nothing(server):
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    await v.call("leave", {})
    other = await visitor(server.url)
    resumed = await other.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert resumed == {"conversation_id": resumed["conversation_id"], "status": "closed", "messages": []}
    refused = await other.call("message", {"client_id": "x", "text": "hallo"})
    assert refused["error"]["code"] == "not_found"
    for c in (v, other):
        await c.disconnect()


async def test_a_duplicate_visitor_resend_is_sent_again_to_the_advisor(server):
    identity, agent, v, _, cid = await _active_chat(server)
    first = await v.call("message", {"client_id": "v1", "text": "eerste poging"})
    await agent.wait_for("message", lambda m: m["seq"] == first["seq"])
    agent.events["message"].clear()
    # The same client_id again (its ack was lost): the same ack, and the advisor gets it again.
    again = await v.call("message", {"client_id": "v1", "text": "eerste poging"})
    assert again == first
    got = await agent.wait_for("message", lambda m: m["seq"] == first["seq"])
    assert got == {
        "id": first["id"],
        "seq": first["seq"],
        "at": first["at"],
        "sender": "visitor",
        "text": "eerste poging",
        "conversation_id": cid,
    }
    await v.disconnect()
    await agent.disconnect()


async def test_a_duplicate_advisor_resend_is_sent_again_to_the_visitor_with_the_name(server):
    identity, agent, v, _, cid = await _active_chat(server)
    sent = await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": "hoi"})
    await v.wait_for("message", lambda m: m["seq"] == sent["seq"])
    v.events["message"].clear()
    again = await agent.call("message", {"conversation_id": cid, "client_id": "a1", "text": "hoi"})
    assert again == sent
    got = await v.wait_for("message", lambda m: m["seq"] == sent["seq"])
    assert got == {**sent, "sender": "agent", "text": "hoi", "name": identity.name.split()[0]}
    # A second console of the same advisor gets it too; the sending socket does not.
    await asyncio.sleep(0.2)
    assert [m for m in agent.events.get("message", []) if m["seq"] == sent["seq"]] == []
    await v.disconnect()
    await agent.disconnect()
