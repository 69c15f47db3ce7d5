"""Management figures on a real server with the clock moved by the test: a scripted Monday
(chats, a crisis, callbacks, meldingen, a repeat report) and a chat just after midnight Dutch
time, with the expected numbers worked out by hand; week and month grouping; sealing, the
retention purge and even lost rows leave the figures unchanged; CSV; roles; bad input."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientSession
from sqlalchemy import delete, select, update

from agent_console import figures_http
from agent_console.figures_model import COLUMNS
from agent_console.figures_store import figures_days
from app.services import figures_service
from cases import http as cases_http
from chat.store import conversations
from chat.workplace_store import nawerk_periods
from contact.clock import ManualClock
from contact.db import Database
from contact.migrate import upgrade
from contact.store import audit_events
from tests.support.server import (
    RunningServer,
    add_agent,
    agent_client,
    login,
    make_settings,
    migrated_sqlite,
    visitor,
)
from tests.support.server import start_payload as chat_start

# Monday 30 November 2026, 08:00 in Amsterdam (UTC+1).
MONDAY_8 = datetime(2026, 11, 30, 7, 0, tzinfo=UTC)
MELDING = {
    "kind": "melding", "summary": "vader slaat", "urgency": "midden", "gemeente": "Utrecht", "phone": "0612345678"
}  # fmt: skip
ADVIES = {"kind": "advies", "summary": "tips gegeven"}


async def _get(server: RunningServer, query: str, token: str | None) -> tuple[int, Any, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with ClientSession() as http:
        async with http.get(f"{server.url}/api/supervisor/figures{query}", headers=headers) as r:
            body = await r.json() if r.content_type == "application/json" else await r.text()
            return r.status, body, r.headers.get("Content-Type", "")


async def _token(server: RunningServer, role: str, teams: tuple[str, ...] = ("jeugd", "volwassenen")) -> Any:
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams)
    return identity, await login(server.url, identity.username, password)


def _total(body: dict[str, Any], period: str) -> dict[str, Any]:
    return next(r for r in body["totals"] if r["period"] == period)


async def _database(backend: str, tmp_path, request) -> str:
    if backend == "sqlite":
        return await migrated_sqlite(str(tmp_path / "figures.db"))
    url = request.getfixturevalue("postgres").create_database(f"fig_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, url)
    return url


@pytest.fixture
async def server(tmp_path, request):
    url = await _database(getattr(request, "param", "sqlite"), tmp_path, request)
    clock = ManualClock(MONDAY_8)
    running = await RunningServer(
        # Jobs that would run on their own are slow here: the test seals and purges itself.
        make_settings(
            url,
            # Monday has three terugbel-tijdvakken of two places each (09, 10 and 11 o'clock), no adviesgesprekken.
            callback_hours="mon-fri 09:00-12:00",
            callback_capacity=2,
            adviesgesprek_capacity=0,
            callback_check_s=3600,
            retention_days=0,
            hash_key="k" * 32,
            # Nawerk: 60 s after a close, 120 s after a crisis, 300 s after a melding.
            nawerk_s=60,
            nawerk_after_crisis_s=120,
            nawerk_after_melding_s=300,
        ),
        clock,
    ).start()
    running.clock = clock
    yield running
    await running.stop()


async def _chat(server, advisor, wait_s, talk_s, outcome, crisis=None, nawerk_ended_after=None):
    """One chat of the scripted day: the visitor starts, waits `wait_s`, the advisor accepts,
    talks `talk_s` and closes with `outcome`; `crisis` = (ack after s, crisis console);
    `nawerk_ended_after`: the advisor ends the nawerk that follows this many seconds later."""
    v = await visitor(server.url)
    cid = (await v.call("start", chat_start()))["conversation_id"]
    server.clock.advance(seconds=wait_s)
    accepted = await advisor.call("accept", {"conversation_id": cid})
    assert "conversation" in accepted, accepted
    spent = 0
    if crisis is not None:
        ack_after, crisis_console = crisis
        assert (await advisor.call("escalate", {"conversation_id": cid, "reason": "gevaar"})).get("ok")
        server.clock.advance(seconds=ack_after)
        assert (await crisis_console.call("ack_crisis", {"conversation_id": cid})).get("ok")
        spent = ack_after
    server.clock.advance(seconds=talk_s - spent)
    closed = await advisor.call("close", {"conversation_id": cid, "outcome": outcome})
    assert closed.get("ok"), closed
    await v.disconnect()
    if nawerk_ended_after is not None:
        server.clock.advance(seconds=nawerk_ended_after)
        assert (await advisor.call("set_status", {"status": "beschikbaar"}))["status"] == "beschikbaar"
    return accepted["conversation"]["team"]


async def _abandoned(server, after_s):
    v = await visitor(server.url)
    await v.call("start", chat_start())
    server.clock.advance(seconds=after_s)
    assert await v.call("leave", {}) == {"ok": True}
    await v.disconnect()


async def _callbacks(server, advisor_token):
    """Two bookings in the 10:00 tijdvak (capacity 2): one reached and closed, one not reached."""
    async with ClientSession() as http:

        async def call(method, path, body=None, token=None):
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, server.url + path, json=body, headers=headers) as r:
                return r.status, await r.json()

        for phone in ("06 11112222", "06 87654321"):
            booking = {"kind": "terugbellen", "slot_start": "2026-11-30T10:00:00+01:00", "phone": phone,
                       "caller_type": "volwassene", "safe_to_leave_voicemail": False}  # fmt: skip
            assert (await call("POST", "/api/callbacks", booking))[0] in (200, 201)
        _, work = await call("GET", "/api/agent/callbacks?date=2026-11-30", token=advisor_token)
        cards = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
        assert len(cards) == 2
        server.clock.advance(hours=2, minutes=5)  # 10:05, inside the tijdvak
        reached, missed = cards
        for card in cards:
            assert (await call("POST", f"/api/agent/callbacks/{card['id']}/claim", token=advisor_token))[0] == 200
        path = f"/api/agent/callbacks/{reached['id']}"
        assert (await call("POST", path + "/attempts", {"result": "bereikt"}, token=advisor_token))[0] == 200
        assert (await call("POST", path + "/close", {"outcome": ADVIES}, token=advisor_token))[0] == 200
        path = f"/api/agent/callbacks/{missed['id']}/attempts"
        answers = [(await call("POST", path, {"result": "geen_gehoor"}, token=advisor_token))[1] for _ in range(3)]
        assert answers[-1]["state"] == "not_reached", answers


async def _scripted_day(server) -> str:
    """Monday: callbacks, four chats answered or not, a crisis; then a chat at 23:30 UTC (Tuesday
    00:30 in Amsterdam). Returns the chats' team."""
    _, advisor_token = await _token(server, "advisor")
    await _callbacks(server, advisor_token)
    advisor = await agent_client(server.url, advisor_token)
    _, crisis_token = await _token(server, "crisis", teams=("crisis",))
    crisis = await agent_client(server.url, crisis_token)
    # Nawerk after it runs its full 60 s (the next visitor waits 90 s).
    team = await _chat(server, advisor, wait_s=30, talk_s=600, outcome=ADVIES)
    # Nawerk after the crisis (120 s planned) ended early by the advisor after 15 s.
    await _chat(server, advisor, wait_s=90, talk_s=345, outcome=MELDING, crisis=(45, crisis), nawerk_ended_after=15)
    await _abandoned(server, after_s=20)
    # Nawerk after a melding: 300 s, run in full (the next event is at 23:30).
    await _chat(server, advisor, wait_s=10, talk_s=60, outcome=MELDING)  # the same phone: a hermelding
    server.clock.set(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))
    await _abandoned(server, after_s=5)
    await advisor.disconnect()
    await crisis.disconnect()
    return team


