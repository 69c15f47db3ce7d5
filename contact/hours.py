"""Opening hours of the chat, e.g. `mon-fri 09:00-17:00` or `24/7`, closed on Dutch public holidays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from contact.workdays import is_public_holiday

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PART = re.compile(
    r"^(?P<d1>[a-z]{3})(?:-(?P<d2>[a-z]{3}))?\s+(?P<h1>\d{2}):(?P<m1>\d{2})-(?P<h2>\d{2}):(?P<m2>\d{2})$"
)


class HoursError(ValueError):
    """A `VT_CHAT_HOURS` value that cannot be read."""


@dataclass(frozen=True)
class Window:
    weekday: int  # 0 = Monday
    opens: time
    closes: time


@dataclass(frozen=True)
class HoursState:
    open: bool
    opens_at: datetime | None  # next opening when closed
    closes_at: datetime | None  # end of the current window when open


class ChatHours:
    """When the chat is open; working days only, so public holidays close it unless `24/7`."""

    def __init__(self, spec: str, tz: str = "Europe/Amsterdam") -> None:
        self.spec = spec.strip()
        self.tz = ZoneInfo(tz)
        self.always = self.spec.lower() == "24/7"
        self.windows: tuple[Window, ...] = () if self.always else self._parse(self.spec)

    @staticmethod
    def _parse(spec: str) -> tuple[Window, ...]:
        windows: list[Window] = []
        for raw in re.split(r"[;,]", spec.lower()):
            part = " ".join(raw.split())
            if not part:
                continue
            m = _PART.match(part)
            if not m or m["d1"] not in DAYS or (m["d2"] and m["d2"] not in DAYS):
                raise HoursError(f"cannot read chat hours {part!r}: expected e.g. 'mon-fri 09:00-17:00' or '24/7'")
            first = DAYS.index(m["d1"])
            last = DAYS.index(m["d2"]) if m["d2"] else first
            if last < first:
                raise HoursError(f"day range {part!r} runs backwards")
            try:
                opens = time(int(m["h1"]), int(m["m1"]))
                closes = time(int(m["h2"]), int(m["m2"]))
            except ValueError as exc:
                raise HoursError(f"invalid time in {part!r}") from exc
            if closes <= opens:
                raise HoursError(f"{part!r} closes before it opens")
            windows.extend(Window(d, opens, closes) for d in range(first, last + 1))
        if not windows:
            raise HoursError("no opening hours given")
        return tuple(sorted(windows, key=lambda w: (w.weekday, w.opens)))

    def state(self, now: datetime) -> HoursState:
        if self.always:
            return HoursState(True, None, None)
        local = now.astimezone(self.tz)
        for window_open, window_close in self._windows_from(local.date(), days=15):
            if window_close <= local:
                continue
            if window_open <= local:
                return HoursState(True, None, window_close)
            return HoursState(False, window_open, None)
        return HoursState(False, None, None)

    def _windows_from(self, start_day, days: int):
        for offset in range(days):
            day = start_day + timedelta(days=offset)
            if is_public_holiday(day):
                continue
            for w in self.windows:
                if w.weekday == day.weekday():
                    yield (
                        datetime.combine(day, w.opens, self.tz),
                        datetime.combine(day, w.closes, self.tz),
                    )


# --- Opening hours per team, set at run time (issue 17) ------------------------------------------
#
# A team's week pattern gives per weekday zero or more intervals in local time; exceptions are
# ranges in absolute time that open or close the team. Closed exceptions win over everything (an
# incident closes an extra evening shift too); open exceptions add to the pattern and open a
# public holiday for their time. A team without its own pattern uses VT_CHAT_HOURS.

MINUTES_PER_DAY = 24 * 60
MAX_INTERVALS_PER_DAY = 6
REASON_TEXT_MAX = 120
# How far ahead `opens_at` is looked for; a team closed longer has no `opens_at`.
HORIZON_DAYS = 62
_HHMM = re.compile(r"^(?P<h>[0-9]{2}):(?P<m>[0-9]{2})$")
DAY_NAMES_NL = ("maandag", "dinsdag", "woensdag", "donderdag", "vrijdag", "zaterdag", "zondag")

# The public reasons a supervisor may pick for a closure, in the visitor's words (B1, child level).
REASONS: dict[str, tuple[str, str]] = {
    "incident": (
        "We zijn nu even gesloten door een storing.",
        "We are closed for a moment because of a technical problem.",
    ),
    "training": ("We zijn nu gesloten voor een training.", "We are closed now for a training."),
    "holiday": ("We zijn vandaag gesloten.", "We are closed today."),
    "busy": (
        "Het is nu heel druk. Daarom is de chat even dicht.",
        "It is very busy now, so the chat is closed for a while.",
    ),
}
OTHER_REASON = "other"  # free text, at most REASON_TEXT_MAX characters, given by the supervisor


class HoursInvalid(ValueError):
    """A pattern or exception that cannot be used; `nl` names the problem for the supervisor."""

    def __init__(self, field: str, nl: str, en: str) -> None:
        super().__init__(en)
        self.field = field
        self.nl = nl
        self.en = en


@dataclass(frozen=True, order=True)
class Interval:
    """Minutes since local midnight; `end` may be 1440 (24:00)."""

    start: int
    end: int

    def label(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hhmm(value: object, field: str, *, allow_24: bool = False) -> int:
    """`09:30` as minutes since midnight; `24:00` only as an end."""
    m = _HHMM.match(value) if isinstance(value, str) and value.isascii() else None
    if m is None:
        raise HoursInvalid(field, f"Tijd {value!r} is geen UU:MM, bijvoorbeeld 09:00.", f"{value!r} is not HH:MM")
    hours, minutes = int(m["h"]), int(m["m"])
    if minutes > 59 or hours > 24 or (hours == 24 and (minutes or not allow_24)):
        raise HoursInvalid(field, f"Tijd {value} bestaat niet.", f"time {value} does not exist")
    return hours * 60 + minutes


@dataclass(frozen=True)
class TeamPattern:
    """A week: per weekday (0 = Monday) its intervals, sorted and apart."""

    days: tuple[tuple[Interval, ...], ...]
    closed_on_holidays: bool = True
    always: bool = False  # VT_CHAT_HOURS=24/7: open every hour, public holidays too

    @classmethod
    def from_chat_hours(cls, hours: ChatHours) -> TeamPattern:
        if hours.always:
            return cls(days=((Interval(0, MINUTES_PER_DAY),),) * 7, closed_on_holidays=False, always=True)
        per_day: list[list[Interval]] = [[] for _ in DAYS]
        for w in hours.windows:
            opens, closes = w.opens.hour * 60 + w.opens.minute, w.closes.hour * 60 + w.closes.minute
            per_day[w.weekday].append(Interval(opens, closes))
        return cls(days=tuple(tuple(_merge_minutes(d)) for d in per_day))

    @classmethod
    def parse(cls, days: object, closed_on_holidays: object = True) -> TeamPattern:
        """A pattern as the console sends it: `{"mon": [{"opens": "09:00", "closes": "17:00"}], ...}`.
        Days left out are closed. Anything wrong is `HoursInvalid` naming the day and interval."""
        if not isinstance(days, dict):
            raise HoursInvalid("days", "Geef de dagen als lijst per dag.", "days must be an object")
        if not isinstance(closed_on_holidays, bool):
            raise HoursInvalid(
                "closed_on_holidays", "Kies of de chat op feestdagen dicht is.", "closed_on_holidays must be true/false"
            )
        per_day: list[tuple[Interval, ...]] = [() for _ in DAYS]
        for key, raw in days.items():
            if key not in DAYS:
                raise HoursInvalid(
                    "days",
                    f"Onbekende dag {str(key)[:16]!r}: gebruik mon, tue, wed, thu, fri, sat of sun.",
                    "unknown day",
                )
            day = DAYS.index(key)
            name = DAY_NAMES_NL[day]
            field = f"days.{key}"
            if not isinstance(raw, list):
                raise HoursInvalid(field, f"Geef voor {name} een lijst met tijden.", "intervals must be a list")
            if len(raw) > MAX_INTERVALS_PER_DAY:
                raise HoursInvalid(
                    field,
                    f"Op {name} staan {len(raw)} blokken; het mogen er hoogstens {MAX_INTERVALS_PER_DAY} zijn.",
                    "too many intervals",
                )
            found: list[Interval] = []
            for i, item in enumerate(raw):
                where = f"{field}.{i}"
                if not isinstance(item, dict) or set(item) != {"opens", "closes"}:
                    raise HoursInvalid(where, f"Geef voor {name} een begin- en eindtijd.", "need opens and closes")
                start = parse_hhmm(item["opens"], f"{where}.opens")
                end = parse_hhmm(item["closes"], f"{where}.closes", allow_24=True)
                if end <= start:
                    raise HoursInvalid(
                        where,
                        f"Op {name} sluit {_hhmm(start)}-{_hhmm(end)} voordat het opent.",
                        "closes before it opens",
                    )
                found.append(Interval(start, end))
            found.sort()
            for a, b in zip(found, found[1:], strict=False):
                if b.start < a.end:
                    raise HoursInvalid(
                        field,
                        f"Op {name} overlappen {a.label()} en {b.label()}.",
                        "intervals overlap",
                    )
            per_day[day] = tuple(found)
        return cls(days=tuple(per_day), closed_on_holidays=closed_on_holidays)

    def to_json(self) -> dict[str, object]:
        return {
            "days": {
                DAYS[d]: [{"opens": _hhmm(i.start), "closes": _hhmm(i.end)} for i in self.days[d]] for d in range(7)
            },
            "closed_on_holidays": self.closed_on_holidays,
            "always": self.always,
        }


def _merge_minutes(intervals: list[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for i in sorted(intervals):
        if merged and i.start <= merged[-1].end:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, i.end))
        else:
            merged.append(i)
    return merged


@dataclass(frozen=True)
class HoursException:
    """One date or date-time range of a team, in absolute time: open (an extra shift, a holiday
    opened) or closed (a holiday, an incident), with the reason visitors see when closed."""

    id: str
    starts_at: datetime
    ends_at: datetime
    open: bool
    reason: str | None = None  # a key of REASONS, OTHER_REASON, or None
    reason_text: str | None = None
    reason_text_en: str | None = None

    def public_reason(self) -> dict[str, str] | None:
        if self.open or self.reason is None:
            return None
        if self.reason == OTHER_REASON:
            nl = self.reason_text or ""
            return {"code": OTHER_REASON, "nl": nl, "en": self.reason_text_en or nl}
        nl, en = REASONS[self.reason]
        return {"code": self.reason, "nl": nl, "en": en}


def check_reason(reason: object, text: object, text_en: object) -> tuple[str | None, str | None, str | None]:
    """The reason of a closure: none, one of REASONS, or `other` with a short single-line text."""
    if reason is None:
        if text is not None or text_en is not None:
            raise HoursInvalid("reason", "Kies 'anders' om zelf een reden te typen.", "text needs reason 'other'")
        return None, None, None
    if reason != OTHER_REASON and reason not in REASONS:
        raise HoursInvalid("reason", "Deze reden kennen we niet.", "unknown reason")
    if reason != OTHER_REASON:
        if text is not None or text_en is not None:
            raise HoursInvalid("reason_text", "Een eigen tekst hoort bij de reden 'anders'.", "text needs 'other'")
        return str(reason), None, None
    texts: list[str | None] = []
    for value, field in ((text, "reason_text"), (text_en, "reason_text_en")):
        if value is None and field == "reason_text_en":
            texts.append(None)
            continue
        if not isinstance(value, str) or not value.strip():
            raise HoursInvalid(field, "Typ een korte reden.", "give a short reason")
        clean = " ".join(value.split())
        if len(clean) > REASON_TEXT_MAX or any(not ch.isprintable() for ch in clean):
            raise HoursInvalid(
                field, f"De reden is te lang: hoogstens {REASON_TEXT_MAX} tekens op één regel.", "reason too long"
            )
        texts.append(clean)
    return OTHER_REASON, texts[0], texts[1]


@dataclass(frozen=True)
class TeamState:
    open: bool
    opens_at: datetime | None  # next opening when closed (local time)
    closes_at: datetime | None  # end of the current opening when open (local time)
    reason: dict[str, str] | None = None  # why closed now, when a closure with a public reason says so


def _local(day: date, minutes: int, tz: ZoneInfo) -> datetime:
    """The UTC moment of `minutes` after local midnight of `day`; 24:00 is the next midnight.
    A wall time that does not exist (the spring-forward hour) counts as the offset before it."""
    extra, minutes = divmod(minutes, MINUTES_PER_DAY)
    moment = datetime.combine(day + timedelta(days=extra), time(minutes // 60, minutes % 60), tz)
    return moment.astimezone(UTC)


def _merge(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(ranges):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(ranges: list[tuple[datetime, datetime]], cuts: list[tuple[datetime, datetime]]):
    out = ranges
    for cut_start, cut_end in _merge(cuts):
        nxt: list[tuple[datetime, datetime]] = []
        for start, end in out:
            if cut_end <= start or end <= cut_start:
                nxt.append((start, end))
                continue
            if start < cut_start:
                nxt.append((start, cut_start))
            if cut_end < end:
                nxt.append((cut_end, end))
        out = nxt
    return out


def open_ranges(
    pattern: TeamPattern,
    exceptions: tuple[HoursException, ...] | list[HoursException],
    first_day: date,
    days: int,
    tz: ZoneInfo,
) -> list[tuple[datetime, datetime]]:
    """The team's open time from local midnight of `first_day` for `days` days, merged, in UTC."""
    begin, finish = _local(first_day, 0, tz), _local(first_day + timedelta(days=days), 0, tz)
    ranges: list[tuple[datetime, datetime]] = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        if pattern.closed_on_holidays and is_public_holiday(day):
            continue
        ranges.extend((_local(day, i.start, tz), _local(day, i.end, tz)) for i in pattern.days[day.weekday()])
    ranges.extend((max(e.starts_at, begin), min(e.ends_at, finish)) for e in exceptions if e.open)
    closed = [(e.starts_at, e.ends_at) for e in exceptions if not e.open]
    return _merge(_subtract(_merge(ranges), closed))


