"""Need to know on the callback work list, as a table of role × team × date: an advisor sees the
cards of their own teams within the window around today, a supervisor every card on every day;
asking for another team's or another month's list is `forbidden`. An ended callback shows no
number, name or e-mail. Every card shown is an access-log entry, and without that entry there
is no list. `GET /api/audit`: supervisors search it (JSON, paging, CSV), advisors may not."""

from __future__ import annotations

import asyncio
import csv
import io
import uuid
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession
from sqlalchemy import text

from contact.clock import ManualClock
from contact.db import Database
from contact.migrate import upgrade
from tests.callback.conftest import MONDAY_8, Api, booking
from tests.support.server import RunningServer, add_agent, login, make_settings, migrated_sqlite

TODAY = "2026-11-30"


@pytest.fixture(params=["sqlite", "postgres"])
async def server(request, tmp_path) -> AsyncIterator[RunningServer]:
    if request.param == "sqlite":
        url = await migrated_sqlite(str(tmp_path / "ntk.db"))
    else:
        url = request.getfixturevalue("postgres").create_database(f"ntk_{uuid.uuid4().hex[:8]}")
        await asyncio.to_thread(upgrade, url)
    clock = ManualClock(MONDAY_8)
    running = await RunningServer(
        make_settings(url, callback_capacity=5, hash_key="k" * 32, worklist_window_days=7), clock
    ).start()
    running.clock = clock  # type: ignore[attr-defined]
    yield running
    await running.stop()


async def _agent(server: RunningServer, role: str, teams: tuple[str, ...]) -> tuple[str, str]:
    identity, password = await add_agent(server.settings.database_url, role=role, teams=teams)
    return identity.id, await login(server.url, identity.username, password)


def _cards(work: dict) -> list[dict]:
    return [c for tv in work["tijdvakken"] for c in tv["callbacks"]]


async def test_the_work_list_by_role_team_and_date(server):
    async with ClientSession() as http:
        api = Api(server.url, http)
        for caller_type, phone in (("kind", "06 11111111"), ("volwassene", "06 22222222"),
                                   ("professional", "06 33333333")):  # fmt: skip
            status, _ = await api.call(
                "POST", "/api/callbacks", booking(caller_type=caller_type, phone=phone, name="Naam " + caller_type)
            )
            assert status == 201
        _, jeugd = await _agent(server, "advisor", ("jeugd",))
        _, crisis = await _agent(server, "crisis", ("crisis", "volwassenen"))
        _, boss = await _agent(server, "supervisor", ())
        table = [
            # (token, query, status, caller types shown)
            (jeugd, f"date={TODAY}", 200, {"kind"}),
            (jeugd, "", 200, {"kind"}),
            (jeugd, f"date={TODAY}&team=jeugd", 200, {"kind"}),
            (jeugd, f"date={TODAY}&team=volwassenen", 403, None),
            (jeugd, "date=2026-12-07", 200, set()),  # the last day of the window
            (jeugd, "date=2026-12-08", 403, None),
            (jeugd, "date=2026-11-23", 200, set()),
            (jeugd, "date=2026-11-22", 403, None),
            (jeugd, "date=2026-12-30", 403, None),  # another month
            (crisis, f"date={TODAY}", 200, {"volwassene"}),
            (crisis, f"date={TODAY}&team=jeugd", 403, None),
            (boss, f"date={TODAY}", 200, {"kind", "volwassene", "professional"}),
            (boss, f"date={TODAY}&team=jeugd", 200, {"kind"}),
            (boss, "date=2026-12-30", 200, set()),
            (boss, "date=2026-10-01", 200, set()),
        ]
        for token, query, status, shown in table:
            got, work = await api.call("GET", f"/api/agent/callbacks?{query}", token=token)
            assert got == status, (query, work)
            if status == 403:
                assert work["error"]["code"] == "forbidden" and "tijdvakken" not in work
            else:
                assert {c["caller_type"] for c in _cards(work)} == shown, query
        bad = await api.call("GET", "/api/agent/callbacks?team=%00x", token=boss)
        assert bad[0] == 422 and bad[1]["error"]["code"] == "invalid_input"


