"""The advisors' side of callbacks on a real server: the work list, claim (one wins), attempts
with their rules, close with the outcome form, the roster, and the scheduled notices with
time moved by the test."""

from __future__ import annotations

import asyncio

from tests.callback.conftest import agent_token, booking
from tests.support.server import agent_client


async def _one_callback(api, token, day="2026-11-30"):
    _, work = await api.call("GET", f"/api/agent/callbacks?date={day}", token=token)
    return [c for tv in work["tijdvakken"] for c in tv["callbacks"]]


async def test_work_list_claim_attempts_and_close(api, callback_server):
    await api.call("POST", "/api/callbacks", booking(name="Mo", topic="buren", safe_to_leave_voicemail=True))
    _, anouk = await agent_token(callback_server, name="Anouk Visser")
    _, bram = await agent_token(callback_server)
    status, work = await api.call("GET", "/api/agent/callbacks?date=2026-11-30", token=anouk)
    assert status == 200 and work["date"] == "2026-11-30"
    # Every tijdvak of both kinds with its places, ours at 10:00.
    ten = next(
        tv for tv in work["tijdvakken"] if tv["kind"] == "terugbellen" and tv["start"] == "2026-11-30T09:00:00+00:00"
    )
    assert (ten["capacity"], ten["booked"]) == (2, 1)
    call = ten["callbacks"][0]
    assert call["status"] == "open" and call["requests"][0]["topic"] == "buren"

    claims = await asyncio.gather(
        *(api.call("POST", f"/api/agent/callbacks/{call['id']}/claim", token=t) for t in (anouk, bram))
    )
    assert sorted(s for s, _ in claims) == [200, 409]
    winner, loser = (anouk, bram) if claims[0][0] == 200 else (bram, anouk)
    assert next(b for s, b in claims if s == 409)["error"]["code"] == "already_taken"
    refused = await api.call(
        "POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "geen_gehoor"}, token=loser
    )
    assert refused[0] == 403

    callback_server.clock.advance(hours=2, minutes=5)  # 10:05, inside the tijdvak
    first = await api.call(
        "POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "geen_gehoor"}, token=winner
    )
    assert (
        first[0] == 200 and first[1]["state"] == "retry" and first[1]["next_attempt_at"] == "2026-11-30T09:20:00+00:00"
    )
    second = await api.call(
        "POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "voicemail"}, token=winner
    )
    assert second[1]["state"] == "retry" and second[1]["attempts"] == 2
    reached = await api.call("POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "bereikt"}, token=winner)
    assert reached[1]["state"] == "reached"
    path = f"/api/agent/callbacks/{call['id']}/attempts"
    after = await api.call("POST", path, {"result": "geen_gehoor"}, token=winner)
    assert after[0] == 409 and after[1]["error"]["state"] == "reached"  # reached: close it, no more attempts
    incomplete = await api.call(
        "POST",
        f"/api/agent/callbacks/{call['id']}/close",
        {"outcome": {"kind": "melding", "summary": "zorg"}},
        token=winner,
    )
    assert incomplete[0] == 422 and incomplete[1]["error"]["code"] == "outcome_incomplete"
    outcome = {"kind": "melding", "summary": "zorgen om kinderen", "urgency": "midden", "gemeente": "Utrecht"}
    assert (await api.call("POST", f"/api/agent/callbacks/{call['id']}/close", {"outcome": outcome}, token=winner))[
        0
    ] == 200
    again = await api.call("POST", f"/api/agent/callbacks/{call['id']}/close", {"outcome": outcome}, token=winner)
    assert again[0] == 409 and again[1]["error"]["code"] == "closed"
    done = (await _one_callback(api, winner))[0]
    assert done["status"] == "closed" and done["outcome"]["kind"] == "melding" and done["attempts"] == 3


async def test_no_answer_three_times_is_not_reached_and_no_voicemail_unless_allowed(api, callback_server):
    await api.call("POST", "/api/callbacks", booking(safe_to_leave_voicemail=False))
    _, token = await agent_token(callback_server)
    call = (await _one_callback(api, token))[0]
    await api.call("POST", f"/api/agent/callbacks/{call['id']}/claim", token=token)
    refused = await api.call(
        "POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "voicemail"}, token=token
    )
    assert refused[0] == 403 and refused[1]["error"]["reason"] == "no_voicemail"
    path = f"/api/agent/callbacks/{call['id']}/attempts"
    answers = [(await api.call("POST", path, {"result": "geen_gehoor"}, token=token))[1] for _ in range(3)]
    assert [a["state"] for a in answers] == ["retry", "retry", "not_reached"]
    # Called at 08:00 for the 10:00 tijdvak: the next try is when the tijdvak starts, not at 08:15.
    assert answers[0]["next_attempt_at"] == "2026-11-30T09:00:00+00:00"
    assert (await _one_callback(api, token))[0]["status"] == "not_reached"
    late = await api.call("POST", f"/api/agent/callbacks/{call['id']}/attempts", {"result": "bereikt"}, token=token)
    assert late[0] == 409


async def test_advisor_endpoints_refuse_bad_input(api, callback_server):
    await api.call("POST", "/api/callbacks", booking())
    _, token = await agent_token(callback_server)
    call = (await _one_callback(api, token))[0]
    for method, path in (("GET", "/api/agent/callbacks"), ("POST", f"/api/agent/callbacks/{call['id']}/claim")):
        for bad in (None, "forged-token"):
            assert (await api.call(method, path, token=bad))[0] == 401
    assert (await api.call("POST", "/api/agent/callbacks/nope/claim", token=token))[0] == 404
    assert (await api.call("GET", "/api/agent/callbacks?date=gisteren", token=token))[0] == 422
    await api.call("POST", f"/api/agent/callbacks/{call['id']}/claim", token=token)
    for body in ({"result": "misschien"}, {}, {"result": "bereikt", "x": 1}, {"result": ["bereikt"]}):
        assert (await api.call("POST", f"/api/agent/callbacks/{call['id']}/attempts", body, token=token))[0] == 422, (
            body
        )
    for body in ({"outcome": {"kind": "ruzie"}}, {"outcome": {"kind": "advies", "summary": "x" * 10_000}}, {}):
        assert (await api.call("POST", f"/api/agent/callbacks/{call['id']}/close", body, token=token))[0] == 422, body
    assert (await _one_callback(api, token))[0]["attempts"] == 0


async def test_roster_sets_places_for_admins_only(api, callback_server):
    _, boss = await agent_token(callback_server, role="admin")
    _, advisor = await agent_token(callback_server)
    _, supervisor = await agent_token(callback_server, role="supervisor")
    body = {"date": "2026-12-01", "slot_start": "10:00", "kind": "terugbellen", "capacity": 5}
    assert (await api.call("PUT", "/api/admin/roster", body, token=advisor))[0] == 403
    # Supervisors monitor and intervene; the roster is the admin's (issue 16).
    assert (await api.call("PUT", "/api/admin/roster", body, token=supervisor))[0] == 403
    status, set_ = await api.call("PUT", "/api/admin/roster", body, token=boss)
    assert status == 200 and set_["capacity"] == 5 and set_["start"] == "2026-12-01T09:00:00+00:00"
    _, slots = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-12-01&days=1")
    assert next(s for s in slots["slots"] if s["start"] == "2026-12-01T09:00:00+00:00")["remaining"] == 5
    closed = {**body, "capacity": 0}
    assert (await api.call("PUT", "/api/admin/roster", closed, token=boss))[0] == 200
    _, slots = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-12-01&days=1")
    assert "2026-12-01T09:00:00+00:00" not in [s["start"] for s in slots["slots"]]
    bad_fields = [
        {"slot_start": "10:30"},
        {"date": "2026-12-05"},
        {"capacity": -1},
        {"kind": "bellen"},
        {"slot_start": "2026-12-02T10:00:00+01:00"},
        {"date": "1-12-2026"},
    ]
    for bad in ({**body, **fields} for fields in bad_fields):
        assert (await api.call("PUT", "/api/admin/roster", bad, token=boss))[0] == 422, bad


async def test_tijdvak_start_and_overdue_are_told_once(api, callback_server):
    await api.call("POST", "/api/callbacks", booking())
    boss_id, boss = await agent_token(callback_server, role="supervisor")
    advisor_id, advisor = await agent_token(callback_server)
    on_duty = await agent_client(callback_server.url, advisor)
    supervisor = await agent_client(callback_server.url, boss)
    callback_server.clock.advance(hours=2, minutes=1)  # 10:01: the 10:00 tijdvak has started
    started = await on_duty.wait_for(
        "tijdvak_started", lambda e: e["start"] == "2026-11-30T09:00:00+00:00" and e["kind"] == "terugbellen"
    )
    assert started["callbacks"] == 1
    callback_server.clock.advance(hours=1)  # 11:01: it ended with the callback still open
    overdue = await supervisor.wait_for("callback_overdue")
    assert overdue["slot"]["end"] == "2026-11-30T10:00:00+00:00" and overdue["status"] == "open"
    await asyncio.sleep(0.4)  # several more runs of the job
    assert len(supervisor.events["callback_overdue"]) == 1
    assert (
        len(
            [
                e
                for e in on_duty.events["tijdvak_started"]
                if e["start"] == started["start"] and e["kind"] == "terugbellen"
            ]
        )
        == 1
    )
    assert "callback_overdue" not in on_duty.events  # for supervisors
    # The adviesgesprek tijdvak 09:45–10:30 started too, but has nothing to call: no notice.
    assert all(e["callbacks"] > 0 for e in on_duty.events["tijdvak_started"])
    assert (await _one_callback(api, advisor))[0]["overdue"] is True
    for c in (on_duty, supervisor):
        await c.disconnect()


async def test_the_board_follows_overdue_callbacks(api, callback_server):
    """The supervisors' board counts overdue callbacks: it goes out live when a callback becomes
    overdue and again when an advisor ends one, without any other change to prompt it."""
    await api.call("POST", "/api/callbacks", booking())
    _, boss = await agent_token(callback_server, role="supervisor")
    _, advisor = await agent_token(callback_server)
    supervisor = await agent_client(callback_server.url, boss)
    callback_server.clock.advance(hours=3, minutes=1)  # 11:01: the 10:00 tijdvak ended, nobody called
    await supervisor.wait_for("callback_overdue")
    late = await supervisor.wait_for("board", lambda b: b["callbacks"]["overdue"] == 1, timeout=5)
    assert late["callbacks"]["oldest_due"] == "2026-11-30T10:00:00+00:00"

    call = (await _one_callback(api, advisor))[0]
    path = f"/api/agent/callbacks/{call['id']}"
    assert (await api.call("POST", f"{path}/claim", token=advisor))[0] == 200
    supervisor.events.pop("board", None)
    assert (await api.call("POST", f"{path}/attempts", {"result": "bereikt"}, token=advisor))[0] == 200
    # Reached but still open: overdue until it is closed, and the board says so.
    still = await supervisor.wait_for("board", timeout=5)
    assert still["callbacks"]["overdue"] == 1
    outcome = {"kind": "advies", "summary": "advies gegeven"}
    assert (await api.call("POST", f"{path}/close", {"outcome": outcome}, token=advisor))[0] == 200
    done = await supervisor.wait_for("board", lambda b: b["callbacks"]["overdue"] == 0, timeout=5)
    assert done["callbacks"]["oldest_due"] is None
    await supervisor.disconnect()