def team_state(
    pattern: TeamPattern,
    exceptions: tuple[HoursException, ...] | list[HoursException],
    now: datetime,
    tz: ZoneInfo,
    horizon_days: int = HORIZON_DAYS,
) -> TeamState:
    """Open or closed at `now`, and when that changes (within `horizon_days`). A week ahead
    answers nearly always; only when it does not is the whole horizon computed."""
    now = now.astimezone(UTC)
    today = now.astimezone(tz).date()
    for days in (min(8, horizon_days), horizon_days):
        ranges = open_ranges(pattern, exceptions, today, days, tz)
        window_end = _local(today + timedelta(days=days), 0, tz)
        for start, end in ranges:
            if end <= now:
                continue
            if start <= now:
                if end < window_end:
                    return TeamState(True, None, end.astimezone(tz))
                break  # open up to the window's end: look further (or no end in sight)
            return TeamState(False, start.astimezone(tz), None, _closed_reason(exceptions, now))
        else:
            if days == horizon_days:
                return TeamState(False, None, None, _closed_reason(exceptions, now))
            continue
        if days == horizon_days:
            return TeamState(True, None, None)
    raise AssertionError("unreachable")  # pragma: no cover


def _closed_reason(exceptions, now: datetime) -> dict[str, str] | None:
    current = [e for e in exceptions if not e.open and e.starts_at <= now < e.ends_at and e.reason]
    return current[-1].public_reason() if current else None


