"""Dutch working days (contact/workdays.py): the holiday tables are built at start-up."""

from __future__ import annotations

from datetime import date


def test_warm_builds_this_and_next_years_tables_once() -> None:
    """Start-up builds the tables (app/lifecycles.py), so no job or request pays for the first one."""
    from contact import workdays

    workdays._dutch_holidays.cache_clear()
    workdays.warm(date(2026, 12, 1))
    assert workdays._dutch_holidays.cache_info().currsize == 2
    assert workdays.is_public_holiday(date(2027, 4, 27))  # Koningsdag, from the warmed table
    assert workdays._dutch_holidays.cache_info().misses == 2
