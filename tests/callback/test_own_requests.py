"""Each request keeps its own tijdvak and state (issue 10): whoever knows the victim's number can
neither move nor end the victim's call, nor learn from their own manage link that an earlier
request exists. Over HTTP on a real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import ClientSession

from tests.callback.conftest import Api, agent_token, booking

TODAY_13 = "2026-11-30T13:00:00+01:00"  # the victim's tijdvak, today
LATER = "2026-12-21T10:00:00+01:00"  # three weeks later
LATER_MOVED = "2026-12-22T14:00:00+01:00"
MELDING = {"kind": "melding", "summary": "zorgen om geweld thuis", "urgency": "hoog", "gemeente": "Utrecht"}


@pytest.fixture
async def api2(both_servers) -> AsyncIterator[Api]:
    async with ClientSession() as http:
        yield Api(both_servers.url, http)


async def _page(api: Api, token: str) -> tuple[int, bytes]:
    """A manage page's answer as bytes, to compare byte for byte."""
    async with api.http.get(f"{api.base}/api/callbacks/{token}") as r:
        return r.status, await r.read()


async def _cards(api: Api, token: str, day: str) -> list[dict[str, Any]]:
    status, work = await api.call("GET", f"/api/agent/callbacks?date={day}", token=token)
    assert status == 200, work
    return [dict(c, tijdvak=tv["start"]) for tv in work["tijdvakken"] for c in tv["callbacks"]]


async def _book(api: Api, **fields: Any) -> dict[str, Any]:
    status, made = await api.call("POST", "/api/callbacks", booking(**fields))
    assert status == 201, made
    return made


async def test_a_later_request_and_its_reschedule_neither_move_nor_end_the_victims_call(api2, both_servers):
    api = api2
    victim = await _book(api, phone="06 12345678", slot_start=TODAY_13, name="Fatima", topic="mijn man")
    other = await _book(
        api, phone="+31612345678", slot_start=LATER, name="Karel", topic="buren", safe_to_leave_voicemail=True
    )
    moved = await api.call("POST", f"/api/callbacks/{other['manage_token']}/reschedule", {"slot_start": LATER_MOVED})
    assert moved[0] == 200 and moved[1]["slot"]["start"] == "2026-12-22T13:00:00+00:00"

    # Each page shows only its own request, in its own tijdvak.
    _, mine = await api.call("GET", f"/api/callbacks/{victim['manage_token']}")
    assert (
        mine["slot"]["start"] == "2026-11-30T12:00:00+00:00" and mine["status"] == "open" and mine["name"] == "Fatima"
    )
    status, before = await _page(api, other["manage_token"])
    assert status == 200
    for secret in (b"Fatima", b"mijn man", victim["reference"].encode(), b"2026-11-30"):
        assert secret not in before

    # The advisors: one card, still in today's 13:00 tijdvak, with both requests and their own tijdvakken.
    _, advisor = await agent_token(both_servers)
    [card] = await _cards(api, advisor, "2026-11-30")
    assert card["tijdvak"] == card["slot"]["start"] == "2026-11-30T12:00:00+00:00"
    assert card["merged"] is True and card["voicemail_allowed"] is False  # the victim's choice
    by_ref = {q["reference"]: q for q in card["requests"]}
    assert by_ref[victim["reference"]]["slot"]["start"] == "2026-11-30T12:00:00+00:00"
    assert by_ref[other["reference"]]["slot"]["start"] == "2026-12-22T13:00:00+00:00"
    assert by_ref[victim["reference"]]["being_called"] is True and by_ref[other["reference"]]["being_called"] is False
    assert {q["status"] for q in card["requests"]} == {"open"} and card["related"] == []
    assert await _cards(api, advisor, "2026-12-22") == []

    # Claimed, reached and closed for the request being called (the default).
    path = f"/api/agent/callbacks/{card['id']}"
    assert (await api.call("POST", f"{path}/claim", token=advisor))[0] == 200
    reached = await api.call("POST", f"{path}/attempts", {"result": "bereikt"}, token=advisor)
    assert reached[1]["state"] == "reached"
    status, closed = await api.call("POST", f"{path}/close", {"outcome": MELDING}, token=advisor)
    assert status == 200 and "handoff_id" in closed

    # The victim's link is used up; the other page has not changed by a single byte.
    assert (await api.call("GET", f"/api/callbacks/{victim['manage_token']}"))[0] == 404
    assert await _page(api, other["manage_token"]) == (200, before)

    # The other request waits, unclaimed, on a new callback in its own tijdvak; the card says
    # that this number asked before, and how that ended.
    [ended] = await _cards(api, advisor, "2026-11-30")
    assert ended["status"] == "closed" and [q["reference"] for q in ended["requests"]] == [victim["reference"]]
    assert ended["requests"][0]["status"] == "done"
    [carried] = await _cards(api, advisor, "2026-12-22")
    assert carried["id"] != card["id"] and carried["tijdvak"] == "2026-12-22T13:00:00+00:00"
    assert (carried["status"], carried["claimed_by"], carried["attempts"]) == ("open", None, 0)
    assert carried["voicemail_allowed"] is True and carried["merged"] is False
    assert [(q["reference"], q["status"], q["being_called"]) for q in carried["requests"]] == [
        (other["reference"], "open", True)
    ]
    [related] = carried["related"]
    assert related["id"] == card["id"] and related["status"] == "closed" and related["outcome"] == "melding"
    assert [q["reference"] for q in related["requests"]] == [victim["reference"]]

    # The handoff holds the victim's request only, with the attempt and what it was for.
    _, case = await api.call("GET", f"/api/agent/cases/{closed['handoff_id']}", token=advisor)
    handoff = case["handoff"]
    assert handoff["source_id"] == card["id"]
    assert [q["reference"] for q in handoff["requests"]] == [victim["reference"]]
    assert handoff["callback"]["attempts"][0]["requests"] == [victim["reference"]]
    assert "Karel" not in str(handoff)

    # The other caller can still move their own request, and is then called in that tijdvak.
    again = await api.call(
        "POST", f"/api/callbacks/{other['manage_token']}/reschedule", {"slot_start": "2026-12-23T11:00:00+01:00"}
    )
    assert again[0] == 200
    assert [c["id"] for c in await _cards(api, advisor, "2026-12-23")] == [carried["id"]]