def union_state(states: list[TeamState]) -> TeamState:
    """The chat as a whole: open while any team is; opens with the first team that opens."""
    open_ones = [s for s in states if s.open]
    if open_ones:
        ends = [s.closes_at for s in open_ones]
        return TeamState(True, None, None if any(e is None for e in ends) else max(e for e in ends if e is not None))
    opens = [s.opens_at for s in states if s.opens_at is not None]
    return TeamState(False, min(opens) if opens else None, None)


def local_range(value: object, field: str, tz: ZoneInfo, *, end: bool) -> datetime:
    """A date (`2026-12-24`: that whole local day, so its start or the next midnight as an end)
    or a date-time (`2026-12-24T19:00`, local when it has no offset) as a UTC moment."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 32:
        raise HoursInvalid(field, "Geef een datum (JJJJ-MM-DD) of datum en tijd.", "expected a date or date-time")
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return _local(day + timedelta(days=1) if end else day, 0, tz)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise HoursInvalid(field, f"{value!r} is geen datum of tijd.", "not a date or date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def check_range(starts_at: datetime, ends_at: datetime, now: datetime, max_days: int = 366) -> None:
    if ends_at <= starts_at:
        raise HoursInvalid("ends_at", "Het einde ligt voor (of op) het begin.", "ends before it starts")
    if ends_at <= now:
        raise HoursInvalid("ends_at", "Deze uitzondering is al voorbij.", "already over")
    if ends_at - starts_at > timedelta(days=max_days) or starts_at - now > timedelta(days=3 * 366):
        raise HoursInvalid("ends_at", "Deze uitzondering is te lang of te ver weg.", "range too long or too far")
