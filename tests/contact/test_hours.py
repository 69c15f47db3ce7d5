"""Opening hours and working days, with Dutch public holidays from `holidays`."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from contact.hours import ChatHours, HoursError
from contact.workdays import add_working_days, is_working_day

AMS = ZoneInfo("Europe/Amsterdam")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


def test_open_on_a_working_day_in_daytime():
    hours = ChatHours("mon-fri 09:00-17:00")
    state = hours.state(at(2026, 11, 24, 10, 30))  # a Tuesday
    assert state.open and state.closes_at == at(2026, 11, 24, 17, 0) and state.opens_at is None


def test_closed_in_the_evening_opens_next_morning():
    state = ChatHours("mon-fri 09:00-17:00").state(at(2026, 11, 24, 17, 0))
    assert not state.open and state.opens_at == at(2026, 11, 25, 9, 0)


def test_weekend_opens_monday():
    state = ChatHours("mon-fri 09:00-17:00").state(at(2026, 11, 28, 12, 0))  # Saturday
    assert state.opens_at == at(2026, 11, 30, 9, 0)


def test_christmas_and_boxing_day_are_closed():
    # Thursday 24 Dec 2026 after closing: 25 and 26 Dec are holidays, then the weekend.
    state = ChatHours("mon-fri 09:00-17:00").state(at(2026, 12, 24, 18, 0))
    assert state.opens_at == at(2026, 12, 28, 9, 0)


def test_koningsdag_is_closed():
    state = ChatHours("mon-fri 09:00-17:00").state(at(2027, 4, 27, 11, 0))  # a Tuesday
    assert not state.open and state.opens_at == at(2027, 4, 28, 9, 0)


def test_across_daylight_saving_the_local_hour_holds():
    # Clocks go back on Sunday 25 Oct 2026; Monday still opens at 09:00 local (08:00 UTC).
    state = ChatHours("mon-fri 09:00-17:00").state(at(2026, 10, 24, 12, 0))
    assert state.opens_at == at(2026, 10, 26, 9, 0)
    assert state.opens_at.utcoffset().total_seconds() == 3600


def test_several_windows_and_always_open():
    hours = ChatHours("mon-thu 09:00-17:00; fri 09:00-12:00")
    assert not hours.state(at(2026, 11, 27, 13, 0)).open  # Friday afternoon
    assert hours.state(at(2026, 11, 26, 13, 0)).open
    always = ChatHours("24/7").state(at(2026, 12, 25, 3, 0))
    assert always.open and always.opens_at is None


@pytest.mark.parametrize(
    "spec",
    ["", "mon-fri", "mon-fri 9-17", "fri-mon 09:00-17:00", "mon 17:00-09:00", "xyz 09:00-10:00", "mon 25:00-26:00"],
)
def test_unreadable_hours_are_refused(spec):
    with pytest.raises(HoursError):
        ChatHours(spec)


def test_working_days_skip_weekends_and_holidays():
    assert not is_working_day(date(2027, 3, 29))  # Easter Monday
    assert not is_working_day(date(2027, 3, 26))  # Good Friday counts, as in the holidays package
    assert add_working_days(date(2027, 3, 25), 5) == date(2027, 4, 5)  # Thu + 5 across Easter
    assert add_working_days(date(2026, 12, 24), 5) == date(2027, 1, 4)  # across Christmas and New Year