async def test_an_earlier_request_after_a_later_one_moves_the_card_but_not_the_other_page(api2, both_servers):
    api = api2
    other = await _book(api, phone="06 12345678", slot_start=LATER, name="Karel")
    _, before = await _page(api, other["manage_token"])
    victim = await _book(api, phone="0612345678", slot_start=TODAY_13, name="Fatima", safe_to_leave_voicemail=True)
    assert await _page(api, other["manage_token"]) == (200, before)
    _, advisor = await agent_token(both_servers)
    [card] = await _cards(api, advisor, "2026-11-30")
    assert card["tijdvak"] == "2026-11-30T12:00:00+00:00" and card["voicemail_allowed"] is True
    assert [q["being_called"] for q in card["requests"]] == [False, True]  # in the order they were made
    assert await _cards(api, advisor, "2026-12-21") == []
    _, mine = await api.call("GET", f"/api/callbacks/{victim['manage_token']}")
    assert mine["slot"]["start"] == "2026-11-30T12:00:00+00:00"


async def test_attempts_apply_to_the_selected_requests(api2, both_servers):
    api = api2
    clock = both_servers.clock
    first = await _book(api, phone="06 12345678", slot_start="2026-11-30T10:00:00+01:00", name="A")
    second = await _book(
        api, phone="06 12345678", slot_start="2026-11-30T11:00:00+01:00", name="B", safe_to_leave_voicemail=True
    )
    gone = await _book(api, phone="06 12345678", slot_start="2026-11-30T12:00:00+01:00", name="C")
    assert (await api.call("POST", f"/api/callbacks/{gone['manage_token']}/cancel"))[0] == 200
    _, b_page = await _page(api, second["manage_token"])
    _, advisor = await agent_token(both_servers)
    [card] = await _cards(api, advisor, "2026-11-30")
    path = f"/api/agent/callbacks/{card['id']}"
    await api.call("POST", f"{path}/claim", token=advisor)
    clock.advance(hours=2, minutes=5)  # 10:05, in the first request's tijdvak

    # Voicemail: the request being called did not allow one, so not even for the one that did.
    for selection in (None, [second["reference"]], [first["reference"], second["reference"]]):
        body: dict[str, Any] = {"result": "voicemail"}
        if selection:
            body["requests"] = selection
        refused = await api.call("POST", f"{path}/attempts", body, token=advisor)
        assert refused[0] == 403 and refused[1]["error"]["reason"] == "no_voicemail", selection
    # Unknown, cancelled or another callback's references: refused as a whole, nothing written.
    for selection in (["VT-AAAAAA"], [gone["reference"]], [first["reference"], "VT-ZZZZZZ"]):
        bad = await api.call(
            "POST", f"{path}/attempts", {"result": "geen_gehoor", "requests": selection}, token=advisor
        )
        assert bad[0] == 422 and bad[1]["error"]["code"] == "invalid_input" and bad[1]["error"]["field"] == "requests"
        bad = await api.call("POST", f"{path}/close", {"outcome": MELDING, "requests": selection}, token=advisor)
        assert bad[0] == 422 and bad[1]["error"]["field"] == "requests"
    for body in ({"result": "geen_gehoor", "requests": []}, {"result": "geen_gehoor", "requests": "VT-AAAAAA"}):
        assert (await api.call("POST", f"{path}/attempts", body, token=advisor))[0] == 422
    [card] = await _cards(api, advisor, "2026-11-30")
    assert card["attempts"] == 0 and card["status"] == "claimed"

    # No answer up to the maximum: only the request being called is "niet bereikt".
    states = []
    for _ in range(3):
        answer = await api.call("POST", f"{path}/attempts", {"result": "geen_gehoor"}, token=advisor)
        states.append(answer[1]["state"])
    assert states == ["retry", "retry", "not_reached"]
    assert (await api.call("GET", f"/api/callbacks/{first['manage_token']}"))[0] == 404
    assert await _page(api, second["manage_token"]) == (200, b_page)
    cards = {c["id"]: c for c in await _cards(api, advisor, "2026-11-30")}
    ended = cards.pop(card["id"])
    assert ended["status"] == "not_reached"
    assert {q["reference"]: q["status"] for q in ended["requests"]} == {
        first["reference"]: "not_reached",
        gone["reference"]: "cancelled",
    }
    [carried] = cards.values()
    assert carried["tijdvak"] == "2026-11-30T10:00:00+00:00" and carried["voicemail_allowed"] is True
    assert [q["reference"] for q in carried["requests"]] == [second["reference"]]

    # The carried request allowed a voicemail, and is the one being called now.
    path = f"/api/agent/callbacks/{carried['id']}"
    await api.call("POST", f"{path}/claim", token=advisor)
    left = await api.call("POST", f"{path}/attempts", {"result": "voicemail"}, token=advisor)
    assert left[0] == 200 and left[1]["state"] == "retry" and left[1]["attempts"] == 1


