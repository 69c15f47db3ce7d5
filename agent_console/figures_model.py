"""Management figures, the pure part: which counters a day has, how samples (seconds) become
p50/p90, how days group into ISO weeks and months, the period a request may ask for, and the
rows of the JSON and CSV answer. No database, no transport: agent_console/figures.py feeds it
(the definitions of every figure are in docs/figures.md)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from contact.errors import DomainError

# Plain counters of one day and team (stored as they are in `figures_day`).
COUNTERS = (
    "chats_offered",
    "chats_answered",
    "chats_abandoned",
    "outcome_advies",
    "outcome_melding",
    "outcome_geen",
    "crisis_alarms",
    "crisis_acknowledged",
    "callbacks_requested",
    "callbacks_cancelled",
    "callbacks_reached",
    "callbacks_not_reached",
    "callbacks_wrong_number",
    "tijdvak_capacity",
    "tijdvak_booked",
    "meldingen",
    "meldingen_deadline_met",
    "meldingen_deadline_missed",
    "hermeldingen",
)
# Durations in whole seconds, kept as "how many times each value occurred" (no ids), so
# percentiles of any period can be computed from the days it covers.
SAMPLES = ("wait_s", "talk_s", "crisis_ack_s", "nawerk_s")
SAMPLE_SEP = ":"

GROUPS = ("day", "week", "month")
MAX_DAYS = 400
# A team-less figure (tijdvakken are not a team's) is stored with this team.
NO_TEAM = ""

# The columns of a row, in the order of the CSV header.
COLUMNS = (
    "period",
    "team",
    "chats_offered",
    "chats_answered",
    "chats_abandoned",
    "wait_p50_s",
    "wait_p90_s",
    "talk_mean_s",
    "talk_p50_s",
    "nawerk_mean_s",
    "outcome_advies",
    "outcome_melding",
    "outcome_geen",
    "crisis_alarms",
    "crisis_acknowledged",
    "crisis_ack_p50_s",
    "crisis_ack_max_s",
    "callbacks_requested",
    "callbacks_cancelled",
    "callbacks_reached",
    "callbacks_not_reached",
    "callbacks_wrong_number",
    "tijdvak_capacity",
    "tijdvak_booked",
    "tijdvak_use",
    "meldingen",
    "meldingen_deadline_met",
    "meldingen_deadline_missed",
    "deadline_met_share",
    "hermeldingen",
    "nawerk_p50_s",
)


@dataclass
class Tally:
    """The figures of one day and team (or of a period: tallies add up)."""

    counts: Counter[str] = field(default_factory=Counter)
    samples: dict[str, Counter[int]] = field(default_factory=dict)

    def count(self, name: str, n: int = 1) -> None:
        assert name in COUNTERS, name
        self.counts[name] += n

    def sample(self, name: str, seconds: float) -> None:
        assert name in SAMPLES, name
        self.samples.setdefault(name, Counter())[max(0, round(seconds))] += 1

    def add(self, other: Tally) -> None:
        self.counts.update(other.counts)
        for name, values in other.samples.items():
            self.samples.setdefault(name, Counter()).update(values)

    def stored(self) -> dict[str, int]:
        """The rows of `figures_day` for this tally: figure name -> value (zeros left out)."""
        out = {name: n for name, n in self.counts.items() if n}
        for name, values in self.samples.items():
            for seconds, n in values.items():
                if n:
                    out[f"{name}{SAMPLE_SEP}{seconds}"] = n
        return out

    @classmethod
    def from_stored(cls, rows: Iterable[tuple[str, int]]) -> Tally:
        tally = cls()
        for figure, value in rows:
            name, _, seconds = figure.partition(SAMPLE_SEP)
            if seconds and name in SAMPLES:
                tally.samples.setdefault(name, Counter())[int(seconds)] += value
            elif name in COUNTERS:
                tally.counts[name] += value
        return tally


def percentile(values: Mapping[int, int], p: float) -> int | None:
    """The nearest-rank percentile: the smallest value with at least ceil(p * n) samples at or
    below it (p50 of 10, 20, 30, 40 is 20; p90 is 40). None without samples."""
    n = sum(values.values())
    if n == 0:
        return None
    rank = max(1, math.ceil(p * n))
    seen = 0
    for value in sorted(values):
        seen += values[value]
        if seen >= rank:
            return value
    return max(values)  # pragma: no cover - rank <= n always stops above


def mean(values: Mapping[int, int]) -> float | None:
    n = sum(values.values())
    return round(sum(v * c for v, c in values.items()) / n, 1) if n else None


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def period_of(day: date, group: str) -> str:
    """The label of the period a day belongs to: the day, its ISO week (2026-W49) or its month."""
    if group == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if group == "month":
        return f"{day.year}-{day.month:02d}"
    return day.isoformat()


def row(period: str, team: str | None, tally: Tally) -> dict[str, Any]:
    """One row of the answer: counters, percentiles and shares of one period and team."""
    c, s = tally.counts, tally.samples
    wait, talk, ack = s.get("wait_s", Counter()), s.get("talk_s", Counter()), s.get("crisis_ack_s", Counter())
    nawerk = s.get("nawerk_s", Counter())
    met, missed = c["meldingen_deadline_met"], c["meldingen_deadline_missed"]
    out: dict[str, Any] = {"period": period, "team": team}
    out.update({name: c[name] for name in COUNTERS})
    out.update(
        {
            "wait_p50_s": percentile(wait, 0.5),
            "wait_p90_s": percentile(wait, 0.9),
            "talk_mean_s": mean(talk),
            "talk_p50_s": percentile(talk, 0.5),
            "nawerk_mean_s": mean(nawerk),
            "nawerk_p50_s": percentile(nawerk, 0.5),
            "crisis_ack_p50_s": percentile(ack, 0.5),
            "crisis_ack_max_s": max(ack) if ack else None,
            "tijdvak_use": share(c["tijdvak_booked"], c["tijdvak_capacity"]),
            "deadline_met_share": share(met, met + missed),
        }
    )
    return {name: out[name] for name in COLUMNS}


def period_days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_day(value: str | None, name: str, default: date) -> date:
    """A `YYYY-MM-DD` query value (only that form), or `invalid_input` with `field`."""
    if value is None:
        return default
    if len(value) == 10 and value.isascii():
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise DomainError("invalid_input", field=name)


def check_period(first: date, last: date) -> None:
    if first > last:
        raise DomainError("invalid_input", field="from")
    if (last - first).days + 1 > MAX_DAYS:
        raise DomainError("invalid_input", field="to", limit=MAX_DAYS)


def csv_cell(value: Any) -> str:
    """A CSV cell no spreadsheet runs as a formula: text starting with =, +, -, @, tab or CR
    gets a leading quote (numbers are written as they are)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
