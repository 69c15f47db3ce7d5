"""Advisors' feedback on risk signals through the real server: `risk_feedback` on /agent, the
supervisors' per-concept figures and the export over HTTP, on SQLite and PostgreSQL; bad input
in the error shape; the export audited and without purged messages."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from contact.clock import ManualClock
from contact.db import Database
from contact.migrate import upgrade
from contact.store import audit_events
from tests.callback.conftest import Api, agent_token
from tests.support.server import (
    RunningServer,
    agent_client,
    make_settings,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

# Tuesday 24 November 2026, 10:00 in Amsterdam.
TUESDAY_10 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
HIT = "mijn vader slaat mij"  # geweld + slachtoffer, hoog
QUIET = "ik heb een leuke kat"
CONCEPT = "geweld + slachtoffer"
MELDING = {"kind": "melding", "summary": "vader slaat", "urgency": "midden", "gemeente": "Utrecht"}


@pytest.fixture(params=["sqlite", "postgres"])
async def fb_server(request, tmp_path) -> AsyncIterator[RunningServer]:
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path / "fb.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"fb_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    clock = ManualClock(TUESDAY_10)
    server = await RunningServer(
        make_settings(url, callback_check_s=0.1, hash_key="h" * 32, retention_days=30), clock
    ).start()
    server.clock = clock  # type: ignore[attr-defined]
    async with ClientSession() as http:
        server.api = Api(server.url, http)  # type: ignore[attr-defined]
        yield server
    await server.stop()


async def _held_chat(server, agent, *texts):
    """A visitor in a chat `agent` accepted, who sent `texts`; the conversation id and their seqs."""
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await agent.call("accept", {"conversation_id": cid})
    seqs = []
    for i, text in enumerate(texts):
        seqs.append((await v.call("message", {"client_id": str(i), "text": text}))["seq"])
    return v, cid, seqs


async def _audits(server, action):
    db = Database(server.settings.database_url)
    try:
        async with db.read() as conn:
            return (await conn.execute(select(audit_events).where(audit_events.c.action == action))).all()
    finally:
        await db.dispose()


async def test_marks_count_per_concept_and_the_export_is_audited_and_leaves_purged_messages_out(fb_server):
    server = fb_server
    api = server.api
    identity, token = await agent_token(server)
    agent = await agent_client(server.url, token)
    v, cid, (hit, quiet) = await _held_chat(server, agent, HIT, QUIET)
    # The risk event names the message it is about.
    risk = await agent.wait_for("risk", lambda r: r["conversation_id"] == cid)
    assert risk["seq"] == hit and any(c["concept"] == CONCEPT for c in risk["concepts"])

    # The history names each visitor message's signal (for the console after a reload).
    history = (await agent.call("history", {"conversation_id": cid}))["conversation"]["messages"]
    assert [m.get("risk", {}).get("level") for m in history] == ["hoog", None]
    assert history[0]["risk"]["concepts"][0]["concept"] == CONCEPT

    wrong = {"conversation_id": cid, "seq": hit, "kind": "wrong", "concept": CONCEPT}
    assert await agent.call("risk_feedback", wrong) == {"ok": True}
    assert await agent.call("risk_feedback", wrong) == {"ok": True}  # double submit: no second mark
    missed = {"conversation_id": cid, "seq": quiet, "kind": "missed"}
    assert await agent.call("risk_feedback", missed) == {"ok": True}
    assert len(await _audits(server, "risk_feedback")) == 2

    # The figures: only for supervisors and admins.
    _, boss = await agent_token(server, role="supervisor")
    path = "/api/supervisor/risk/concepts?from=2026-11-24&to=2026-11-24"
    assert (await api.call("GET", path))[0] == 401
    status, body = await api.call("GET", path, token=token)
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = await api.call("GET", path, token=boss)
    assert status == 200
    by = {c["concept"]: c for c in body["concepts"]}
    assert by[CONCEPT] == {"concept": CONCEPT, "fired": 1, "marked_wrong": 1, "reported_missed": 0}
    assert by[None]["reported_missed"] == 1

    # The export as CSV: the text, the kind, the concept, the level, the date; the marker's role only.
    status, text = await api.call("GET", "/api/supervisor/risk/feedback?format=csv", token=boss)
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["date", "kind", "concept", "level", "agent_role", "text"]
    assert sorted((r["kind"], r["concept"], r["level"], r["text"]) for r in rows) == [
        ("missed", "", "", QUIET),
        ("wrong", CONCEPT, "hoog", HIT),
    ]
    assert {r["date"] for r in rows} == {"2026-11-24"} and {r["agent_role"] for r in rows} == {"advisor"}
    assert identity.name not in text and identity.id not in text and cid not in text
    status, body = await api.call("GET", "/api/supervisor/risk/feedback?format=json", token=boss)
    assert status == 200 and len(body["examples"]) == 2
    exports = await _audits(server, "risk_feedback_export")
    assert [(e.detail["rows"], e.detail["format"]) for e in exports] == [(2, "csv"), (2, "json")]

    # After the retention purge the examples leave the export; the counts stay.
    closed = await agent.call("close", {"conversation_id": cid, "outcome": MELDING})
    assert closed["ok"] is True
    for c in (v, agent):
        await c.disconnect()
    server.clock.advance(days=31)
    _, boss = await agent_token(server, role="supervisor")
    for _ in range(100):
        _, body = await api.call("GET", "/api/supervisor/risk/feedback?format=json", token=boss)
        if not body["examples"]:
            break
        await asyncio.sleep(0.1)
    assert body["examples"] == []
    status, text = await api.call("GET", "/api/supervisor/risk/feedback?format=csv", token=boss)
    assert status == 200 and text.strip() == "date,kind,concept,level,agent_role,text"
    _, body = await api.call("GET", path, token=boss)
    assert {c["concept"]: c for c in body["concepts"]}[CONCEPT]["marked_wrong"] == 1


async def test_bad_feedback_is_refused_in_the_error_shape(server):
    _, _, agent = await signed_in_agent(server)
    _, _, colleague = await signed_in_agent(server)
    v, cid, (hit, quiet) = await _held_chat(server, agent, HIT, QUIET)
    mine = (await agent.call("message", {"conversation_id": cid, "client_id": "a", "text": "Dank je."}))["seq"]
    ok = {"conversation_id": cid, "seq": hit, "kind": "wrong", "concept": CONCEPT}
    cases = [
        ({**ok, "conversation_id": str(uuid.uuid4())}, "not_found", agent),
        (ok, "forbidden", colleague),
        ({**ok, "seq": mine, "kind": "missed", "concept": None}, "invalid_input", agent),
        ({**ok, "seq": 2**31}, "invalid_input", agent),
        ({**ok, "seq": 0}, "invalid_input", agent),
        ({**ok, "seq": "1"}, "invalid_input", agent),
        ({**ok, "seq": 9999}, "not_found", agent),
        ({**ok, "concept": "wapen"}, "invalid_input", agent),
        ({**ok, "seq": quiet}, "invalid_input", agent),
        ({**ok, "kind": "maybe"}, "invalid_input", agent),
        ({"conversation_id": cid, "seq": hit, "kind": "wrong"}, "invalid_input", agent),
        ({**ok, "extra": 1}, "invalid_input", agent),
        ({**ok, "concept": "x" * 201}, "invalid_input", agent),
        ({**ok, "concept": "wa\x00pen"}, "invalid_input", agent),
        ({**ok, "kind": "missed", "concept": "geen concept"}, "invalid_input", agent),
        ("junk", "invalid_input", agent),
    ]
    for payload, code, who in cases:
        answer = await who.call("risk_feedback", payload)
        assert answer["error"]["code"] == code, (payload, answer)
        assert answer["error"]["message"]
    for c in (v, agent, colleague):
        await c.disconnect()


async def test_http_bad_queries_are_refused(server):
    _, boss = await agent_token(server, role="admin")
    async with ClientSession() as http:
        api = Api(server.url, http)
        for path in (
            "/api/supervisor/risk/concepts?from=2026-13-01",
            "/api/supervisor/risk/concepts?from=2026-12-02&to=2026-12-01",
            "/api/supervisor/risk/concepts?from=2024-01-01&to=2026-12-01",
            "/api/supervisor/risk/concepts?to=1&to=2",
            "/api/supervisor/risk/concepts?from=２０２６-12-01",
            "/api/supervisor/risk/feedback?format=xml",
        ):
            status, body = await api.call("GET", path, token=boss)
            assert status == 422 and body["error"]["code"] == "invalid_input", path
        status, body = await api.call("GET", "/api/supervisor/risk/feedback", token="nonsense")
        assert status == 401 and body["error"]["code"] == "unauthorized"
        status, body = await api.call("GET", "/api/supervisor/risk/concepts", token=boss)
        assert status == 200 and isinstance(body["concepts"], list)
