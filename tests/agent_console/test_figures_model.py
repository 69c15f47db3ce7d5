"""The pure part of the figures: percentiles, grouping, stored form, CSV cells, periods."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest

from agent_console.figures_model import (
    Tally,
    check_period,
    csv_cell,
    parse_day,
    percentile,
    period_of,
    row,
)
from contact.errors import DomainError


def test_nearest_rank_percentiles():
    assert percentile(Counter({10: 1, 20: 1, 30: 1, 40: 1}), 0.5) == 20
    assert percentile(Counter({10: 1, 20: 1, 30: 1, 40: 1}), 0.9) == 40
    assert percentile(Counter({7: 9, 600: 1}), 0.9) == 7
    assert percentile(Counter(), 0.5) is None


def test_tallies_survive_their_stored_form_and_add_up():
    t = Tally()
    t.count("chats_offered", 3)
    t.sample("wait_s", 12.4)
    t.sample("wait_s", 12.6)
    stored = t.stored()
    assert stored == {"chats_offered": 3, "wait_s:12": 1, "wait_s:13": 1}
    back = Tally.from_stored(stored.items())
    back.add(t)
    r = row("2026-11-30", "jeugd", back)
    assert (r["chats_offered"], r["wait_p50_s"], r["wait_p90_s"]) == (6, 12, 13)
    assert r["nawerk_mean_s"] is None and r["deadline_met_share"] is None and r["tijdvak_use"] is None


def test_periods_use_iso_weeks_and_months():
    assert period_of(date(2026, 12, 31), "week") == "2026-W53"
    assert period_of(date(2027, 1, 1), "week") == "2026-W53"
    assert period_of(date(2027, 1, 1), "month") == "2027-01"
    assert period_of(date(2027, 1, 1), "day") == "2027-01-01"


def test_csv_cells_never_start_a_formula():
    assert [csv_cell(v) for v in ("=1+1", "+31", "-2", "@x", "\tx", "jeugd", None, 3, 0.5)] == [
        "'=1+1", "'+31", "'-2", "'@x", "'\tx", "jeugd", "", "3", "0.5"
    ]  # fmt: skip


@pytest.mark.parametrize("value", ["2026-1-01", "01-12-2026", "2026-02-30", "２０２６-01-01", ""])
def test_bad_days_are_invalid_input(value):
    with pytest.raises(DomainError) as found:
        parse_day(value, "from", date(2026, 1, 1))
    assert found.value.code == "invalid_input"


def test_periods_are_at_most_400_days_and_in_order():
    check_period(date(2026, 1, 1), date(2027, 2, 4))  # 400 days
    for first, last in ((date(2026, 1, 2), date(2026, 1, 1)), (date(2026, 1, 1), date(2027, 2, 5))):
        with pytest.raises(DomainError):
            check_period(first, last)