async def test_voicemail_when_every_selected_request_allows_it(api2, both_servers):
    api = api2
    yes = await _book(api, slot_start="2026-11-30T10:00:00+01:00", safe_to_leave_voicemail=True)
    no = await _book(api, slot_start="2026-11-30T11:00:00+01:00", safe_to_leave_voicemail=False)
    _, advisor = await agent_token(both_servers)
    [card] = await _cards(api, advisor, "2026-11-30")
    assert card["voicemail_allowed"] is True
    path = f"/api/agent/callbacks/{card['id']}"
    await api.call("POST", f"{path}/claim", token=advisor)
    both = {"result": "voicemail", "requests": [yes["reference"], no["reference"]]}
    assert (await api.call("POST", f"{path}/attempts", both, token=advisor))[0] == 403
    allowed = await api.call("POST", f"{path}/attempts", {"result": "voicemail"}, token=advisor)
    assert allowed[0] == 200 and allowed[1]["attempts"] == 1
    # Wrong number for both: both end, nothing is carried over.
    wrong = {"result": "onjuist_nummer", "requests": [no["reference"], yes["reference"]]}
    assert (await api.call("POST", f"{path}/attempts", wrong, token=advisor))[1]["state"] == "wrong_number"
    [ended] = await _cards(api, advisor, "2026-11-30")
    assert ended["status"] == "wrong_number" and {q["status"] for q in ended["requests"]} == {"wrong_number"}
    for made in (yes, no):
        assert (await api.call("GET", f"/api/callbacks/{made['manage_token']}"))[0] == 404


async def test_cancel_moves_the_card_to_the_next_request_and_the_last_cancels_it(api2, both_servers):
    api = api2
    early = await _book(api, slot_start="2026-11-30T10:00:00+01:00")
    late = await _book(api, slot_start="2026-11-30T15:00:00+01:00")
    _, late_page = await _page(api, late["manage_token"])
    _, advisor = await agent_token(both_servers)
    assert (await api.call("POST", f"/api/callbacks/{early['manage_token']}/cancel"))[0] == 200
    [card] = await _cards(api, advisor, "2026-11-30")
    assert card["tijdvak"] == "2026-11-30T14:00:00+00:00"
    assert [(q["status"], q["being_called"]) for q in card["requests"]] == [("cancelled", False), ("open", True)]
    assert await _page(api, late["manage_token"]) == (200, late_page)
    assert (await api.call("POST", f"/api/callbacks/{late['manage_token']}/cancel"))[0] == 200
    assert await _cards(api, advisor, "2026-11-30") == []  # cancelled: off the list


