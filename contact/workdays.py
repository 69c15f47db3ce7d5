"""Dutch working days: weekdays that are not national public holidays (from `holidays`)."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _dutch_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("NL", years=year)


def warm(today: date) -> None:
    """Build this year's and next year's holiday tables now: the first one built in a process also
    loads every country module of `holidays` (about 250), which on the event loop, inside the
    first job or request that asks, stalled everything else for 100–200 ms (docs/performance.md)."""
    _dutch_holidays(today.year)
    _dutch_holidays(today.year + 1)


def is_public_holiday(day: date) -> bool:
    return day in _dutch_holidays(day.year)


def holiday_name(day: date) -> str | None:
    return _dutch_holidays(day.year).get(day)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and not is_public_holiday(day)


def add_working_days(day: date, count: int) -> date:
    """The date `count` working days after `day` (the day itself not counted)."""
    if count < 0:
        raise ValueError("count must be zero or more")
    current = day
    while count:
        current += timedelta(days=1)
        if is_working_day(current):
            count -= 1
    return current
