"""The deadline of the safety assessment: 5 Dutch working days after receipt; spoed is today."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from cases.deadlines import safety_assessment_deadline


def at(y, m, d, hour=10):
    return datetime(y, m, d, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("received", "deadline"),
    [
        (at(2026, 11, 24), date(2026, 12, 1)),  # Tuesday → next Tuesday
        (at(2026, 11, 27), date(2026, 12, 4)),  # Friday → Friday, over one weekend
        (at(2026, 11, 28), date(2026, 12, 4)),  # received on Saturday: counting starts Monday
        # Thursday before Easter: Good Friday (a public holiday in `holidays` NL) and Easter Monday skipped.
        (at(2026, 4, 2), date(2026, 4, 13)),
        (at(2026, 4, 3), date(2026, 4, 13)),  # received on Good Friday itself
        (at(2026, 4, 6), date(2026, 4, 13)),  # received on Easter Monday
        (at(2026, 12, 23), date(2026, 12, 31)),  # Christmas Day (a Friday) skipped, Boxing Day is a Saturday
        (at(2026, 12, 24), date(2027, 1, 4)),  # and New Year's Day skipped too
        (at(2026, 4, 24), date(2026, 5, 4)),  # Koningsdag (Monday 27 April) skipped
        (at(2027, 5, 5), date(2027, 5, 13)),  # Ascension Day (6 May 2027) skipped
    ],
)
def test_five_working_days(received, deadline):
    assert safety_assessment_deadline(received, "midden") == deadline


def test_the_local_date_counts_not_the_utc_one():
    # Friday 23:30 in Amsterdam is still Friday, though it is 22:30 UTC; Saturday 00:30 is Saturday.
    assert safety_assessment_deadline(datetime(2026, 11, 27, 22, 30, tzinfo=UTC), "hoog") == date(2026, 12, 4)
    assert safety_assessment_deadline(datetime(2026, 11, 27, 23, 30, tzinfo=UTC), "hoog") == date(2026, 12, 4)
    assert safety_assessment_deadline(datetime(2026, 11, 26, 23, 30, tzinfo=UTC), "hoog") == date(2026, 12, 4)


def test_spoed_is_today_even_on_a_holiday():
    assert safety_assessment_deadline(at(2026, 12, 25), "spoed") == date(2026, 12, 25)


def test_naive_time_is_refused():
    with pytest.raises(ValueError):
        safety_assessment_deadline(datetime(2026, 11, 24, 10), "midden")