async def test_no_change_once_the_own_tijdvak_started_and_passed_after_it(api2, both_servers):
    api = api2
    clock = both_servers.clock
    mine = await _book(api, slot_start="2026-11-30T10:00:00+01:00")
    later = await _book(api, slot_start="2026-11-30T15:00:00+01:00")
    token = mine["manage_token"]
    clock.advance(hours=2, minutes=1)  # 10:01: the tijdvak has started
    _, page = await _page(api, token)
    for method, path, body in (
        ("POST", f"/api/callbacks/{token}/cancel", None),
        ("POST", f"/api/callbacks/{token}/reschedule", {"slot_start": "2026-12-01T10:00:00+01:00"}),
    ):
        status, refused = await api.call(method, path, body)
        assert status == 409 and refused["error"]["code"] == "closed", refused
        assert "0800-2000" in refused["error"]["message"] and "0800-2000" in refused["error"]["message_en"]
    assert await _page(api, token) == (200, page)
    _, slots = await api.call("GET", "/api/callbacks/slots?kind=terugbellen&from=2026-12-01&days=1")
    assert next(s for s in slots["slots"] if s["start"] == "2026-12-01T09:00:00+00:00")["remaining"] == 2
    # The other request of the number can still be changed: its own tijdvak has not started.
    assert (await api.call("GET", f"/api/callbacks/{later['manage_token']}"))[1]["status"] == "open"
    clock.advance(hours=1)  # 11:01: the tijdvak is over and nobody called yet
    _, seen = await api.call("GET", f"/api/callbacks/{token}")
    assert seen["status"] == "passed" and seen["slot"]["start"] == "2026-11-30T09:00:00+00:00"
    assert (await api.call("GET", f"/api/callbacks/{later['manage_token']}"))[1]["status"] == "open"


async def test_ending_one_request_while_others_are_booked_and_moved_at_once(api2, both_servers):
    """A close, a reschedule of another request and a new booking of the same number, all at
    once: whichever order the database chooses, every open request ends up on the one open
    callback of the number, due in the earliest of their tijdvakken, and nothing fails."""
    api = api2
    _, advisor = await agent_token(both_servers)
    for round_ in range(4):
        phone, day = f"06 5555000{round_}", f"2026-12-{14 + round_}"  # Monday to Thursday
        victim = await _book(api, phone=phone, slot_start=f"2026-11-30T{13 + round_}:00:00+01:00")
        other = await _book(api, phone=phone, slot_start=f"{day}T10:00:00+01:00")
        [card] = [c for c in await _cards(api, advisor, "2026-11-30") if c["phone"] == phone]
        assert (await api.call("POST", f"/api/agent/callbacks/{card['id']}/claim", token=advisor))[0] == 200
        results = await asyncio.gather(
            api.call("POST", f"/api/agent/callbacks/{card['id']}/close", {"outcome": MELDING}, token=advisor),
            api.call(
                "POST", f"/api/callbacks/{other['manage_token']}/reschedule", {"slot_start": f"{day}T14:00:00+01:00"}
            ),
            # into the tijdvak the other request moves to: both take a place there at once
            api.call("POST", "/api/callbacks", booking(phone=phone, slot_start=f"{day}T14:00:00+01:00")),
        )
        assert [s for s, _ in results] == [200, 200, 201], results
        assert (await api.call("GET", f"/api/callbacks/{victim['manage_token']}"))[0] == 404
        _, seen = await api.call("GET", f"/api/callbacks/{other['manage_token']}")
        assert seen["slot"]["start"] == f"{day}T13:00:00+00:00"
        cards = [
            c
            for when in ("2026-11-30", day)
            for c in await _cards(api, advisor, when)
            if c["phone"] == phone and c["status"] == "open"
        ]
        [carried] = cards
        assert carried["tijdvak"] == f"{day}T13:00:00+00:00"  # both open requests are in it now
        assert sorted(q["reference"] for q in carried["requests"]) == sorted(
            [other["reference"], results[2][1]["reference"]]
        )