MONDAY = {
    "chats_offered": 4, "chats_answered": 3, "chats_abandoned": 1,
    # waits 10, 30, 90: nearest rank p50 = 2nd = 30, p90 = 3rd = 90
    "wait_p50_s": 30, "wait_p90_s": 90,
    # talk 600, 345, 60: mean 335, p50 345
    "talk_mean_s": 335.0, "talk_p50_s": 345,
    # nawerk 60 (full), 15 (ended early), 300 (after a melding, full): mean 125, p50 60
    "nawerk_mean_s": 125.0, "nawerk_p50_s": 60,
    "outcome_advies": 1, "outcome_melding": 2, "outcome_geen": 0,
    "crisis_alarms": 1, "crisis_acknowledged": 1, "crisis_ack_p50_s": 45, "crisis_ack_max_s": 45,
    "callbacks_requested": 2, "callbacks_cancelled": 0, "callbacks_reached": 1, "callbacks_not_reached": 1,
    "callbacks_wrong_number": 0,
    # 3 tijdvakken x 2 places, 2 booked
    "tijdvak_capacity": 6, "tijdvak_booked": 2, "tijdvak_use": 0.3333,
    # both chat meldingen registered at once (built-in register): started within the deadline
    "meldingen": 2, "meldingen_deadline_met": 2, "meldingen_deadline_missed": 0, "deadline_met_share": 1.0,
    "hermeldingen": 1,
}  # fmt: skip