async def test_an_ended_callback_shows_no_contact_details(server):
    async with ClientSession() as http:
        api = Api(server.url, http)
        await api.call("POST", "/api/callbacks", booking(name="Mo", email="mo@example.nl"))
        _, token = await _agent(server, "advisor", ("volwassenen",))
        _, work = await api.call("GET", f"/api/agent/callbacks?date={TODAY}", token=token)
        [card] = _cards(work)
        assert card["phone"] == "06 12345678" and card["requests"][0]["name"] == "Mo"
        assert (await api.call("POST", f"/api/agent/callbacks/{card['id']}/claim", token=token))[0] == 200
        server.clock.advance(hours=2, minutes=5)
        path = f"/api/agent/callbacks/{card['id']}"
        assert (await api.call("POST", path + "/attempts", {"result": "bereikt"}, token=token))[0] == 200
        outcome = {"kind": "melding", "summary": "zorgen", "urgency": "midden", "gemeente": "Utrecht"}
        assert (await api.call("POST", path + "/close", {"outcome": outcome}, token=token))[0] == 200
        _, work = await api.call("GET", f"/api/agent/callbacks?date={TODAY}", token=token)
        [ended] = _cards(work)
        assert ended["status"] == "closed" and ended["phone"] is None
        assert ended["requests"][0]["name"] is None and ended["requests"][0]["email"] is None


async def test_cards_shown_are_logged_and_no_entry_means_no_list(server):
    async with ClientSession() as http:
        api = Api(server.url, http)
        await api.call("POST", "/api/callbacks", booking(name="Mo"))
        advisor_id, advisor = await _agent(server, "advisor", ("volwassenen",))
        boss_id, boss = await _agent(server, "supervisor", ())
        _, work = await api.call("GET", f"/api/agent/callbacks?date={TODAY}", token=advisor)
        [card] = _cards(work)

        # The advisor may not read the log; the supervisor finds the read by agent and by contact.
        assert (await api.call("GET", f"/api/audit?agent={advisor_id}"))[0] == 401
        refused = await api.call("GET", f"/api/audit?agent={advisor_id}", token=advisor)
        assert refused[0] == 403 and refused[1]["error"]["code"] == "forbidden"
        assert (await api.call("GET", "/api/audit", token=boss))[0] == 422  # contact or agent
        _, found = await api.call("GET", f"/api/audit?agent={advisor_id}", token=boss)
        [entry] = [e for e in found["entries"] if e["action"] != "login"]  # the login is logged too
        assert entry["action"] == "callback_list" and entry["contact_id"] == card["id"]
        assert entry["role"] == "advisor" and len(entry["address_hash"]) == 64
        assert "127.0.0.1" not in str(found)
        _, by_contact = await api.call("GET", f"/api/audit?contact={card['id']}&from={TODAY}&to={TODAY}", token=boss)
        assert [e["seq"] for e in by_contact["entries"]] == [entry["seq"]]
        _, none = await api.call("GET", f"/api/audit?contact={card['id']}&from=2026-12-01", token=boss)
        assert none["entries"] == []

        # Paging, and the searches themselves are in the log.
        _, page = await api.call("GET", f"/api/audit?agent={boss_id}&limit=2", token=boss)
        assert len(page["entries"]) == 2 and page["next_after_seq"] == page["entries"][-1]["seq"]
        assert {e["action"] for e in page["entries"]} == {"login", "access_log_search"}
        _, rest = await api.call("GET", f"/api/audit?agent={boss_id}&after_seq={page['next_after_seq']}", token=boss)
        assert rest["entries"] and rest["entries"][0]["seq"] > page["next_after_seq"]

        # CSV export, itself logged as an export.
        async with http.get(
            f"{server.url}/api/audit?contact={card['id']}&format=csv", headers={"Authorization": f"Bearer {boss}"}
        ) as r:
            assert r.status == 200 and r.content_type == "text/csv"
            rows = list(csv.DictReader(io.StringIO(await r.text())))
        assert [row["contact_id"] for row in rows] == [card["id"]] and rows[0]["action"] == "callback_list"
        _, exports = await api.call("GET", f"/api/audit?agent={boss_id}&limit=1000", token=boss)
        assert exports["entries"][-2]["action"] == "access_log_export"

        # The log cannot be written: the list is not answered either.
        db = Database(server.settings.database_url)
        try:
            async with db.write() as conn:
                await conn.execute(text("DELETE FROM access_log_head"))
        finally:
            await db.dispose()
        status, failed = await api.call("GET", f"/api/agent/callbacks?date={TODAY}", token=advisor)
        assert status >= 500 and "error" in failed and "06 12345678" not in str(failed)
        status, failed = await api.call("GET", f"/api/audit?contact={card['id']}", token=boss)
        assert status >= 500 and "entries" not in failed
