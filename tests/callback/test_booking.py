"""Booking a callback over HTTP on a real server: tijdvakken with room, capacity, the manage
link, silent merging that reveals nothing, and the bad inputs of the issue."""

from __future__ import annotations

from icalendar import Calendar

from tests.callback.conftest import agent_token, booking


async def test_slots_show_only_tijdvakken_with_room(api):
    status, body = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-11-30&days=1")
    assert status == 200
    starts = [s["start"] for s in body["slots"]]
    # 08:00 now, booking closes an hour before: 09:00 … 16:00 local are open (08 … 15 UTC).
    assert starts == [f"2026-11-30T{h:02d}:00:00+00:00" for h in range(8, 16)]
    assert {s["remaining"] for s in body["slots"]} == {2} and body["slots"][0]["end"] == "2026-11-30T09:00:00+00:00"
    for _ in range(2):
        assert (await api.call("POST", "/api/callbacks", booking(phone=f"06 1234567{_}")))[0] == 201
    _, after = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-11-30&days=1")
    assert "2026-11-30T09:00:00+00:00" not in [s["start"] for s in after["slots"]]  # 10:00 local is full
    full = await api.call("POST", "/api/callbacks", booking(phone="06 87654321"))
    assert full[0] == 409 and full[1]["error"]["code"] == "slot_full" and full[1]["error"]["message"]
    # Christmas (Friday) and the weekend have nothing; the days before have.
    _, xmas = await api.call("GET", "/api/callbacks/slots?kind=adviesgesprek&from=2026-12-23&days=5")
    assert sorted({s["start"][:10] for s in xmas["slots"]}) == ["2026-12-23", "2026-12-24"]
    assert len([s for s in xmas["slots"] if s["start"][:10] == "2026-12-24"]) == 10  # 45-minute blocks


async def test_slots_bad_queries(api):
    for query in (
        "",
        "?kind=bellen",
        "?kind=terugbellen&days=0",
        "?kind=terugbellen&days=91",
        "?kind=terugbellen&days=x",
        "?kind=terugbellen&from=30-11-2026",
        "?kind=terugbellen&from=2026-02-30",
        "?kind=terugbellen&kind=adviesgesprek",
    ):
        status, body = await api.call("GET", "/api/callbacks/slots" + query)
        assert status == 422 and body["error"]["code"] == "invalid_input", query


async def test_book_view_reschedule_calendar_and_cancel(api):
    status, made = await api.call("POST", "/api/callbacks", booking(name="Anna", topic="zorgen om buurmeisje"))
    assert status == 201
    assert set(made) == {"reference", "manage_token", "slot"} and made["reference"].startswith("VT-")
    assert made["slot"] == {"start": "2026-11-30T09:00:00+00:00", "end": "2026-11-30T10:00:00+00:00"}
    token = made["manage_token"]
    _, view = await api.call("GET", f"/api/callbacks/{token}")
    assert view["name"] == "Anna" and view["phone"] == "06 12345678" and view["safe_to_leave_voicemail"] is False

    moved = await api.call("POST", f"/api/callbacks/{token}/reschedule", {"slot_start": "2026-12-01T14:00:00+01:00"})
    assert moved[0] == 200 and moved[1]["slot"]["start"] == "2026-12-01T13:00:00+00:00"
    status, ics = await api.call("GET", f"/api/callbacks/{token}/calendar.ics")
    assert status == 200
    event = next(c for c in Calendar.from_ical(ics).walk() if c.name == "VEVENT")
    assert event.decoded("dtstart").isoformat() == "2026-12-01T13:00:00+00:00"
    assert event.decoded("dtend").isoformat() == "2026-12-01T14:00:00+00:00"

    assert (await api.call("POST", f"/api/callbacks/{token}/cancel"))[0] == 200
    # Cancelled, used or made up: one and the same answer.
    for path in (f"/api/callbacks/{token}", f"/api/callbacks/{'x' * 43}", "/api/callbacks/kort"):
        assert await api.call("GET", path) == (
            404,
            {"error": {"code": "not_found", "message": "Dat hebben we niet gevonden.", "message_en": "Not found."}},
        )
    assert (await api.call("POST", f"/api/callbacks/{token}/cancel"))[0] == 404
    assert (await api.call("GET", f"/api/callbacks/{token}/calendar.ics"))[0] == 404
    # The place came back.
    _, slots = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-12-01&days=1")
    assert next(s for s in slots["slots"] if s["start"] == "2026-12-01T13:00:00+00:00")["remaining"] == 2


async def test_reschedule_into_a_full_tijdvak_changes_nothing(api):
    for phone in ("06 11111111", "06 22222222"):
        assert (await api.call("POST", "/api/callbacks", booking(phone=phone, slot_start="2026-12-02T09:00:00+01:00")))[
            0
        ] == 201
    _, mine = await api.call("POST", "/api/callbacks", booking(phone="06 33333333"))
    token = mine["manage_token"]
    status, body = await api.call(
        "POST", f"/api/callbacks/{token}/reschedule", {"slot_start": "2026-12-02T09:00:00+01:00"}
    )
    assert status == 409 and body["error"]["code"] == "slot_full"
    assert (await api.call("GET", f"/api/callbacks/{token}"))[1]["slot"] == mine["slot"]
    bad_bodies = [
        {"slot_start": "2026-12-05T10:00:00+01:00"},
        {"slot_start": "2026-12-25T10:00:00+01:00"},
        {"slot_start": "2026-12-02T10:00:00"},
        {"slot_start": 5},
        {},
        {"slot_start": "x" * 10_000},
    ]
    for bad in bad_bodies:
        assert (await api.call("POST", f"/api/callbacks/{token}/reschedule", bad))[0] == 422, bad


