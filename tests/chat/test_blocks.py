"""Blocking abusive visitors (chat/blocks.py): a supervisor blocks the visitor of a conversation;
that visitor's new `start` gets the ordinary `closed`, another browser behind the same address
does not; blocks run out with the clock, are listed without hashes, can be lifted, are audited,
and leave no trace in the logs. On a real server with its own database and a clock the test moves."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import structlog
from aiohttp import ClientSession
from sqlalchemy import select

from app import lifecycles
from chat.blocks import VisitorHashes, stops_start
from chat.desk_store import visitor_blocks, visitor_marks
from chat.retention import ChatRecords
from contact.access_log import access_log as access_log_table
from contact.db import Database
from contact.migrate import upgrade
from contact.store import audit_events
from tests.support.server import (
    Client,
    add_agent,
    agent_client,
    clocked_server,
    login,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
)

MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
BROWSER_A = "a" * 43
BROWSER_B = "b" * 43


@pytest.fixture
async def desk(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "blocks.db"))
    # 127.0.0.1 is our proxy: each test visitor says where it comes from in X-Forwarded-For.
    server = await clocked_server(url, MORNING, forwarded_allow_ips="127.0.0.1", outcome_grace_s=600)
    yield server
    # A server stopped while its first election is still starting the scheduler can hang in its
    # shutdown (seen on SQLite when a test takes milliseconds; to be fixed in contact/leader.py):
    # let the election finish first.
    jobs = server.app[lifecycles.JOBS] if server.app is not None else None
    for _ in range(100):
        if jobs is None or jobs.leading:
            break
        await asyncio.sleep(0.05)
    await server.stop()


async def _visitor(server, address: str = "203.0.113.7") -> Client:
    return await Client("/visitor").connect(server.url, headers={"X-Forwarded-For": address})


async def _start(server, browser: str | None, address: str = "203.0.113.7") -> tuple[Client, dict]:
    v = await _visitor(server, address)
    payload = start_payload() if browser is None else start_payload(browser=browser)
    return v, await v.call("start", payload)


async def _api(server, method: str, path: str, token: str, json=None):
    async with ClientSession() as http:
        async with http.request(
            method, f"{server.url}{path}", json=json, headers={"Authorization": f"Bearer {token}"}
        ) as r:
            return r.status, await r.json()


async def _supervisor_with_token(server):
    identity, password = await add_agent(server.settings.database_url, role="supervisor", teams=(), name="Sanne Sup")
    token = await login(server.url, identity.username, password)
    return identity, token, await agent_client(server.url, token)


def test_the_rule_spares_other_browsers_behind_a_shared_address():
    block = {"block_address": "A", "block_browser": "B", "whole_address": False}
    assert stops_start(**block, start=VisitorHashes("A", "B"))
    assert stops_start(**block, start=VisitorHashes("Z", "B"))  # same browser, another address
    assert stops_start(**block, start=VisitorHashes("A", None))  # same address, no browser value
    assert not stops_start(**block, start=VisitorHashes("A", "C"))  # another browser, same address
    assert not stops_start(**block, start=VisitorHashes("Z", None))
    assert stops_start(**{**block, "whole_address": True}, start=VisitorHashes("A", "C"))
    # A visitor who had no browser value: their address without a browser value.
    bare = {"block_address": "A", "block_browser": None, "whole_address": False}
    assert stops_start(**bare, start=VisitorHashes("A", None))
    assert not stops_start(**bare, start=VisitorHashes("A", "C"))


async def test_a_blocked_browser_gets_closed_and_another_browser_on_the_address_does_not(desk, caplog):
    caplog.set_level(logging.INFO)
    server = desk
    with structlog.testing.capture_logs() as structured:
        sup_id, token, sup = await _supervisor_with_token(server)
        v, ack = await _start(server, BROWSER_A)
        cid = ack["conversation_id"]

        reason = "Scheldt de adviseurs uit, derde keer vandaag"
        blocked = await sup.call("block_visitor", {"conversation_id": cid, "hours": 24, "reason": reason})
        assert set(blocked) >= {"block_id"} and blocked["until"].startswith("2026-11-25T09:00")

        await v.call("leave", {})
        # The same browser (the same tab's sessionStorage value) from the same address, and from another.
        for address in ("203.0.113.7", "198.51.100.20"):
            again, answer = await _start(server, BROWSER_A, address)
            assert answer["error"]["code"] == "closed"
            assert answer["error"]["message"] == "De chat is nu gesloten."
            assert answer["error"]["phone"] == "0800-2000" and answer["error"]["emergency"] == "112"
            assert answer["error"]["opens_at"] is None
            # The shape of the answer outside opening hours (tests/chat/test_closed_hours.py).
            assert set(answer["error"]) == {"code", "message", "message_en", "opens_at", "phone", "emergency", "team"}
            assert "block" not in str(answer).lower()
            await again.disconnect()
        # Without a browser value from the blocked address: stopped too.
        bare, answer = await _start(server, None)
        assert answer["error"]["code"] == "closed"
        # Another browser behind the same address (a school, a shelter): may chat.
        other, answer = await _start(server, BROWSER_B)
        assert answer["status"] == "waiting"
        # Nothing of the block in the logs: no reason, no hash, no word "block" at the refusal.
        async with Database(server.settings.database_url).read() as conn:
            block_row = (await conn.execute(select(visitor_blocks))).one()
    logged = caplog.text + "\n".join(str(entry) for entry in structured)
    assert "conversation_started" in logged and "'refused'" in logged  # the logs are captured here
    for secret in (reason, block_row.address_hash, block_row.browser_hash, BROWSER_A, "203.0.113.7"):
        assert secret not in logged
    assert "blocked" not in logged.lower()
    for c in (v, bare, other, sup):
        await c.disconnect()


async def test_a_block_runs_out_with_time_and_can_be_lifted(desk):
    server = desk
    sup_id, token, sup = await _supervisor_with_token(server)
    v, ack = await _start(server, BROWSER_A)
    cid = ack["conversation_id"]
    first = await sup.call("block_visitor", {"conversation_id": cid, "hours": 2, "reason": "Dreigt"})
    status, listed = await _api(server, "GET", "/api/supervisor/blocks", token)
    assert status == 200
    [entry] = listed["blocks"]
    assert entry == {
        "id": first["block_id"],
        "conversation_id": cid,
        "reason": "Dreigt",
        "by": sup_id.id,
        "by_name": "Sanne Sup",
        "until": (MORNING + timedelta(hours=2)).isoformat(),
        "created_at": MORNING.isoformat(),
        "whole_address": False,
    }
    assert "hash" not in str(listed) and "203.0.113" not in str(listed)

    server.clock.advance(hours=2, seconds=1)
    again, answer = await _start(server, BROWSER_A)
    assert answer["status"] == "waiting", answer
    assert (await _api(server, "GET", "/api/supervisor/blocks", token))[1] == {"blocks": []}
    # The retention job empties a block that ran out.
    async with Database(server.settings.database_url).write() as conn:
        await ChatRecords().purge_ended(conn, MORNING - timedelta(days=30), server.clock.now(), 100)
    async with Database(server.settings.database_url).read() as conn:
        row = (await conn.execute(select(visitor_blocks))).one()
    assert row.address_hash is None and row.browser_hash is None and row.reason is None

    # A new block, lifted with DELETE (and POST …/lift answers the same for one already lifted).
    second = await sup.call("block_visitor", {"conversation_id": again_id(answer), "hours": 720, "reason": "Weer"})
    await again.disconnect()
    blocked, refused = await _start(server, BROWSER_A)
    assert refused["error"]["code"] == "closed"
    await blocked.disconnect()
    status, lifted = await _api(server, "DELETE", f"/api/supervisor/blocks/{second['block_id']}", token)
    assert (status, lifted) == (200, {"ok": True, "lifted": True})
    status, lifted = await _api(server, "POST", f"/api/supervisor/blocks/{second['block_id']}/lift", token)
    assert (status, lifted) == (200, {"ok": True, "lifted": False})
    assert (await _api(server, "POST", "/api/supervisor/blocks/nope/lift", token))[0] == 404
    free, answer = await _start(server, BROWSER_A)
    assert answer["status"] == "waiting"

    # Audited: the audit trail and the access log, each block and the lift, never a hash.
    async with Database(server.settings.database_url).read() as conn:
        audit = (
            await conn.execute(
                select(audit_events.c.action, audit_events.c.detail).where(
                    audit_events.c.action.in_(["visitor_blocked", "visitor_unblocked"])
                )
            )
        ).all()
        access = (
            await conn.execute(
                select(access_log_table.c.action, access_log_table.c.contact_id, access_log_table.c.reason)
                .where(access_log_table.c.action.like("visitor_%"))
                .order_by(access_log_table.c.seq)
            )
        ).all()
    assert [a.action for a in audit] == ["visitor_blocked", "visitor_blocked", "visitor_unblocked"]
    assert [e.action for e in access] == [
        "visitor_block",
        "visitor_block_list",
        "visitor_block_list",
        "visitor_block",
        "visitor_unblock",
    ]
    assert access[0].contact_id == cid and access[0].reason == "Dreigt"
    for c in (v, free, sup):
        await c.disconnect()


def again_id(answer: dict) -> str:
    return str(answer["conversation_id"])


async def test_who_may_block_and_what_is_refused(desk):
    server = desk
    identity, _, advisor = await signed_in_agent(server, role="advisor", teams=("jeugd",))
    sup_id, token, sup = await _supervisor_with_token(server)
    v, ack = await _start(server, BROWSER_A)
    cid = ack["conversation_id"]
    good = {"conversation_id": cid, "hours": 1, "reason": "Scheldt"}

    assert (await advisor.call("block_visitor", good))["error"]["code"] == "forbidden"
    bad = [
        {**good, "hours": 0},
        {**good, "hours": 721},
        {**good, "hours": 10000},
        {**good, "hours": "24"},
        {**good, "hours": True},
        {k: v for k, v in good.items() if k != "reason"},
        {**good, "reason": "   "},
        {**good, "reason": "x" * 501},
        {**good, "reason": "a\x00b"},
        {**good, "whole_address": True, "hours": 25},
        {**good, "extra": 1},
    ]
    for payload in bad:
        answer = await sup.call("block_visitor", payload)
        assert answer["error"]["code"] == "invalid_input", payload
    assert (await sup.call("block_visitor", {**good, "conversation_id": "no-such"}))["error"]["code"] == "not_found"
    async with Database(server.settings.database_url).read() as conn:
        assert (await conn.execute(select(visitor_blocks))).all() == []

    # Closed: blockable while its holder may still record the outcome, not after.
    await v.call("leave", {})
    within = await sup.call("block_visitor", good)
    assert "block_id" in within
    server.clock.advance(seconds=server.settings.outcome_grace_s + 1)
    late = await sup.call("block_visitor", good)
    assert late["error"]["code"] == "closed"
    for c in (v, advisor, sup):
        await c.disconnect()


async def test_advisors_cannot_list_or_lift(desk):
    server = desk
    identity, password = await add_agent(server.settings.database_url, role="advisor", teams=("jeugd",))
    token = await login(server.url, identity.username, password)
    assert (await _api(server, "GET", "/api/supervisor/blocks", token))[0] == 403
    assert (await _api(server, "DELETE", "/api/supervisor/blocks/x", token))[0] == 403
    assert (await _api(server, "POST", "/api/supervisor/blocks/x/lift", token))[0] == 403


async def test_the_visitor_hashes_go_with_the_conversation_purge(desk):
    server = desk
    v, ack = await _start(server, BROWSER_A)
    cid = ack["conversation_id"]
    db = Database(server.settings.database_url)
    async with db.read() as conn:
        mark = (await conn.execute(select(visitor_marks).where(visitor_marks.c.conversation_id == cid))).one()
    assert len(mark.address_hash) == 64 and len(mark.browser_hash) == 64
    assert BROWSER_A not in (mark.address_hash, mark.browser_hash)
    async with db.write() as conn:
        await ChatRecords().purge(conn, cid, server.clock.now())
    async with db.read() as conn:
        assert (await conn.execute(select(visitor_marks).where(visitor_marks.c.conversation_id == cid))).all() == []
    await v.disconnect()


@pytest.mark.parametrize("browser", ["short", "x" * 65, "a" * 20 + "!", "a" * 20 + " ", 12345678901234567])
async def test_a_bad_browser_value_is_invalid_input(desk, browser):
    v = await _visitor(desk)
    answer = await v.call("start", start_payload(browser=browser))
    assert answer["error"]["code"] == "invalid_input"
    await v.disconnect()


async def test_the_same_rules_on_postgresql(postgres):
    url = postgres.create_database(f"blocks_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    server = await clocked_server(url, MORNING, forwarded_allow_ips="127.0.0.1")
    try:
        _, token, sup = await _supervisor_with_token(server)
        v, ack = await _start(server, BROWSER_A)
        block = await sup.call(
            "block_visitor", {"conversation_id": ack["conversation_id"], "hours": 3, "reason": "Dreigt"}
        )
        again, refused = await _start(server, BROWSER_A, "198.51.100.20")
        assert refused["error"]["code"] == "closed"
        other, allowed = await _start(server, BROWSER_B)
        assert allowed["status"] == "waiting"
        assert [b["id"] for b in (await _api(server, "GET", "/api/supervisor/blocks", token))[1]["blocks"]] == [
            block["block_id"]
        ]
        server.clock.advance(hours=3)
        later, answer = await _start(server, BROWSER_A)
        assert answer["status"] == "waiting"
        for c in (v, again, other, later, sup):
            await c.disconnect()
    finally:
        await server.stop()
