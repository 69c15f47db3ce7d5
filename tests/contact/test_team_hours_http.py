"""Opening hours per team over HTTP: who may change them, every kind of bad input refused in
Dutch with nothing written, and a change that opens or closes `start` and `/api/status` for
that team's callers at once, audited with the old and the new value."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession
from sqlalchemy import select

from contact.db import Database
from contact.store import audit_events
from tests.support.server import add_agent, clocked_server, login, migrated_sqlite, start_payload, visitor

AMS = ZoneInfo("Europe/Amsterdam")
TUESDAY_EVENING = datetime(2026, 11, 24, 18, 0, tzinfo=AMS)  # after VT_CHAT_HOURS closed
HOURS = "/api/supervisor/hours"


async def call(method: str, url: str, token: str | None = None, body: Any = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with ClientSession() as http:
        async with http.request(method, url, json=body, headers=headers) as r:
            return r.status, await r.json()


async def audits(database_url: str, prefix: str = "hours_") -> list[Any]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            rows = (await conn.execute(select(audit_events).order_by(audit_events.c.id))).all()
    finally:
        await db.dispose()
    return [r for r in rows if r.action.startswith(prefix)]


@pytest.fixture
async def evening(tmp_path):
    url = await migrated_sqlite(str(tmp_path / "hours.db"))
    server = await clocked_server(url, TUESDAY_EVENING, chat_hours="mon-fri 09:00-17:00")
    yield server
    await server.stop()


async def token_of(server, role: str) -> str:
    agent, password = await add_agent(server.settings.database_url, role=role)
    return await login(server.url, agent.username, password)


EVENINGS = {"days": {"tue": [{"opens": "09:00", "closes": "17:00"}, {"opens": "18:00", "closes": "22:00"}]}}


async def test_only_supervisors_and_admins_see_and_change_opening_hours(evening):
    url = evening.url
    for role in ("advisor", "crisis", "privacy_officer"):
        token = await token_of(evening, role)
        assert (await call("GET", f"{url}{HOURS}", token))[0] == 403
        assert (await call("PUT", f"{url}{HOURS}/jeugd/pattern", token, EVENINGS))[0] == 403
        assert (await call("POST", f"{url}{HOURS}/jeugd/close", token, {"until": "2026-11-24T20:00"}))[0] == 403
    assert (await call("GET", f"{url}{HOURS}"))[0] == 401
    for role in ("supervisor", "admin"):
        status, body = await call("GET", f"{url}{HOURS}", await token_of(evening, role))
        assert status == 200
        assert [t["team"] for t in body["teams"]] == ["jeugd", "volwassenen", "professionals", "crisis"]
        jeugd = body["teams"][0]
        assert jeugd["own_pattern"] is False and jeugd["pattern"]["days"]["mon"] == [
            {"opens": "09:00", "closes": "17:00"}
        ]
        assert jeugd["now"] == {"open": False, "opens_at": "2026-11-25T09:00:00+01:00", "closes_at": None}
        assert jeugd["today"] == [{"opens": "2026-11-24T09:00:00+01:00", "closes": "2026-11-24T17:00:00+01:00"}]
    assert await audits(evening.settings.database_url) == []


BAD_PATTERNS = [
    ({"days": {"mon": [{"opens": "09:00", "closes": "17:00"}, {"opens": "12:00", "closes": "18:00"}]}}, "overlappen"),
    ({"days": {"mon": [{"opens": "17:00", "closes": "09:00"}]}}, "voordat het opent"),
    ({"days": {"funday": [{"opens": "09:00", "closes": "17:00"}]}}, "Onbekende dag"),
    ({"days": {"mon": [{"opens": "9 uur", "closes": "17:00"}]}}, "geen UU:MM"),
    ({"days": {"mon": [{"opens": f"{h:02d}:00", "closes": f"{h:02d}:30"} for h in range(8)]}}, "hoogstens 6"),
    ({"days": {"mon": [{"opens": "09:00", "closes": "17:00", "extra": 1}]}}, "begin- en eindtijd"),
]


@pytest.mark.parametrize(("body", "words"), BAD_PATTERNS)
async def test_a_bad_pattern_is_refused_in_dutch_and_nothing_changes(evening, body, words):
    token = await token_of(evening, "supervisor")
    status, answer = await call("PUT", f"{evening.url}{HOURS}/jeugd/pattern", token, body)
    assert status == 422 and answer["error"]["code"] == "invalid_input"
    assert words in answer["error"]["message"]
    assert (await call("GET", f"{evening.url}{HOURS}/jeugd", token))[1]["own_pattern"] is False
    assert await audits(evening.settings.database_url) == []


async def test_bad_exceptions_teams_and_bodies_are_refused(evening):
    token = await token_of(evening, "supervisor")
    base = f"{evening.url}{HOURS}"
    cases = [
        ("POST", "/jeugd/exceptions", {"starts_at": "2026-11-26T10:00", "ends_at": "2026-11-26T09:00", "open": True}),
        ("POST", "/jeugd/exceptions", {"starts_at": "2026-11-20", "ends_at": "2026-11-21", "open": False}),
        ("POST", "/jeugd/exceptions", {"starts_at": "morgen", "ends_at": "2026-11-26", "open": False}),
        (
            "POST",
            "/jeugd/exceptions",
            {"starts_at": "2026-11-26", "ends_at": "2026-11-26", "open": True, "reason": "busy"},
        ),
        ("POST", "/jeugd/close", {"until": "2026-11-24T17:00"}),
        ("POST", "/jeugd/close", {"until": "2026-11-24T20:00", "reason": "other", "reason_text": "x" * 200}),
        ("POST", "/jeugd/close", {"until": "2026-11-24T20:00", "reason": "whatever"}),
        ("PUT", "/ouderen/pattern", EVENINGS),
        ("GET", "/ouderen", None),
        ("PUT", "/jeugd/pattern", {"days": []}),
        ("PUT", "/jeugd/pattern", {"days": {}, "surprise": True}),
        ("PUT", "/jeugd/pattern", None),
    ]
    for method, path, body in cases:
        status, answer = await call(method, base + path, token, body)
        assert status == 422 and answer["error"]["code"] == "invalid_input", (method, path, answer)
        assert answer["error"]["message"], path
    status, answer = await call("PUT", f"{base}/ouderen/pattern", token, EVENINGS)
    assert answer["error"]["field"] == "team" and "Onbekend team" in answer["error"]["message"]
    status, answer = await call("POST", f"{base}/jeugd/exceptions", token, cases[0][2])
    assert "einde" in answer["error"]["message"]
    assert (await call("DELETE", f"{base}/jeugd/exceptions/no-such-id", token))[0] == 404
    assert await audits(evening.settings.database_url) == []


async def status_of(server, query: str = "") -> dict:
    async with ClientSession() as http, http.get(f"{server.url}/api/status{query}") as r:
        assert r.status == 200
        return await r.json()


async def test_a_team_opened_and_closed_at_run_time_decides_start_and_status(evening):
    token = await token_of(evening, "supervisor")
    base = f"{evening.url}{HOURS}"
    closed_at_first = await status_of(evening)
    assert closed_at_first["chat"]["open"] is False and set(closed_at_first["teams"]) == {
        "jeugd", "volwassenen", "professionals", "crisis"
    }  # fmt: skip

    status, view = await call("PUT", f"{base}/jeugd/pattern", token, EVENINGS)
    assert status == 200 and view["own_pattern"] and view["now"]["open"] is True
    assert view["now"]["closes_at"] == "2026-11-24T22:00:00+01:00"

    kid = await status_of(evening, "?caller_type=kind")
    assert kid["chat"]["open"] is True and kid["chat"]["team"] == "jeugd"
    assert kid["chat"]["closes_at"] == "2026-11-24T22:00:00+01:00"
    adult = await status_of(evening, "?caller_type=volwassene")
    assert adult["chat"]["open"] is False and adult["chat"]["opens_at"] == "2026-11-25T09:00:00+01:00"
    whole = await status_of(evening)
    assert whole["chat"]["open"] is True and whole["teams"]["volwassenen"]["open"] is False
    assert (await status_of(evening, "?team=volwassenen"))["chat"]["open"] is False
    for bad in (
        "?caller_type=baby",
        "?team=ouderen",
        "?caller_type=kind&caller_type=kind",
        "?caller_type=kind&team=jeugd",
    ):
        async with ClientSession() as http, http.get(f"{evening.url}/api/status{bad}") as r:
            assert r.status == 422 and (await r.json())["error"]["code"] == "invalid_input", bad

    young = await visitor(evening.url)
    waiting = await young.call("start", start_payload(caller_type="kind"))
    assert waiting["status"] == "waiting"
    grown = await visitor(evening.url)
    refused = await grown.call("start", start_payload(caller_type="volwassene", intent="advies", topic=None))
    assert refused["error"]["code"] == "closed" and refused["error"]["opens_at"] == "2026-11-25T09:00:00+01:00"
    assert refused["error"]["phone"] == "0800-2000" and refused["error"]["emergency"] == "112"

    # "Nu sluiten tot 20:00" for an incident: new kids are told why and when; the kid already
    # waiting stays in the queue.
    body = {"until": "2026-11-24T20:00", "reason": "incident"}
    status, view = await call("POST", f"{base}/jeugd/close", token, body)
    assert status == 200 and view["now"]["open"] is False and view["now"]["opens_at"] == "2026-11-24T20:00:00+01:00"
    closure = view["exceptions"][0]
    assert closure["open"] is False and closure["reason"] == "incident"
    other = await visitor(evening.url)
    told = await other.call("start", start_payload(caller_type="jongere"))
    assert told["error"]["code"] == "closed" and told["error"]["opens_at"] == "2026-11-24T20:00:00+01:00"
    assert told["error"]["reason"]["code"] == "incident" and "storing" in told["error"]["reason"]["nl"]
    kid = await status_of(evening, "?caller_type=kind")
    assert kid["chat"]["open"] is False and kid["chat"]["reason"]["en"].startswith("We are closed")
    assert kid["teams"]["jeugd"]["reason"]["code"] == "incident"
    assert kid["chat"]["queue_length"] == 1  # the waiting kid is not thrown out

    status, view = await call("DELETE", f"{base}/jeugd/exceptions/{closure['id']}", token)
    assert status == 200 and view["now"]["open"] is True and view["exceptions"] == []
    assert (await other.call("start", start_payload(caller_type="jongere")))["status"] == "waiting"

    # An evening shift for adults; then the adults' own pattern goes back to VT_CHAT_HOURS.
    shift = {"starts_at": "2026-11-24T18:00", "ends_at": "2026-11-24T21:00", "open": True}
    status, view = await call("POST", f"{base}/volwassenen/exceptions", token, shift)
    assert status == 201 and view["now"] == {"open": True, "opens_at": None, "closes_at": "2026-11-24T21:00:00+01:00"}
    assert (await grown.call("start", start_payload(caller_type="volwassene", topic=None)))["status"] == "waiting"
    listed = (await call("GET", f"{base}/volwassenen/exceptions", token))[1]
    assert [e["starts_at"] for e in listed["exceptions"]] == ["2026-11-24T18:00:00+01:00"]
    status, view = await call("DELETE", f"{base}/jeugd/pattern", token)
    assert status == 200 and view["own_pattern"] is False and view["now"]["open"] is False

    done = await audits(evening.settings.database_url)
    assert [a.action for a in done] == [
        "hours_pattern_set", "hours_closed_now", "hours_exception_deleted", "hours_exception_added",
        "hours_pattern_reset",
    ]  # fmt: skip
    assert done[0].detail["old"] is None and done[0].detail["new"]["days"]["tue"][1] == {
        "opens": "18:00",
        "closes": "22:00",
    }
    assert done[2].detail["old"]["reason"] == "incident" and done[2].detail["new"] is None
    assert done[4].detail["old"]["days"]["tue"] and done[4].detail["new"] is None
    assert all(a.actor.startswith("agent:") and a.detail["team"] for a in done)
    for client in (young, grown, other):
        await client.disconnect()


async def test_a_whole_day_closed_by_date(evening):
    token = await token_of(evening, "admin")
    day = {"starts_at": "2026-11-25", "ends_at": "2026-11-25", "open": False, "reason": "holiday"}
    status, view = await call("POST", f"{evening.url}{HOURS}/professionals/exceptions", token, day)
    assert status == 201
    assert view["exceptions"][0]["starts_at"] == "2026-11-25T00:00:00+01:00"
    assert view["exceptions"][0]["ends_at"] == "2026-11-26T00:00:00+01:00"
    assert view["now"]["opens_at"] == "2026-11-26T09:00:00+01:00"
    status = await status_of(evening, "?caller_type=professional")
    assert status["chat"]["opens_at"] == "2026-11-26T09:00:00+01:00"


async def test_too_many_exceptions_are_refused(evening, monkeypatch):
    import contact.opening

    monkeypatch.setattr(contact.opening, "MAX_EXCEPTIONS_PER_TEAM", 2)
    token = await token_of(evening, "supervisor")
    url = f"{evening.url}{HOURS}/crisis/exceptions"
    for day in ("2026-11-26", "2026-11-27"):
        assert (await call("POST", url, token, {"starts_at": day, "ends_at": day, "open": True}))[0] == 201
    status, answer = await call("POST", url, token, {"starts_at": "2026-11-28", "ends_at": "2026-11-28", "open": True})
    assert status == 422 and "al 2 uitzonderingen" in answer["error"]["message"]
    assert [a.action for a in await audits(evening.settings.database_url)] == ["hours_exception_added"] * 2


async def test_two_supervisors_saving_one_week_cannot_undo_each_other_unseen(evening):
    """Both open the same team's week; the first saves; the second's save, made on the week as it
    was, would silently undo the first: it is refused (409 `conflict`, in Dutch) with nothing
    written, and the view tells what is there now. Without `If-Match` (scripts) no check."""
    url, team = evening.url, f"{evening.url}{HOURS}/volwassenen"
    first, second = await token_of(evening, "supervisor"), await token_of(evening, "admin")

    async def view(token: str) -> tuple[dict, str]:
        async with ClientSession() as http, http.get(team, headers={"Authorization": f"Bearer {token}"}) as r:
            assert r.status == 200
            return await r.json(), r.headers["ETag"]

    async def put(token: str, body: Any, if_match: str | None) -> tuple[int, dict, str | None]:
        headers = {"Authorization": f"Bearer {token}"}
        if if_match is not None:
            headers["If-Match"] = if_match
        async with ClientSession() as http, http.put(f"{team}/pattern", json=body, headers=headers) as r:
            return r.status, await r.json(), r.headers.get("ETag")

    seen_first, etag = await view(first)
    seen_second, etag_second = await view(second)
    assert etag == etag_second == '"default"' and seen_first["pattern_version"] == "default"
    overview = (await call("GET", f"{url}{HOURS}", first))[1]
    assert {t["team"]: t["pattern_version"] for t in overview["teams"]}["volwassenen"] == "default"

    status, saved, new_etag = await put(first, EVENINGS, etag)
    assert status == 200 and new_etag == f'"{saved["pattern_version"]}"' and new_etag != etag
    mornings = {"days": {"tue": [{"opens": "08:00", "closes": "12:00"}]}}
    status, refused, _ = await put(second, mornings, etag_second)
    assert status == 409 and refused["error"]["code"] == "conflict"
    assert "collega" in refused["error"]["message"] and refused["error"]["message_en"]
    now, _ = await view(second)
    assert now["pattern"]["days"]["tue"] == EVENINGS["days"]["tue"]  # the first save stands
    assert [a.action for a in await audits(evening.settings.database_url)] == ["hours_pattern_set"]

    # Back to VT_CHAT_HOURS on the old view: refused as well; on the current one: done.
    status, body = await _delete(team, second, etag_second)
    assert status == 409 and body["error"]["code"] == "conflict"
    # A weak ETag, a list and "*" are read as HTTP has them; rubbish is a conflict, not a 500.
    assert (await put(second, mornings, f'W/{new_etag}, "other"'))[0] == 200
    assert (await put(second, mornings, '"nonsense" ' * 20))[0] == 409
    assert (await put(second, EVENINGS, "*"))[0] == 200
    assert (await put(first, mornings, None))[0] == 200  # no If-Match: no check
    last, _ = await view(first)
    status, body = await _delete(team, first, f'"{last["pattern_version"]}"')
    assert status == 200 and body["own_pattern"] is False and body["pattern_version"] == "default"


async def _delete(team_url: str, token: str, if_match: str) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}", "If-Match": if_match}
    async with ClientSession() as http, http.delete(f"{team_url}/pattern", headers=headers) as r:
        return r.status, await r.json()
