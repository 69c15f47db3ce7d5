"""The advisors' workplace on a real server (issue 17): status (beschikbaar, pauze, nawerk,
offline) and what it does to push offers, the supervisors' board, reading along, whispers and
a supervisor's take-over. Time is moved by the test (the server's injected clock)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from callback.store import callbacks
from chat.workplace_store import nawerk_periods
from contact.access_log import AccessLog
from contact.clock import ManualClock
from contact.db import Database
from contact.keys import Keys
from contact.store import audit_events
from routing.rules import DEFAULT_RULES
from tests.support.server import (
    agent_client,
    clocked_server,
    login,
    migrated_sqlite,
    signed_in_agent,
    start_payload,
    visitor,
)

MORNING = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.fixture
async def desk(tmp_path):
    """Push mode for the youth team, short offers, nawerk 60 s (300 s after a melding or crisis)."""
    rules = DEFAULT_RULES.read_text(encoding="utf-8")
    youth = '[teams.jeugd]\nname = "Jeugd"\noverflow_after_s = 120\n'
    assert youth in rules
    routing_file = tmp_path / "routing.toml"
    routing_file.write_text(rules.replace(youth, youth + "push = true\n"), encoding="utf-8")
    url = await migrated_sqlite(str(tmp_path / "workplace.db"))
    server = await clocked_server(
        url,
        MORNING,
        routing_file=str(routing_file),
        push_offer_timeout_s=30,
        push_check_s=0.1,
        hash_key="h" * 32,
        nawerk_s=60,
        nawerk_after_melding_s=300,
        board_every_s=0.1,
    )
    yield server
    await server.stop()


async def _audit(url: str, action: str) -> list[dict]:
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(audit_events).where(audit_events.c.action == action))).all()
    finally:
        await db.dispose()
    return [{"actor": r.actor, "conversation_id": r.conversation_id, **r.detail} for r in rows]


async def _overdue_callback(url: str) -> None:
    """One callback whose tijdvak ended an hour ago and that nobody called yet."""
    db = Database(url)
    try:
        async with db.write() as conn:
            await conn.execute(
                insert(callbacks).values(
                    id="cb-overdue",
                    kind="terugbellen",
                    slot_start=MORNING - timedelta(hours=2),
                    slot_end=MORNING - timedelta(hours=1),
                    phone="+31612345678",
                    phone_hash="h",
                    caller_type="volwassene",
                    voicemail_ok=False,
                    status="open",
                    attempts=0,
                    created_at=MORNING - timedelta(days=1),
                )
            )
    finally:
        await db.dispose()


async def _no(client, event, predicate=None, wait=0.4) -> bool:
    await asyncio.sleep(wait)
    return not any(predicate is None or predicate(d) for d in client.events.get(event, []))


async def test_status_is_validated_stored_and_set_by_a_supervisor_for_a_colleague(desk):
    server = desk
    me, password, console = await signed_in_agent(server, name="Anouk Visser")
    colleague, _, other = await signed_in_agent(server, name="Bram Bos")
    _, _, boss = await signed_in_agent(server, role="supervisor", teams=(), name="Sanne Chef")

    first = await console.wait_for("agent_status")
    assert first["status"] == "beschikbaar" and first["agent_id"] == me.id
    assert (await console.call("sync", {}))["status"]["status"] == "beschikbaar"

    for bad in ({"status": "weg"}, {"status": ""}, {}, {"status": 3}, {"status": "pauze", "x": 1}, "pauze"):
        answer = await console.call("set_status", bad)
        assert answer["error"]["code"] == "invalid_input", bad

    paused = await console.call("set_status", {"status": "pauze"})
    assert paused["ok"] is True and paused["status"] == "pauze" and paused["since"] and paused["until"] is None
    # An advisor may not set a colleague's status; a supervisor may, and the colleague is told by whom.
    refused = await console.call("set_status", {"status": "pauze", "agent_id": colleague.id})
    assert refused["error"]["code"] == "forbidden"
    assert (await boss.call("set_status", {"status": "offline", "agent_id": "nobody"}))["error"]["code"] == "not_found"
    set_by_boss = await boss.call("set_status", {"status": "pauze", "agent_id": colleague.id})
    assert set_by_boss["status"] == "pauze"
    told = await other.wait_for("agent_status", lambda d: d["status"] == "pauze")
    assert told["by"] == {"name": "Sanne Chef"}

    # Audited, with who set it; a new login starts available.
    await console.disconnect()
    audit = await _audit(server.settings.database_url, "agent_status")
    assert [(a["agent_id"], a["status"], a["previous"]) for a in audit] == [
        (me.id, "pauze", "beschikbaar"),
        (colleague.id, "pauze", "beschikbaar"),
    ]
    assert audit[0]["actor"] == f"agent:{me.id}" and audit[1]["actor"] != f"agent:{colleague.id}"
    fresh = await agent_client(server.url, await login(server.url, me.username, password))
    assert (await fresh.wait_for("agent_status"))["status"] == "beschikbaar"
    for c in (fresh, other, boss):
        await c.disconnect()


async def test_a_reload_keeps_a_break_of_the_same_login(desk):
    server = desk
    me, password, _ = await signed_in_agent(server)
    token = await login(server.url, me.username, password)
    console = await agent_client(server.url, token)
    await console.call("set_status", {"status": "pauze"})
    await console.disconnect()
    reloaded = await agent_client(server.url, token)
    assert (await reloaded.wait_for("agent_status"))["status"] == "pauze"
    assert (await reloaded.call("sync", {}))["status"]["status"] == "pauze"
    await reloaded.disconnect()


async def test_push_skips_pause_and_nawerk_and_offers_again_when_nawerk_ends(desk):
    server = desk
    _, _, paused = await signed_in_agent(server)
    _, _, worker = await signed_in_agent(server)
    assert (await paused.call("set_status", {"status": "pauze"}))["ok"] is True

    v1 = await visitor(server.url)
    cid1 = (await v1.call("start", start_payload()))["conversation_id"]
    await worker.wait_for("offer", lambda o: o["conversation_id"] == cid1)
    assert await _no(paused, "offer")
    await worker.call("accept", {"conversation_id": cid1})
    closed = await worker.call("close", {"conversation_id": cid1, "outcome": {"kind": "geen"}})
    assert closed["ok"] is True
    nawerk = await worker.wait_for("agent_status", lambda d: d["status"] == "nawerk")
    assert nawerk["until"] == "2026-11-24T09:01:00+00:00"

    # The only available agent is in nawerk, the other on a break: nobody gets the next offer.
    v2 = await visitor(server.url)
    cid2 = (await v2.call("start", start_payload()))["conversation_id"]
    assert await _no(worker, "offer", lambda o: o["conversation_id"] == cid2)
    assert await _no(paused, "offer", lambda o: o["conversation_id"] == cid2, wait=0)
    # Nawerk ends by itself (the scheduler offers again within its check interval)...
    server.clock.advance(seconds=60)
    await worker.wait_for("offer", lambda o: o["conversation_id"] == cid2)
    await worker.call("accept", {"conversation_id": cid2})
    # ...or early, by the advisor; a melding gives a longer nawerk.
    melding = {"kind": "melding", "summary": "Zorgen om thuis", "urgency": "midden", "gemeente": "Utrecht"}
    closed = await worker.call("close", {"conversation_id": cid2, "outcome": melding})
    assert "error" not in closed, closed
    longer = await worker.wait_for("agent_status", lambda d: d["until"] == "2026-11-24T09:06:00+00:00")
    assert longer["status"] == "nawerk"
    v3 = await visitor(server.url)
    cid3 = (await v3.call("start", start_payload()))["conversation_id"]
    assert await _no(worker, "offer", lambda o: o["conversation_id"] == cid3)
    ended = await worker.call("set_status", {"status": "beschikbaar"})
    assert ended["status"] == "beschikbaar"
    await worker.wait_for("offer", lambda o: o["conversation_id"] == cid3)
    # Back from the break: offers come again.
    await paused.call("set_status", {"status": "beschikbaar"})
    for c in (v1, v2, v3, paused, worker):
        await c.disconnect()


async def _periods(url: str) -> list[tuple[str, int, int | None]]:
    """The nawerk periods (conversation, planned seconds, seconds until it ended early)."""
    db = Database(url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(nawerk_periods).order_by(nawerk_periods.c.started_at))).all()
    finally:
        await db.dispose()
    return [
        (
            r.conversation_id,
            round((r.planned_end - r.started_at).total_seconds()),
            None if r.ended_at is None else round((r.ended_at - r.started_at).total_seconds()),
        )
        for r in rows
    ]


async def _offered_chat(server, console) -> tuple[str, object]:
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await console.wait_for("offer", lambda o: o["conversation_id"] == cid)
    assert "conversation" in await console.call("accept", {"conversation_id": cid})
    return cid, v


async def test_nawerk_periods_for_the_figures_end_early_or_run_their_planned_time(desk):
    server = desk
    me, password, console = await signed_in_agent(server)
    melding = {"kind": "melding", "summary": "Zorgen om thuis", "urgency": "midden", "gemeente": "Utrecht"}
    # A nawerk ended early by a break; one replaced by the longer nawerk of the next close.
    c1, v1 = await _offered_chat(server, console)
    c2, v2 = await _offered_chat(server, console)
    c3, v3 = await _offered_chat(server, console)
    assert (await console.call("close", {"conversation_id": c1, "outcome": {"kind": "geen"}}))["ok"] is True
    server.clock.advance(seconds=10)
    assert (await console.call("set_status", {"status": "pauze"}))["status"] == "pauze"
    # On a break a close starts no nawerk (and no period).
    assert (await console.call("close", {"conversation_id": c2, "outcome": {"kind": "geen"}}))["ok"] is True
    assert await _periods(server.settings.database_url) == [(c1, 60, 10)]
    assert (await console.call("set_status", {"status": "beschikbaar"}))["status"] == "beschikbaar"
    c4, v4 = await _offered_chat(server, console)
    assert (await console.call("close", {"conversation_id": c3, "outcome": {"kind": "geen"}}))["ok"] is True
    server.clock.advance(seconds=5)
    assert "error" not in await console.call("close", {"conversation_id": c4, "outcome": melding})
    # The longer nawerk of the next close (a melding) replaced the running one.
    assert await _periods(server.settings.database_url) == [(c1, 60, 10), (c3, 60, 5), (c4, 300, None)]
    # A new login starts beschikbaar: the running nawerk ends.
    server.clock.advance(seconds=7)
    again = await agent_client(server.url, await login(server.url, me.username, password))
    assert (await again.wait_for("agent_status"))["status"] == "beschikbaar"
    assert (await _periods(server.settings.database_url))[-1] == (c4, 300, 7)
    # Nawerk chosen by hand belongs to no close: not a period; one that ran out keeps its planned end.
    assert (await again.call("set_status", {"status": "nawerk"}))["status"] == "nawerk"
    server.clock.advance(seconds=400)
    assert (await again.call("set_status", {"status": "offline"}))["status"] == "offline"
    assert await _periods(server.settings.database_url) == [(c1, 60, 10), (c3, 60, 5), (c4, 300, 7)]
    for c in (v1, v2, v3, v4, console, again):
        await c.disconnect()


async def test_the_board_shows_everything_but_text_and_follows_changes(desk):
    server = desk
    holder, _, console = await signed_in_agent(server, name="Anouk Visser")
    _, _, boss = await signed_in_agent(server, role="supervisor", teams=(), name="Sanne Chef")
    refused = await console.call("board", {})
    assert refused["error"]["code"] == "forbidden"
    assert (await boss.call("board", {"x": 1}))["error"]["code"] == "invalid_input"

    v = await visitor(server.url)
    cid = (await v.call("start", start_payload(topic="geheim onderwerp")))["conversation_id"]
    await console.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "hij slaat mij elke avond"})
    await console.call("message", {"conversation_id": cid, "client_id": "a1", "text": "Wat naar. Ben je veilig?"})
    waiting = await visitor(server.url)
    wid = (await waiting.call("start", start_payload(caller_type="volwassene")))["conversation_id"]
    await console.call("set_status", {"status": "pauze"})

    await _overdue_callback(server.settings.database_url)
    board = await boss.call("board", {})
    flat = json.dumps(board)
    for secret in ("slaat", "veilig", "geheim onderwerp", "+31612345678"):
        assert secret not in flat
    rows = {c["id"]: c for c in board["conversations"]}
    assert rows[cid]["status"] == "active" and rows[cid]["holder"] == {"id": holder.id, "name": "Anouk Visser"}
    assert rows[cid]["accepted_at"] and rows[cid]["visitor_present"] is True and rows[cid]["crisis"] is None
    assert rows[cid]["risk"] in ("zorg", "hoog", "acuut")
    assert rows[wid]["status"] == "waiting" and rows[wid]["holder"] is None and rows[wid]["waiting_since"]
    me = next(a for a in board["agents"] if a["id"] == holder.id)
    assert me["status"] == "pauze" and me["load"] == 1 and me["limit"] == 3 and me["online"] is True
    assert me["teams"] == ["jeugd"] and me["since"]
    team = next(t for t in board["teams"] if t["team"] == rows[wid]["team"])
    assert team["waiting"] == 1 and team["oldest_waiting_since"] == rows[wid]["waiting_since"]
    assert board["crises"] == [] and board["callbacks"] == {"overdue": 1, "oldest_due": "2026-11-24T08:00:00+00:00"}

    # A crisis: open on the board with its alarm time, until someone takes it on.
    await console.call("escalate", {"conversation_id": cid, "reason": "Hij dreigt"})
    alarmed = await boss.call("board", {})
    crisis = next(c for c in alarmed["conversations"] if c["id"] == cid)["crisis"]
    assert crisis["escalated_at"] and crisis["acknowledged_at"] is None and alarmed["crises"] == [cid]
    assert "dreigt" not in json.dumps(alarmed)
    assert (await boss.call("ack_crisis", {"conversation_id": cid}))["ok"] is True
    taken = await boss.call("board", {})
    crisis = next(c for c in taken["conversations"] if c["id"] == cid)["crisis"]
    assert crisis["acknowledged_at"] and crisis["acknowledged_by"] == "Sanne Chef" and taken["crises"] == []

    # Live: the visitor goes, the advisor disconnects: the board follows within a moment.
    await v.disconnect()
    gone = await boss.wait_for(
        "board", lambda b: any(c["id"] == cid and not c["visitor_present"] for c in b["conversations"])
    )
    assert "slaat" not in json.dumps(gone)
    await console.disconnect()
    offline = await boss.wait_for(
        "board", lambda b: any(a["id"] == holder.id and a["status"] == "offline" for a in b["agents"])
    )
    assert next(a for a in offline["agents"] if a["id"] == holder.id)["online"] is False
    for c in (waiting, boss):
        await c.disconnect()


async def test_reading_along_whispering_and_taking_over_by_a_supervisor(desk):
    server = desk
    url = server.settings.database_url
    holder, _, console = await signed_in_agent(server, name="Anouk Visser")
    _, _, colleague = await signed_in_agent(server, name="Bram Bos")
    boss_id, _, boss = await signed_in_agent(server, role="supervisor", teams=(), name="Sanne Chef")
    v = await visitor(server.url)
    cid = (await v.call("start", start_payload()))["conversation_id"]
    await console.call("accept", {"conversation_id": cid})
    await v.call("message", {"client_id": "1", "text": "mijn stiefvader schreeuwt"})

    # An advisor may not read along or whisper.
    assert (await colleague.call("read_along", {"conversation_id": cid}))["error"]["code"] == "forbidden"
    refused = await colleague.call("whisper", {"conversation_id": cid, "text": "hoi"})
    assert refused["error"]["code"] == "forbidden"

    seen = await boss.call("read_along", {"conversation_id": cid})
    assert [m["text"] for m in seen["conversation"]["messages"]] == ["mijn stiefvader schreeuwt"]
    reader = await console.wait_for("reader", lambda d: d["conversation_id"] == cid)
    assert reader["by_name"] == "Sanne Chef"
    await v.call("message", {"client_id": "2", "text": "hij is dronken"})
    await boss.wait_for("message", lambda m: m["conversation_id"] == cid and m["text"] == "hij is dronken")
    # Read-only: a reader cannot write or close.
    assert (await boss.call("message", {"conversation_id": cid, "client_id": "s", "text": "x"}))["error"]["code"] == (
        "forbidden"
    )
    assert (await boss.call("close", {"conversation_id": cid, "outcome": {"kind": "geen"}}))["error"]["code"] == (
        "forbidden"
    )

    # A whisper: only the holder gets it.
    for bad in (
        {"conversation_id": cid, "text": ""},
        {"conversation_id": cid, "text": "   "},
        {"conversation_id": cid, "text": "x" * 2001},
        {"conversation_id": cid},
    ):
        assert (await boss.call("whisper", bad))["error"]["code"] == "invalid_input"
    whispered = await boss.call("whisper", {"conversation_id": cid, "text": "Vraag naar school."})
    assert whispered["id"]
    got = await console.wait_for("whisper", lambda w: w["conversation_id"] == cid)
    assert got["text"] == "Vraag naar school." and got["from"] == {"name": "Sanne Chef"}
    assert await _no(v, "whisper") and await _no(colleague, "whisper", wait=0)
    assert not any("school" in json.dumps(e) for evs in v.events.values() for e in evs)
    # Stored: the holder sees it after a reload; never in what the visitor gets back.
    history = await console.call("history", {"conversation_id": cid})
    assert [w["text"] for w in history["conversation"]["whispers"]] == ["Vraag naar school."]
    assert all("school" not in m["text"] for m in history["conversation"]["messages"])
    audit = await _audit(url, "whisper")
    assert audit == [
        {"actor": f"agent:{boss_id.id}", "conversation_id": cid, "to": holder.id, "length": len("Vraag naar school.")}
    ]

    # Stop reading along: the holder is told, the messages stop.
    assert (await boss.call("read_along_stop", {"conversation_id": cid})) == {"ok": True}
    stopped = await console.wait_for("read_along_stopped", lambda d: d["conversation_id"] == cid)
    assert stopped["by_name"] == "Sanne Chef"
    await v.call("message", {"client_id": "3", "text": "nu stil"})
    assert await _no(boss, "message", lambda m: m["text"] == "nu stil")

    # A reader whose console goes stops reading along too.
    _, _, second = await signed_in_agent(server, role="supervisor", teams=(), name="Tom Tweede")
    await second.call("read_along", {"conversation_id": cid})
    await second.disconnect()
    await console.wait_for("read_along_stopped", lambda d: d["by_name"] == "Tom Tweede")

    # Take over: the visitor hears of the transfer and sees the new name.
    await boss.call("read_along", {"conversation_id": cid})
    await console.disconnect()
    taken = await boss.call("take_over", {"conversation_id": cid})
    assert taken["state"] == "taken"
    await v.wait_for("transfer")
    await v.wait_for("assigned", lambda a: a["agent"]["name"] == "Sanne")
    assert (await boss.call("message", {"conversation_id": cid, "client_id": "s1", "text": "Met Sanne."}))["seq"]
    assert [a["how"] for a in await _audit(url, "taken_over")] == ["holder_offline"]

    # The access log has each read along (NEN 7513).
    db = Database(url)
    try:
        log = AccessLog(db, ManualClock(MORNING), Keys(b"h" * 32))
        entries = [(e["action"], e["agent_id"]) for e in await log.search(contact_id=cid)]
    finally:
        await db.dispose()
    assert entries.count(("read_along", boss_id.id)) == 2
    for c in (v, colleague, boss):
        await c.disconnect()
