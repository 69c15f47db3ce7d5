"""A visitor who stops, flees with quick exit or closes the tab: what they said still counts.

On a real server: the advisor who held the conversation records the outcome afterwards (the
same form, exactly one handoff), also after a restart; after the grace period the scheduler
records `geen` and tells the supervisors; the resume token of a left, expired or closed
conversation reads nothing back."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import func, select

from cases.store import handoffs
from contact.db import Database
from contact.migrate import upgrade
from tests.support.server import (
    agent_client,
    clocked_server,
    login,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

# A Tuesday, 10:00 in Amsterdam.
MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MELDING = {
    "kind": "melding",
    "summary": "Kind (9) vertelt dat vader slaat; vluchtte uit de chat.",
    "urgency": "hoog",
    "gemeente": "Utrecht",
}


@pytest.fixture(params=["sqlite"])
async def leave_server(request, tmp_path):
    """Its own database (its scheduler must win the election) and a clock the test moves."""
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path / "leave.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"leave_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    server = await clocked_server(url, MORNING, outcome_check_s=0.1, outcome_grace_s=3600, resume_ttl_s=1800)
    yield server
    await server.stop()


_agent = signed_in_agent


async def _handoff_count(database_url: str, conversation_id: str) -> int:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            return int(await conn.scalar(select(func.count()).where(handoffs.c.source_id == conversation_id)) or 0)
    finally:
        await db.dispose()


async def _chat(server, holder):
    v = await visitor(server.url)
    started = await v.call("start", start_payload(caller_type="kind"))
    cid = started["conversation_id"]
    await holder.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "mijn vader slaat mij"})
    return v, started, cid


def _mine(client, cid, **expected):
    def match(data):
        return any(c["id"] == cid and all(c.get(k) == v for k, v in expected.items()) for c in data["conversations"])

    return client.wait_for("mine", match)


@pytest.mark.parametrize("leave_server", ["sqlite", "postgres"], indirect=True)
async def test_quick_exit_mid_chat_then_the_advisor_records_the_melding_once(leave_server):
    server = leave_server
    _, _, holder = await _agent(server, name="Anouk Visser")
    _, _, colleague = await _agent(server)
    v, started, cid = await _chat(server, holder)

    assert await v.call("leave", {"quick_exit": True}) == {"ok": True}
    left = await holder.wait_for("visitor_left")
    assert left["conversation_id"] == cid and left["quick_exit"] is True
    await _mine(holder, cid, visitor_left=True, quick_exit=True)
    # The visitor's side is over: nothing reaches them any more.
    refused = await holder.call("message", {"conversation_id": cid, "client_id": "m1", "text": "ben je er nog?"})
    assert refused["error"]["code"] == "closed"
    # The advisor can still finish the work: a note, the history, then the outcome.
    assert "id" in await holder.call("note", {"conversation_id": cid, "text": "Snel weg gebruikt om 10:02"})
    history = await holder.call("history", {"conversation_id": cid})
    assert [m["text"] for m in history["conversation"]["messages"]] == ["mijn vader slaat mij"]

    incomplete = await holder.call("close", {"conversation_id": cid, "outcome": {"kind": "melding", "summary": "x"}})
    assert incomplete["error"]["code"] == "outcome_incomplete"
    assert (await colleague.call("close", {"conversation_id": cid, "outcome": MELDING}))["error"]["code"] == "forbidden"

    closed_events = len(v.events["closed"])
    done = await holder.call("close", {"conversation_id": cid, "outcome": MELDING})
    assert done["ok"] is True and done["handoff_id"]
    again = await holder.call("close", {"conversation_id": cid, "outcome": MELDING})
    assert again["error"]["code"] == "closed"
    assert await _handoff_count(server.settings.database_url, cid) == 1
    # It leaves "Mijn gesprekken" once recorded, and the visitor was not told anything new.
    await holder.wait_for("mine", lambda d: all(c["id"] != cid for c in d["conversations"]))
    await asyncio.sleep(0.2)
    assert len(v.events["closed"]) == closed_events

    for c in (v, holder, colleague):
        await c.disconnect()


@pytest.mark.parametrize("leave_server", ["sqlite", "postgres"], indirect=True)
async def test_two_closes_at_once_after_leaving_make_one_handoff(leave_server):
    server = leave_server
    me, password, holder = await _agent(server)
    v, _, cid = await _chat(server, holder)
    await v.call("leave", {})
    await holder.wait_for("visitor_left")
    # The same advisor's second console sends the same close at the same moment.
    second = await agent_client(server.url, await login(server.url, me.username, password))
    answers = await asyncio.gather(
        holder.call("close", {"conversation_id": cid, "outcome": MELDING}),
        second.call("close", {"conversation_id": cid, "outcome": MELDING}),
    )
    assert sorted("handoff_id" in a for a in answers) == [False, True]
    assert [a["error"]["code"] for a in answers if "error" in a] == ["closed"]
    assert await _handoff_count(server.settings.database_url, cid) == 1
    for c in (v, holder, second):
        await c.disconnect()


async def test_the_outcome_can_be_recorded_after_a_server_restart(leave_server):
    server = leave_server
    me, password, holder = await _agent(server)
    v, _, cid = await _chat(server, holder)
    await v.call("leave", {"quick_exit": True})
    await holder.wait_for("visitor_left")
    await v.disconnect()
    await holder.disconnect()

    await server.restart()
    holder = await agent_client(server.url, await login(server.url, me.username, password))
    await _mine(holder, cid, visitor_left=True, quick_exit=True)
    done = await holder.call("close", {"conversation_id": cid, "outcome": MELDING})
    assert done["handoff_id"]
    assert await _handoff_count(server.settings.database_url, cid) == 1
    await holder.disconnect()


async def test_a_left_conversation_holds_no_place_against_the_advisors_limit(leave_server):
    server = leave_server
    _, _, holder = await _agent(server)
    visitors = []
    for _ in range(server.settings.max_concurrent_chats):
        v, _, cid = await _chat(server, holder)
        visitors.append(v)
    await visitors[0].call("leave", {})
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    assert "conversation" in await holder.call("accept", {"conversation_id": cid})
    for c in (*visitors, v, holder):
        await c.disconnect()


async def test_no_outcome_in_time_is_recorded_as_geen_and_shown_to_supervisors(leave_server):
    server = leave_server
    me, _, holder = await _agent(server, name="Bram Bakker")
    _, _, boss = await _agent(server, role="supervisor", teams=())
    v, _, cid = await _chat(server, holder)
    await v.call("leave", {"quick_exit": True})
    await _mine(holder, cid, visitor_left=True)

    server.clock.advance(seconds=3599)
    await asyncio.sleep(0.4)
    assert not boss.events["outcome_missing"]
    server.clock.advance(seconds=2)
    notice = await boss.wait_for("outcome_missing", lambda d: d["conversation_id"] == cid)
    assert notice["agent_id"] == me.id and notice["agent_name"] == "Bram Bakker" and notice["quick_exit"] is True
    assert "text" not in notice and "summary" not in notice
    await holder.wait_for("mine", lambda d: all(c["id"] != cid for c in d["conversations"]))
    late = await holder.call("close", {"conversation_id": cid, "outcome": MELDING})
    assert late["error"]["code"] == "closed"
    history = await boss.call("history", {"conversation_id": cid})
    assert history["conversation"]["close_reason"] == "visitor_left"
    assert await _handoff_count(server.settings.database_url, cid) == 0
    # Only once: the next rounds of the scheduler find nothing more to do.
    await asyncio.sleep(0.4)
    assert len([n for n in boss.events["outcome_missing"] if n["conversation_id"] == cid]) == 1
    for c in (v, holder, boss):
        await c.disconnect()


async def test_stop_then_quick_exit_still_tells_the_advisor(leave_server):
    server = leave_server
    _, _, holder = await _agent(server)
    v, _, cid = await _chat(server, holder)
    await v.call("leave", {})
    first = await holder.wait_for("visitor_left")
    assert first["quick_exit"] is False
    assert await v.call("leave", {"quick_exit": True}) == {"ok": True}
    fled = await holder.wait_for("visitor_left", lambda d: d["quick_exit"] is True)
    assert fled["conversation_id"] == cid
    await _mine(holder, cid, quick_exit=True)
    for c in (v, holder):
        await c.disconnect()


async def test_resume_tokens_that_read_nothing_back(leave_server):
    """Expired, stopped, closed by the advisor, never issued: one answer, no message."""
    server = leave_server
    _, _, holder = await _agent(server)

    async def resume(token):
        other = await visitor(server.url)
        try:
            return await other.call("resume", {"resume_token": token, "after_seq": 0})
        finally:
            await other.disconnect()

    def dead(answer):
        return set(answer) == {"conversation_id", "status", "messages"} and (
            answer["status"],
            answer["messages"],
        ) == ("closed", [])

    # Expired: the visitor's connection went, and nothing happened for longer than the lifetime.
    v, started, cid = await _chat(server, holder)
    await v.disconnect()
    await asyncio.sleep(0.2)
    server.clock.advance(seconds=1799)
    alive = await resume(started["resume_token"])
    assert alive["status"] == "active" and [m["text"] for m in alive["messages"]] == ["mijn vader slaat mij"]
    await asyncio.sleep(0.2)
    server.clock.advance(seconds=1801)
    assert dead(await resume(started["resume_token"]))

    # Stopped by the visitor: the token ends at once.
    v, started, cid = await _chat(server, holder)
    await v.call("leave", {})
    assert dead(await resume(started["resume_token"]))
    await v.disconnect()

    # Closed by the advisor.
    v, started, cid = await _chat(server, holder)
    await holder.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}})
    assert dead(await resume(started["resume_token"]))
    await v.disconnect()

    # Never issued, and one a client chose at start (ignored: only the server issues tokens).
    assert dead(await resume("x" * 43))
    chooser = await visitor(server.url)
    chosen = await chooser.call("start", start_payload(resume_token="k" * 43))
    assert chosen["resume_token"] != "k" * 43
    assert dead(await resume("k" * 43))
    # The same unknown token gets the same answer each time.
    assert (await resume("y" * 43)) == (await resume("y" * 43))
    await chooser.disconnect()
    await holder.disconnect()


async def test_a_connected_visitor_keeps_the_token_alive(leave_server):
    """Waiting long in a quiet queue is no reason to lose the conversation on a reconnect."""
    server = leave_server
    v = await visitor(server.url)
    started = await v.call("start", start_payload())
    server.clock.advance(seconds=1700)
    # The visitor's connection drops now: the lifetime runs from here.
    await v.disconnect()
    await asyncio.sleep(0.2)
    server.clock.advance(seconds=1700)
    back = await visitor(server.url)
    resumed = await back.call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert resumed["conversation_id"] == started["conversation_id"] and resumed["status"] == "waiting"
    await back.disconnect()


async def test_the_exit_beacon_ends_the_conversation_as_a_quick_exit(leave_server):
    """The socket could not say it (the page went first): the widget's beacon to
    /api/visitor/exit with the token does. The answer is the same for any token."""
    server = leave_server
    _, _, holder = await _agent(server)
    v, started, cid = await _chat(server, holder)
    async with ClientSession() as http:
        for body in (json.dumps({"resume_token": started["resume_token"]}), json.dumps({"resume_token": "z" * 43})):
            async with http.post(
                f"{server.url}/api/visitor/exit", data=body, headers={"Content-Type": "text/plain"}
            ) as r:
                assert r.status == 204 and await r.read() == b""
    left = await holder.wait_for("visitor_left")
    assert left["conversation_id"] == cid and left["quick_exit"] is True
    await _mine(holder, cid, visitor_left=True, quick_exit=True, awaiting_outcome=True)
    assert (await v.wait_for("closed")) == {"reason": "visitor_left"}
    gone = await (await visitor(server.url)).call("resume", {"resume_token": started["resume_token"], "after_seq": 0})
    assert gone["status"] == "closed" and gone["messages"] == []
    for c in (v, holder):
        await c.disconnect()


async def test_an_active_chat_whose_visitor_never_comes_back_ends_and_frees_the_place(leave_server):
    """The tab closed without stop: the advisor sees the visitor gone and may record the outcome
    at any time; after the grace period the scheduler records `geen` and tells the supervisors."""
    server = leave_server
    me, _, holder = await _agent(server)
    _, _, boss = await _agent(server, role="supervisor", teams=())
    v, _, cid = await _chat(server, holder)
    await v.disconnect()
    await holder.wait_for("visitor_presence", lambda d: d["conversation_id"] == cid and not d["present"])
    server.clock.advance(seconds=3601)
    notice = await boss.wait_for("outcome_missing", lambda d: d["conversation_id"] == cid)
    assert notice["agent_id"] == me.id and notice["quick_exit"] is False
    await holder.wait_for("mine", lambda m: cid not in [c["id"] for c in m["conversations"]])
    history = (await boss.call("history", {"conversation_id": cid}))["conversation"]
    assert history["status"] == "closed" and history["close_reason"] == "visitor_gone"
    for c in (holder, boss):
        await c.disconnect()
