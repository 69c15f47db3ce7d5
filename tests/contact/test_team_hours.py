"""Opening hours per team (pure rules): week patterns with several intervals, exceptions that
open or close, Dutch public holidays, daylight-saving days and midnight."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from contact.hours import (
    ChatHours,
    HoursException,
    HoursInvalid,
    TeamPattern,
    TeamState,
    check_range,
    check_reason,
    local_range,
    open_ranges,
    team_state,
    union_state,
)

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


def iv(opens: str, closes: str) -> dict[str, str]:
    return {"opens": opens, "closes": closes}


WEEKDAYS = {d: [iv("09:00", "17:00"), iv("19:00", "22:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
EVENINGS = TeamPattern.parse(WEEKDAYS)


def exc(start: datetime, end: datetime, open: bool, reason: str | None = None, text: str | None = None):
    return HoursException("x", start.astimezone(UTC), end.astimezone(UTC), open, reason, text)


def test_two_intervals_a_day_open_and_closed_between():
    assert team_state(EVENINGS, [], at(2026, 11, 24, 10, 0), AMS) == TeamState(True, None, at(2026, 11, 24, 17, 0))
    between = team_state(EVENINGS, [], at(2026, 11, 24, 18, 0), AMS)
    assert not between.open and between.opens_at == at(2026, 11, 24, 19, 0)
    assert team_state(EVENINGS, [], at(2026, 11, 24, 21, 59), AMS).closes_at == at(2026, 11, 24, 22, 0)
    friday_night = team_state(EVENINGS, [], at(2026, 11, 27, 22, 0), AMS)  # the end is not open
    assert not friday_night.open and friday_night.opens_at == at(2026, 11, 30, 9, 0)


def test_the_default_pattern_is_vt_chat_hours():
    default = TeamPattern.from_chat_hours(ChatHours("mon-fri 09:00-17:00"))
    for moment in (at(2026, 11, 24, 10, 0), at(2026, 11, 24, 18, 0), at(2026, 12, 24, 18, 0), at(2027, 4, 27, 11, 0)):
        old = ChatHours("mon-fri 09:00-17:00").state(moment)
        new = team_state(default, [], moment, AMS)
        assert (new.open, new.opens_at, new.closes_at) == (old.open, old.opens_at, old.closes_at)


def test_always_open_keeps_holidays_open_without_a_closing_time():
    always = TeamPattern.from_chat_hours(ChatHours("24/7"))
    assert team_state(always, [], at(2026, 12, 25, 3, 0), AMS) == TeamState(True, None, None)
    # ... until a closure says otherwise.
    closed = exc(at(2026, 12, 25, 2, 0), at(2026, 12, 25, 6, 0), False, "incident")
    state = team_state(always, [closed], at(2026, 12, 25, 3, 0), AMS)
    assert not state.open and state.opens_at == at(2026, 12, 25, 6, 0) and state.reason["code"] == "incident"
    assert team_state(always, [closed], at(2026, 12, 25, 1, 0), AMS).closes_at == at(2026, 12, 25, 2, 0)


def test_public_holiday_closed_unless_an_exception_opens_it_or_the_pattern_says_so():
    christmas = at(2026, 12, 25, 10, 0)  # a Friday
    assert not team_state(EVENINGS, [], christmas, AMS).open
    opened = exc(at(2026, 12, 25, 10, 0), at(2026, 12, 25, 14, 0), True)
    assert team_state(EVENINGS, [opened], christmas, AMS) == TeamState(True, None, at(2026, 12, 25, 14, 0))
    holidays_open = TeamPattern.parse(WEEKDAYS, closed_on_holidays=False)
    assert team_state(holidays_open, [], christmas, AMS).open


def test_a_closed_date_is_a_holiday_of_our_own():
    day = exc(at(2026, 11, 25, 0, 0), at(2026, 11, 26, 0, 0), False, "holiday")
    state = team_state(EVENINGS, [day], at(2026, 11, 25, 10, 0), AMS)
    assert not state.open and state.opens_at == at(2026, 11, 26, 9, 0)
    assert state.reason == {"code": "holiday", "nl": "We zijn vandaag gesloten.", "en": "We are closed today."}
    # The evening before, the last interval still ends at 22:00, not later.
    assert team_state(EVENINGS, [day], at(2026, 11, 24, 20, 0), AMS).closes_at == at(2026, 11, 24, 22, 0)


def test_an_extra_evening_shift_joins_the_pattern():
    shift = exc(at(2026, 11, 28, 19, 0), at(2026, 11, 28, 23, 0), True)  # a Saturday
    assert team_state(EVENINGS, [shift], at(2026, 11, 28, 12, 0), AMS).opens_at == at(2026, 11, 28, 19, 0)
    # Adjoining the pattern it extends the opening: closes_at is the end of both together.
    late = exc(at(2026, 11, 24, 22, 0), at(2026, 11, 24, 23, 30), True)
    assert team_state(EVENINGS, [late], at(2026, 11, 24, 20, 0), AMS).closes_at == at(2026, 11, 24, 23, 30)


def test_closed_now_for_an_incident_wins_over_an_open_shift():
    shift = exc(at(2026, 11, 24, 19, 0), at(2026, 11, 24, 23, 0), True)
    incident = exc(at(2026, 11, 24, 10, 0), at(2026, 11, 24, 20, 0), False, "other", "Storing bij de telefooncentrale")
    state = team_state(EVENINGS, [shift, incident], at(2026, 11, 24, 10, 30), AMS)
    assert not state.open and state.opens_at == at(2026, 11, 24, 20, 0)
    assert state.reason == {
        "code": "other",
        "nl": "Storing bij de telefooncentrale",
        "en": "Storing bij de telefooncentrale",
    }
    assert team_state(EVENINGS, [shift, incident], at(2026, 11, 24, 20, 0), AMS).closes_at == at(2026, 11, 24, 23, 0)


def test_across_midnight_two_days_make_one_opening():
    night = TeamPattern.parse({"sat": [iv("20:00", "24:00")], "sun": [iv("00:00", "02:00")]})
    state = team_state(night, [], at(2026, 11, 28, 23, 0), AMS)
    assert state.open and state.closes_at == at(2026, 11, 29, 2, 0)
    assert team_state(night, [], at(2026, 11, 29, 1, 0), AMS).closes_at == at(2026, 11, 29, 2, 0)
    assert team_state(night, [], at(2026, 11, 29, 2, 0), AMS).opens_at == at(2026, 12, 5, 20, 0)


def test_daylight_saving_days_keep_local_times_and_true_lengths():
    whole = TeamPattern.parse({"sun": [iv("00:00", "24:00")]})
    # 29 March 2026: clocks go forward at 02:00, the day has 23 hours.
    spring = open_ranges(whole, [], at(2026, 3, 29, 0, 0).date(), 1, AMS)
    assert [(e - s).total_seconds() / 3600 for s, e in spring] == [23.0]
    # 25 October 2026: clocks go back at 03:00, the day has 25 hours.
    autumn = open_ranges(whole, [], at(2026, 10, 25, 0, 0).date(), 1, AMS)
    assert [(e - s).total_seconds() / 3600 for s, e in autumn] == [25.0]
    # After the switch the local opening hour holds (09:00 CET = 08:00 UTC, 09:00 CEST = 07:00 UTC).
    monday = team_state(EVENINGS, [], datetime(2026, 10, 26, 7, 30, tzinfo=UTC), AMS)
    assert not monday.open and monday.opens_at == at(2026, 10, 26, 9, 0)
    assert team_state(EVENINGS, [], datetime(2026, 3, 30, 7, 30, tzinfo=UTC), AMS).open  # 09:30 CEST
    # An interval starting in the hour that does not exist counts from the hour after it.
    lost = TeamPattern.parse({"sun": [iv("02:30", "04:00")]})
    assert team_state(lost, [], at(2026, 3, 29, 1, 0), AMS).opens_at == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)


def test_union_is_open_while_any_team_is():
    a = TeamState(True, None, at(2026, 11, 24, 17, 0))
    b = TeamState(True, None, at(2026, 11, 24, 22, 0))
    c = TeamState(False, at(2026, 11, 25, 9, 0), None)
    d = TeamState(False, at(2026, 11, 24, 19, 0), None)
    assert union_state([a, b, c]) == TeamState(True, None, at(2026, 11, 24, 22, 0))
    assert union_state([c, d]) == TeamState(False, at(2026, 11, 24, 19, 0), None)
    assert union_state([TeamState(False, None, None)]) == TeamState(False, None, None)


@pytest.mark.parametrize(
    ("days", "field", "words"),
    [
        ({"mon": [iv("09:00", "17:00"), iv("16:00", "18:00")]}, "days.mon", "overlappen 09:00-17:00 en 16:00-18:00"),
        ({"tue": [iv("17:00", "09:00")]}, "days.tue.0", "sluit 17:00-09:00 voordat het opent"),
        ({"tue": [iv("09:00", "09:00")]}, "days.tue.0", "voordat het opent"),
        ({"maandag": [iv("09:00", "17:00")]}, "days", "Onbekende dag"),
        ({"wed": [iv("9:00", "17:00")]}, "days.wed.0.opens", "geen UU:MM"),
        ({"wed": [iv("09:00", "25:00")]}, "days.wed.0.closes", "bestaat niet"),
        ({"wed": [iv("09:60", "17:00")]}, "days.wed.0.opens", "bestaat niet"),
        ({"wed": [iv("24:00", "24:00")]}, "days.wed.0.opens", "bestaat niet"),
        ({"wed": [iv("٠٩:00", "17:00")]}, "days.wed.0.opens", "geen UU:MM"),
        ({"thu": [iv(f"{h:02d}:00", f"{h:02d}:30") for h in range(7)]}, "days.thu", "hoogstens 6"),
        ({"fri": [{"opens": "09:00"}]}, "days.fri.0", "begin- en eindtijd"),
        ({"fri": "09:00-17:00"}, "days.fri", "lijst"),
    ],
)
def test_a_bad_pattern_names_the_problem_in_dutch(days, field, words):
    with pytest.raises(HoursInvalid) as caught:
        TeamPattern.parse(days)
    assert caught.value.field == field and words in caught.value.nl


def test_a_pattern_round_trips_and_adjoining_intervals_are_allowed():
    pattern = TeamPattern.parse({"mon": [iv("13:00", "24:00"), iv("09:00", "13:00")]})
    assert pattern.to_json()["days"]["mon"] == [iv("09:00", "13:00"), iv("13:00", "24:00")]
    assert TeamPattern.parse(pattern.to_json()["days"]) == pattern


def test_dates_and_times_of_exceptions():
    assert local_range("2026-12-24", "starts_at", AMS, end=False) == at(2026, 12, 24, 0, 0).astimezone(UTC)
    assert local_range("2026-12-24", "ends_at", AMS, end=True) == at(2026, 12, 25, 0, 0).astimezone(UTC)
    assert local_range("2026-12-24T19:00", "s", AMS, end=False) == at(2026, 12, 24, 19, 0).astimezone(UTC)
    assert local_range("2026-12-24T19:00+00:00", "s", AMS, end=False) == datetime(2026, 12, 24, 19, tzinfo=UTC)
    for bad in ("24-12-2026", "morgen", "", 5, "2026-02-30"):
        with pytest.raises(HoursInvalid):
            local_range(bad, "starts_at", AMS, end=False)
    now = at(2026, 11, 24, 10, 0)
    with pytest.raises(HoursInvalid, match="ends before") as caught:
        check_range(at(2026, 12, 2, 0, 0), at(2026, 12, 1, 0, 0), now)
    assert "voor" in caught.value.nl
    with pytest.raises(HoursInvalid, match="already over"):
        check_range(at(2026, 11, 1, 0, 0), at(2026, 11, 2, 0, 0), now)


def test_reasons_are_fixed_or_short_free_text():
    assert check_reason(None, None, None) == (None, None, None)
    assert check_reason("incident", None, None) == ("incident", None, None)
    assert check_reason("other", "  Korte   storing ", None) == ("other", "Korte storing", None)
    bad = [("onzin", None, None), ("other", None, None), ("other", "x" * 121, None), ("other", "a\u0000b", None),
           ("incident", "extra", None), (None, "tekst", None)]  # fmt: skip
    for reason, text, en in bad:
        with pytest.raises(HoursInvalid):
            check_reason(reason, text, en)
