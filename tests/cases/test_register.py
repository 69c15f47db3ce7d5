"""The built-in case register on a real server: closing makes a handoff in the same
transaction, with transcript, notes, crisis timeline and deadline; repeat reports are linked
by keyed hash, also after the transcript was purged; bad queries are refused."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession

from contact.clock import ManualClock
from tests.callback.conftest import Api, agent_token, booking
from tests.support.server import RunningServer, agent_client, make_settings, migrated_sqlite, start_payload, visitor

# Tuesday 24 November 2026, 10:00 in Amsterdam.
TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MELDING = {"kind": "melding", "summary": "vader slaat", "urgency": "midden", "gemeente": "Utrecht"}


@pytest.fixture
async def case_server(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "cases.db"))
    clock = ManualClock(TUESDAY_10)
    server = await RunningServer(
        make_settings(url, callback_check_s=0.1, hash_key="h" * 32, retention_days=30), clock
    ).start()
    server.clock = clock
    async with ClientSession() as http:
        server.api = Api(server.url, http)
        yield server
    await server.stop()


async def _chat_closed_as(server, outcome, *, crisis=False):
    server.clock.advance(minutes=1)
    identity, token = await agent_token(server, name="Anouk Visser")
    agent = await agent_client(server.url, token)
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(caller_type="kind")))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "papa slaat mama"})
    await agent.call("message", {"conversation_id": cid, "client_id": "a", "text": "Wat goed dat je het vertelt."})
    await agent.call("note", {"conversation_id": cid, "text": "kind 9 jaar, school bekend"})
    if crisis:
        await agent.call("escalate", {"conversation_id": cid, "reason": "dreiging"})
    closed = await agent.call("close", {"conversation_id": cid, "outcome": outcome})
    for c in (v, agent):
        await c.disconnect()
    return cid, closed, token, identity


async def test_a_chat_closed_as_melding_is_a_case_with_transcript_notes_and_deadline(case_server):
    cid, closed, token, identity = await _chat_closed_as(case_server, MELDING, crisis=True)
    assert closed["ok"] is True and closed["handoff_id"]
    status, listed = await case_server.api.call("GET", "/api/agent/cases", token=token)
    assert status == 200
    case = next(c for c in listed["cases"] if c["id"] == closed["handoff_id"])
    assert case["deadline"] == "2026-12-01" and case["kind"] == "melding" and case["overdue"] is False
    assert case["delivery"]["status"] == "registered" and case["hermelding"] is False
    _, whole = await case_server.api.call("GET", f"/api/agent/cases/{closed['handoff_id']}", token=token)
    handoff = whole["handoff"]
    assert handoff["source"] == "chat" and handoff["source_id"] == cid
    assert handoff["received_at"] == "2026-11-24T09:01:00+00:00" and handoff["caller_type"] == "kind"
    assert [(m["seq"], m["sender"], m["text"]) for m in handoff["transcript"]] == [
        (1, "visitor", "papa slaat mama"),
        (2, "agent", "Wat goed dat je het vertelt."),
    ]
    assert handoff["notes"] == [
        {
            "text": "kind 9 jaar, school bekend",
            "at": "2026-11-24T09:01:00+00:00",
            "agent_id": identity.id,
            "internal": True,
        }
    ]
    # Nobody acknowledged the crisis before the close: it ended with the conversation.
    assert [e["kind"] for e in handoff["crisis"]["timeline"]] == ["escalated", "alerted", "ended"]
    assert handoff["advisor"] == {"id": identity.id, "name": "Anouk Visser"}
    # An advice conversation is registered too; "geen" is not.
    _, advies, _, _ = await _chat_closed_as(case_server, {"kind": "advies", "summary": "uitleg gegeven"})
    assert advies["handoff_id"]
    _, none, _, _ = await _chat_closed_as(case_server, {"kind": "geen"})
    assert "handoff_id" not in none


async def test_filters_overdue_and_bad_queries(case_server):
    _, spoed, token, _ = await _chat_closed_as(case_server, {**MELDING, "urgency": "spoed"})
    _, later, _, _ = await _chat_closed_as(case_server, MELDING)
    api = case_server.api
    _, due = await api.call("GET", "/api/agent/cases?due_within_days=0", token=token)
    assert [c["id"] for c in due["cases"]] == [spoed["handoff_id"]]  # spoed: the deadline is today
    case_server.clock.advance(days=1)
    _, token = await agent_token(case_server, role="supervisor")  # the old token expired with the day
    _, overdue = await api.call("GET", "/api/agent/cases?overdue=true", token=token)
    assert [c["id"] for c in overdue["cases"]] == [spoed["handoff_id"]]
    _, everything = await api.call("GET", "/api/agent/cases", token=token)
    ids = [c["id"] for c in everything["cases"]]
    assert ids.index(spoed["handoff_id"]) < ids.index(later["handoff_id"])  # sorted by deadline
    for query in (
        "?status=weg",
        "?due_within_days=-1",
        "?due_within_days=x",
        "?overdue=ja",
        "?status=pending&status=dead",
    ):
        status, body = await api.call("GET", "/api/agent/cases" + query, token=token)
        assert status == 422 and body["error"]["code"] == "invalid_input", query
    _, advisor = await agent_token(case_server)
    assert (await api.call("GET", "/api/agent/cases?status=dead", token=advisor))[0] == 403  # supervisors only
    # An advisor sees the cases they handed off themselves, not a colleague's transcript.
    assert (await api.call("GET", "/api/agent/cases", token=advisor))[1]["cases"] == []
    assert (await api.call("GET", f"/api/agent/cases/{spoed['handoff_id']}", token=advisor))[0] == 403
    assert (await api.call("GET", "/api/agent/cases"))[0] == 401
    assert (await api.call("GET", "/api/agent/cases/nope", token=token))[0] == 404


async def _callback_closed(server, token, phone, outcome=MELDING, day="2026-11-25", **kw):
    api = server.api
    server.clock.advance(minutes=1)  # one contact after the other
    status, _ = await api.call("POST", "/api/callbacks", booking(phone=phone, slot_start=f"{day}T16:00:00+01:00", **kw))
    assert status == 201
    _, work = await api.call("GET", f"/api/agent/callbacks?date={day}", token=token)
    call = next(c for tv in work["tijdvakken"] for c in tv["callbacks"] if c["status"] == "open")
    await api.call("POST", f"/api/agent/callbacks/{call['id']}/claim", token=token)
    await api.call("POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "bereikt"}, token=token)
    status, closed = await api.call(
        "POST", f"/api/agent/callbacks/{call['id']}/close", {"outcome": outcome}, token=token
    )
    assert status == 200
    return closed["handoff_id"]


async def test_repeat_reports_are_linked_and_survive_the_purge(case_server):
    _, token = await agent_token(case_server)
    api = case_server.api
    first = await _callback_closed(case_server, token, "06 12345678", name="Fatima", topic="buurman")
    second = await _callback_closed(case_server, token, "+31612345678")
    other = await _callback_closed(case_server, token, "06 87654321", day="2026-11-26")
    _, cases = await api.call("GET", "/api/agent/cases", token=token)  # all three are this advisor's own
    by_id = {c["id"]: c for c in cases["cases"]}
    assert by_id[second]["hermelding"] is True and by_id[second]["repeat_of"] == first
    assert by_id[other]["hermelding"] is False and by_id[first]["hermelding"] is False
    _, whole = await api.call("GET", f"/api/agent/cases/{first}", token=token)
    assert (
        whole["handoff"]["requests"][0]["topic"] == "buurman"
        and whole["handoff"]["callback"]["phone"] == "+31612345678"
    )
    # A chat melding in which the reporter gave the same number is a repeat report as well.
    _, chat, _, _ = await _chat_closed_as(case_server, {**MELDING, "phone": "0612345678"})
    _, boss = await agent_token(case_server, role="supervisor")
    _, seen = await api.call("GET", f"/api/agent/cases/{chat['handoff_id']}", token=boss)
    assert seen["hermelding"] is True and seen["repeat_of"] == second

    # 31 days later the transcripts are gone, the registrations and their links stay.
    case_server.clock.advance(days=31)
    _, token = await agent_token(case_server)
    _, boss = await agent_token(case_server, role="supervisor")
    for _ in range(50):
        _, whole = await api.call("GET", f"/api/agent/cases/{first}", token=boss)
        if whole["purged"]:
            break
        await asyncio.sleep(0.1)
    assert whole["purged"] is True
    assert "transcript" not in whole["handoff"] and "requests" not in whole["handoff"]
    assert "phone" not in whole["handoff"]["callback"] and "+3161234" not in str(whole)
    # What was decided stays; the summary (what was told) went with the transcript.
    assert whole["handoff"]["outcome"] == {"kind": "melding", "urgency": "midden", "gemeente": "Utrecht"}
    assert whole["deadline"]
    _, chat_after = await api.call("GET", f"/api/agent/cases/{chat['handoff_id']}", token=boss)
    assert "transcript" not in chat_after["handoff"] and "phone" not in chat_after["handoff"]["outcome"]
    later = await _callback_closed(case_server, token, "0612345678", day="2026-12-28")
    _, linked = await api.call("GET", f"/api/agent/cases/{later}", token=boss)
    assert linked["hermelding"] is True and linked["repeat_of"] == chat["handoff_id"]


async def test_bad_outcome_contact_details_close_nothing(case_server):
    _, token = await agent_token(case_server)
    agent = await agent_client(case_server.url, token)
    v = await visitor(case_server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    for outcome, code in (
        ({**MELDING, "phone": "+49 30 1234567"}, "invalid_phone"),
        ({**MELDING, "email": "geen adres"}, "invalid_input"),
    ):
        assert (await agent.call("close", {"conversation_id": cid, "outcome": outcome}))["error"]["code"] == code
    assert (await agent.call("message", {"conversation_id": cid, "client_id": "x", "text": "nog open"}))["seq"] == 1
    _, boss = await agent_token(case_server, role="supervisor")
    _, cases = await case_server.api.call("GET", "/api/agent/cases", token=boss)
    assert cases["cases"] == []
    for c in (v, agent):
        await c.disconnect()


async def test_a_handed_off_outcome_travels_in_the_handoff_not_in_the_conversation(case_server):
    from sqlalchemy import select

    from chat.store import conversations
    from contact.db import Database

    outcome = {**MELDING, "phone": "0612345678", "email": "melder@example.nl"}
    cid, closed, _, _ = await _chat_closed_as(case_server, outcome)
    _, boss = await agent_token(case_server, role="supervisor")
    _, case = await case_server.api.call("GET", f"/api/agent/cases/{closed['handoff_id']}", token=boss)
    assert case["handoff"]["outcome"]["summary"] == "vader slaat" and case["handoff"]["outcome"]["phone"]
    db = Database(case_server.settings.database_url)
    try:
        async with db.read() as conn:
            kept = await conn.scalar(select(conversations.c.outcome).where(conversations.c.id == cid))
    finally:
        await db.dispose()
    assert kept == {"kind": "melding", "urgency": "midden", "gemeente": "Utrecht"}
