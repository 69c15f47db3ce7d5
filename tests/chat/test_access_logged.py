"""Every read of a conversation's content by an agent is an entry in the access log (NEN 7513):
the accept snapshot, `history`, reading along (with its reason), taking a crisis on, and a
dossier read whole; and when the entry cannot be written the agent gets an error, not the
content (no entry, no data)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from aiohttp import ClientSession
from sqlalchemy import text

from contact.access_log import AccessLog, verify
from contact.clock import ManualClock
from contact.db import Database
from contact.keys import Keys
from tests.support.server import clocked_server, login, migrated_sqlite, signed_in_agent, start_payload, visitor

MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def desk(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "logged.db"))
    server = await clocked_server(url, MORNING, hash_key="h" * 32, crisis_check_s=0.1)
    yield server
    await server.stop()


async def _entries(url: str, contact_id: str) -> list[tuple[str, str | None, str | None]]:
    db = Database(url)
    try:
        log = AccessLog(db, ManualClock(MORNING), Keys(b"h" * 32))
        return [(e["action"], e["agent_id"], e["reason"]) for e in await log.search(contact_id=contact_id)]
    finally:
        await db.dispose()


async def _break_the_log(url: str) -> None:
    db = Database(url)
    try:
        async with db.write() as conn:
            await conn.execute(text("DELETE FROM access_log_head"))
    finally:
        await db.dispose()


async def test_each_read_of_a_conversation_is_logged_and_none_without_its_entry(desk):
    server = desk
    url = server.settings.database_url
    holder, _, console = await signed_in_agent(server, teams=("jeugd",))
    boss, boss_password, supervisor = await signed_in_agent(server, role="supervisor", teams=("jeugd",))
    crisis, _, crisis_console = await signed_in_agent(server, role="crisis", teams=("crisis",))
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    accepted = await console.call("accept", {"conversation_id": cid})
    assert accepted["conversation"]["id"] == cid
    await v.call("message", {"client_id": "1", "text": "hij slaat mij met een mes"})
    history = await console.call("history", {"conversation_id": cid})
    assert history["conversation"]["messages"]
    along = await supervisor.call("read_along", {"conversation_id": cid, "reason": "steekproef kwaliteit"})
    assert along["read_along"] is True
    refused = await console.call("history", {"conversation_id": "no-such-conversation"})
    assert refused["error"]["code"] == "not_found"  # nothing read, nothing logged

    await console.call("escalate", {"conversation_id": cid, "reason": "mes"})
    await crisis_console.wait_for("crisis_alert", lambda a: a["conversation_id"] == cid)
    acked = await crisis_console.call("ack_crisis", {"conversation_id": cid})
    assert "conversation" in acked

    assert await _entries(url, cid) == [
        ("conversation_accept", holder.id, None),
        ("conversation_history", holder.id, None),
        ("read_along", boss.id, "supervision: steekproef kwaliteit"),
        ("conversation_accept", crisis.id, "crisis"),
    ]
    assert await _entries(url, "no-such-conversation") == []
    db = Database(url)
    try:
        assert (await verify(db, b"h" * 32)).ok
    finally:
        await db.dispose()

    # A dossier read whole is logged too.
    await console.call(
        "close",
        {"conversation_id": cid, "outcome": {"kind": "advies", "summary": "advies gegeven", "expertise": []}},
    )
    token = await login(server.url, boss.username, boss_password)
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/agent/cases", headers={"Authorization": f"Bearer {token}"}) as r:
            cases = (await r.json())["cases"]
        case_id = next(c["id"] for c in cases)
        async with http.get(
            f"{server.url}/api/agent/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status == 200
        assert await _entries(url, case_id) == [("case_view", boss.id, None)]

        assert "conversation" in await console.call("history", {"conversation_id": cid})
        # The log cannot be written: no content goes out.
        await _break_the_log(url)
        failed = await console.call("history", {"conversation_id": cid})
        assert failed["error"]["code"] == "internal" and "conversation" not in failed
        # Before the break the same call answered: it is the missing entry that refused it.
        async with http.get(
            f"{server.url}/api/agent/cases/{case_id}", headers={"Authorization": f"Bearer {token}"}
        ) as r:
            assert r.status >= 500 and "handoff" not in await r.json()
    for client in (v, console, supervisor, crisis_console):
        await client.disconnect()