def _expect(row: dict[str, Any], expected: dict[str, Any]) -> None:
    assert {k: row[k] for k in expected} == expected


@pytest.mark.parametrize("server", ["sqlite", "postgres"], indirect=True)
async def test_a_scripted_day_sealed_purged_and_grouped(server):
    team = await _scripted_day(server)
    _, boss = await _token(server, "supervisor")
    status, body, _ = await _get(server, "?from=2026-11-30&to=2026-12-01", boss)
    assert status == 200 and body["timezone"] == "Europe/Amsterdam" and body["group"] == "day"
    _expect(_total(body, "2026-11-30"), MONDAY)
    # 23:30 UTC on Monday is 00:30 on Tuesday in Amsterdam.
    _expect(_total(body, "2026-12-01"), {"chats_offered": 1, "chats_abandoned": 1, "chats_answered": 0,
                                          "wait_p50_s": None, "talk_mean_s": None})  # fmt: skip
    # Per team: the crisis moved one chat to the crisis team; callbacks count for their caller's team.
    monday = {r["team"]: r for r in body["rows"] if r["period"] == "2026-11-30"}
    assert (monday[team]["chats_offered"], monday[team]["tijdvak_capacity"]) == (3, 0)
    assert (monday["crisis"]["chats_offered"], monday["crisis"]["crisis_alarms"]) == (1, 1)
    # Nawerk counts for the closed conversation's team.
    assert (monday[team]["nawerk_mean_s"], monday[team]["nawerk_p50_s"]) == (180.0, 60)
    assert (monday["crisis"]["nawerk_mean_s"], monday["crisis"]["nawerk_p50_s"]) == (15.0, 15)
    assert sum(r["callbacks_requested"] for r in monday.values()) == 2
    tijdvak_row = next(r for r in body["rows"] if r["period"] == "2026-11-30" and r["team"] is None)
    assert (tijdvak_row["tijdvak_capacity"], tijdvak_row["chats_offered"]) == (6, 0)

    # One team: its chats only.
    _, one, _ = await _get(server, f"?from=2026-11-30&to=2026-11-30&team={team}", boss)
    assert one["team"] == team and {r["team"] for r in one["rows"]} == {team}
    assert _total(one, "2026-11-30")["chats_offered"] == 3 and _total(one, "2026-11-30")["tijdvak_capacity"] == 0

    # Week (ISO) and month.
    _, week, _ = await _get(server, "?from=2026-11-30&to=2026-12-01&group=week", boss)
    assert [r["period"] for r in week["totals"]] == ["2026-W49"]
    _expect(week["totals"][0], {"chats_offered": 5, "chats_abandoned": 2, "wait_p90_s": 90, "meldingen": 2,
                                "nawerk_mean_s": 125.0, "nawerk_p50_s": 60})  # fmt: skip
    _, month, _ = await _get(server, "?from=2026-11-30&to=2026-12-01&group=month", boss)
    assert [(r["period"], r["chats_offered"]) for r in month["totals"]] == [("2026-11", 4), ("2026-12", 1)]

    # Sealing: Monday and Tuesday settle once Tuesday is over (plus an hour).
    figures = server.app[figures_http.FIGURES]
    server.clock.set(datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    # Two sealers at once (the job here, the purge of another process there): each day once.
    other_db = Database(server.settings.database_url)
    try:
        other = figures_service(server.settings, other_db, server.clock)
        assert sum(await asyncio.gather(figures.seal_due(), other.seal_due())) == 2
    finally:
        await other_db.dispose()
    assert await figures.sealed_days() == ["2026-11-30", "2026-12-01"]
    assert await figures.seal_due() == 0
    _, boss = await _token(server, "supervisor")  # the first session ran out with the clock
    # What is kept: names of figures and numbers, nothing a person said or can be reached by.
    db = Database(server.settings.database_url)
    try:
        async with db.read() as conn:
            kept = (await conn.execute(select(figures_days))).all()
    finally:
        await db.dispose()
    assert kept and all(re.fullmatch(r"[a-z_]+(:\d+)?", r.figure) and isinstance(r.value, int) for r in kept)
    assert {r.team for r in kept} <= {"", "jeugd", "volwassenen", "professionals", "crisis"}
    _, text, _ = await _get(server, "?from=2026-11-30&to=2026-12-01&format=csv", boss)
    for secret in ("vader slaat", "0612345678", "06 11112222", "tips gegeven", "gevaar"):
        assert secret not in text and secret not in json.dumps(body)
    _, sealed, _ = await _get(server, "?from=2026-11-30&to=2026-12-01", boss)
    assert sealed == body

    # The retention purge (retention 0 days: everything ended is due) changes nothing.
    assert await server.app[cases_http.CASES].purge_due() > 0
    _, purged, _ = await _get(server, "?from=2026-11-30&to=2026-12-01", boss)
    assert purged == body
    # The nawerk periods (they hold an agent id) went with the purge; their counts stayed.
    db = Database(server.settings.database_url)
    try:
        async with db.read() as conn:
            assert (await conn.execute(select(nawerk_periods))).all() == []
    finally:
        await db.dispose()

    # Even if a later purge removed what the figures were made from, sealed days stay.
    db = Database(server.settings.database_url)
    try:
        async with db.write() as conn:
            await conn.execute(delete(audit_events))
            await conn.execute(update(conversations).values(outcome=None, crisis_at=None, team="weg"))
    finally:
        await db.dispose()
    _, gone, _ = await _get(server, "?from=2026-11-30&to=2026-12-01", boss)
    assert gone == body


async def test_csv_roles_and_bad_input(server):
    await _abandoned(server, after_s=5)
    _, boss = await _token(server, "admin")
    status, text, ctype = await _get(server, "?from=2026-11-30&to=2026-11-30&format=csv", boss)
    assert status == 200 and ctype.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == COLUMNS
    # Header, the tijdvakken (no team), the chat's team, all teams.
    assert [r[1:3] for r in rows[1:]] == [["", "0"], ["jeugd", "1"], ["all", "1"]]
    assert rows[1][COLUMNS.index("tijdvak_capacity")] == "6"
    assert rows[-1][COLUMNS.index("chats_abandoned")] == "1"
    assert all(not cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r)

    for role in ("advisor", "crisis", "privacy_officer"):
        _, token = await _token(server, role)
        status, body, _ = await _get(server, "", token)
        assert status == 403 and body["error"]["code"] == "forbidden", role
    assert (await _get(server, "", None))[0] == 401
    _, supervisor = await _token(server, "supervisor")
    assert (await _get(server, "", supervisor))[0] == 200  # default: the last 30 days
    for query, field in (
        ("?from=2026-12-01&to=2026-11-30", "from"),
        ("?from=2025-01-01&to=2026-11-30", "to"),
        ("?from=2026-1-1", "from"),
        ("?to=30-11-2026", "to"),
        ("?from=2026-02-30", "from"),
        ("?group=year", "group"),
        ("?format=xml", "format"),
        ("?team=Bad%20Team!", "team"),
        ("?from=2026-11-30&from=2026-11-29", "from"),
        ("?from=%00", "from"),
        ("?to=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11-30", "to"),  # full-width digits
        ("?team=jeugd%00", "team"),
    ):
        status, body, _ = await _get(server, query, supervisor)
        assert status == 422 and body["error"]["code"] == "invalid_input", query
        assert body["error"].get("field") == field, (query, body)


async def test_a_day_is_sealed_only_once_it_has_settled(tmp_path):
    """A chat whose outcome is still to be recorded, and a melding the case system has not
    accepted, hold the day open; once the outcome is there and the melding's deadline has passed
    (missed), the day is sealed with those final figures."""
    url = await migrated_sqlite(str(tmp_path / "settle.db"))
    clock = ManualClock(MONDAY_8)
    server = await RunningServer(
        make_settings(
            url,
            # A case system that never answers: the melding stays pending.
            case_webhook_url="http://127.0.0.1:9/hook",
            case_webhook_secret="s" * 32,
            case_webhook_allow_http=True,
            callback_check_s=3600,
            outcome_check_s=3600,
            hash_key="k" * 32,
            # Nawerk: 60 s after a close, 120 s after a crisis, 300 s after a melding.
            nawerk_s=60,
            nawerk_after_crisis_s=120,
            nawerk_after_melding_s=300,
        ),
        clock,
    ).start()
    server.clock = clock
    try:
        holder, password = await add_agent(url, teams=("jeugd", "volwassenen"))
        advisor = await agent_client(server.url, await login(server.url, holder.username, password))
        v = await visitor(server.url)
        left = (await v.call("start", chat_start()))["conversation_id"]
        await advisor.call("accept", {"conversation_id": left})
        assert await v.call("leave", {}) == {"ok": True}
        await v.disconnect()
        await _chat(server, advisor, wait_s=5, talk_s=50, outcome=MELDING)
        await advisor.disconnect()

        figures = server.app[figures_http.FIGURES]
        clock.set(datetime(2026, 12, 1, 1, 0, tzinfo=UTC))  # Tuesday 02:00 in Amsterdam
        assert await figures.seal_due() == 0  # Monday has not settled
        assert await figures.sealed_days() == []
        _, boss = await _token(server, "supervisor")
        _, live, _ = await _get(server, "?from=2026-11-30&to=2026-11-30", boss)
        _expect(_total(live, "2026-11-30"), {"chats_answered": 2, "outcome_geen": 0, "meldingen": 1,
                                             "meldingen_deadline_met": 0, "meldingen_deadline_missed": 0,
                                             "deadline_met_share": None})  # fmt: skip

        # The holder records the outcome the next night (within the grace period).
        advisor = await agent_client(server.url, await login(server.url, holder.username, password))
        assert (await advisor.call("close", {"conversation_id": left, "outcome": {"kind": "geen"}})).get("ok")
        await advisor.disconnect()
        clock.advance(minutes=11)
        assert await figures.seal_due() == 0  # the melding is still not started, its deadline ahead

        # Monday 7 December was the deadline (5 working days); on the 8th it has been missed.
        clock.set(datetime(2026, 12, 8, 1, 0, tzinfo=UTC))
        assert await figures.seal_due() == 8  # 30 November up to 7 December
        _, boss = await _token(server, "supervisor")
        _, sealed, _ = await _get(server, "?from=2026-11-30&to=2026-11-30", boss)
        _expect(_total(sealed, "2026-11-30"), {"chats_answered": 2, "outcome_geen": 1, "outcome_melding": 1,
                                               "meldingen": 1, "meldingen_deadline_met": 0,
                                               "meldingen_deadline_missed": 1, "deadline_met_share": 0.0})  # fmt: skip
    finally:
        await server.stop()