async def test_merged_request_reveals_nothing_and_advisors_see_one_call(api, callback_server):
    first = (await api.call("POST", "/api/callbacks", booking(
        phone="0612345678", name="Fatima", topic="mijn man slaat", safe_to_leave_voicemail=True,
        slot_start="2026-11-30T11:00:00+01:00",
    )))[1]  # fmt: skip
    status, second = await api.call("POST", "/api/callbacks", booking(
        phone="+31 6 1234 5678", name="Karel", slot_start="2026-11-30T15:00:00+01:00", safe_to_leave_voicemail=True,
    ))  # fmt: skip
    # Exactly the shape and kind of answer of a new request, with a token of its own.
    assert status == 201 and set(second) == {"reference", "manage_token", "slot"}
    assert second["manage_token"] != first["manage_token"] and second["reference"] != first["reference"]
    assert second["slot"]["start"] == "2026-11-30T14:00:00+00:00"
    _, seen = await api.call("GET", f"/api/callbacks/{second['manage_token']}")
    text = str(seen)
    for secret in ("Fatima", "slaat", first["reference"], "10:00", "2026-11-30T10:00"):
        assert secret not in text
    assert seen["name"] == "Karel" and seen["slot"]["start"] == "2026-11-30T14:00:00+00:00"
    # The advisors: one callback, every request, the earliest tijdvak; the voicemail rule is
    # that of the request being called (a later request that forbids one does not change it,
    # it holds when that request is called).
    await api.call("POST", "/api/callbacks", booking(phone="06-12345678", slot_start="2026-12-01T10:00:00+01:00"))
    _, token = await agent_token(callback_server)
    _, work = await api.call("GET", "/api/agent/callbacks?date=2026-11-30", token=token)
    calls = [c for tv in work["tijdvakken"] for c in tv["callbacks"]]
    assert len(calls) == 1
    call = calls[0]
    assert call["slot"]["start"] == "2026-11-30T10:00:00+00:00" and call["merged"] is True
    assert [r["name"] for r in call["requests"]] == ["Fatima", "Karel", None]
    assert [r["being_called"] for r in call["requests"]] == [True, False, False]
    assert call["voicemail_allowed"] is True and call["phone"] == "06 12345678"


async def test_booking_bad_input(api, callback_server):
    callback_server.clock.advance(minutes=1)  # 08:01: booking for 09:00 has just closed
    cases = [
        (booking(phone="+49 30 1234567"), 422, "invalid_phone"),
        (booking(phone="0612"), 422, "invalid_phone"),
        (booking(phone="bel me op 0612345678"), 422, "invalid_phone"),
        (booking(phone="0800-2000"), 422, "invalid_phone"),
        (booking(phone="06" + "1" * 40), 422, "invalid_input"),
        (booking(slot_start="2026-11-30T07:00:00+01:00"), 422, "invalid_input"),  # in the past
        (booking(slot_start="2026-11-30T09:00:00+01:00"), 422, "invalid_input"),  # booking closed
        (booking(slot_start="2026-12-25T10:00:00+01:00"), 422, "invalid_input"),  # Christmas
        (booking(slot_start="2026-12-05T10:00:00+01:00"), 422, "invalid_input"),  # Saturday
        (booking(slot_start="2026-11-30T10:30:00+01:00"), 422, "invalid_input"),  # not a tijdvak
        (booking(slot_start="2027-03-01T10:00:00+01:00"), 422, "invalid_input"),  # too far ahead
        (booking(slot_start="2026-11-30T10:00:00"), 422, "invalid_input"),  # no offset
        (booking(name="x" * 10_000), 422, "invalid_input"),
        (booking(topic="x" * 10_000), 422, "invalid_input"),
        (
            booking(kind="adviesgesprek", caller_type="professional", slot_start="2026-11-30T09:45:00+01:00"),
            422,
            "invalid_input",
        ),
        (booking(email="geen-adres"), 422, "invalid_input"),
        (booking(safe_to_leave_voicemail="ja"), 422, "invalid_input"),
        (booking(extra=1), 422, "invalid_input"),
        ({"kind": "terugbellen"}, 422, "invalid_input"),
        ([1, 2], 422, "invalid_input"),
    ]
    for body, status, code in cases:
        got = await api.call("POST", "/api/callbacks", body)
        assert got[0] == status and got[1]["error"]["code"] == code, (body, got)
    async with api.http.post(
        api.base + "/api/callbacks", data="{broken", headers={"Content-Type": "application/json"}
    ) as r:
        assert r.status == 422
    async with api.http.post(api.base + "/api/callbacks", data="kind=terugbellen") as r:
        assert r.status == 422
    # Nothing was booked by any of them.
    _, slots = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-11-30&days=1")
    assert all(s["remaining"] == 2 for s in slots["slots"])
