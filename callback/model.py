"""Plain values and rules of callbacks: which tijdvakken exist, which may be booked, when to call again.

A tijdvak is a block of local wall-clock time (e.g. Tuesday 10:00-11:00 in Amsterdam) in which an
advisor calls the caller back ("terugbellen") or holds a planned conversation ("adviesgesprek").
The weekly pattern of blocks comes from settings; Dutch public holidays have none.

No transport or database imports here: the service stores bookings and attempts, and asks this
module whether a start is bookable and what an attempt means for the next call.

Daylight saving time. Blocks are defined in local time and converted to UTC per day with
`zoneinfo`, so 09:00 stays 09:00 on the clock all year (08:00 UTC in winter, 07:00 UTC in summer).
A night pattern can touch the hour that the clocks skip or repeat; then:

- a block that the clock partly skips (spring, 02:00-02:59 does not exist) is left out: its
  wall-clock start, or the last minute before its end, never shows on the clock, and nobody can
  be promised a call at such a time. A block that ends exactly when the clock jumps (01:00-02:00)
  is kept and ends at the jump;
- every wall-clock start and end is read with `fold=0`. For a repeated time (autumn, 02:00-02:59
  happens twice) that is the first occurrence, so a block that starts in the repeated hour and
  ends at 03:00 lasts one real hour longer: the caller sees 02:00-03:00 on the clock and is
  called within it.

Either way the tijdvakken of one day stay in order and never overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol, TypeVar
from zoneinfo import ZoneInfo

from contact.errors import DomainError
from contact.workdays import is_public_holiday

KINDS = ("terugbellen", "adviesgesprek")
ATTEMPT_RESULTS = ("bereikt", "geen_gehoor", "voicemail", "onjuist_nummer")
# What `retry_after` decides; "not_reached" is "niet bereikt" on screen.
NEXT_STEPS = ("reached", "wrong_number", "not_reached", "retry")

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MIN_BLOCK_MINUTES = 5
MAX_DAYS = 366

DEFAULT_PATTERNS: dict[str, tuple[str, int]] = {
    "terugbellen": ("mon-fri 09:00-17:00", 60),
    "adviesgesprek": ("mon-fri 09:00-17:00", 45),
}

_DAY_SPEC = re.compile(r"^(?P<d1>[a-z]+)(?:-(?P<d2>[a-z]+))?$")
_TIME_SPEC = re.compile(r"^(?P<t1>[^-]+)-(?P<t2>[^-]+)$")
_CLOCK = re.compile(r"^(?P<h>\d{2}):(?P<m>\d{2})$")

# The refusals of `check_bookable`, told to the person who is booking.
SLOT_TEXTS: dict[str, tuple[str, str]] = {
    "not_in_pattern": (
        "Op dit tijdstip begint geen tijdvak. Kies een van de tijdvakken die we laten zien.",
        "No time window starts at this moment.",
    ),
    "holiday": (
        "Op deze feestdag zijn er geen tijdvakken. Kies een andere dag.",
        "There are no time windows on public holidays.",
    ),
    "past": (
        "Dit tijdvak is al begonnen of voorbij. Kies een later tijdvak.",
        "This time window has already started or passed.",
    ),
    "too_late": (
        "Dit tijdvak begint al snel en kan niet meer gekozen worden. Kies een later tijdvak.",
        "Booking for this time window has closed.",
    ),
    "too_far": (
        "Zo ver vooruit kun je nog geen tijdvak kiezen. Kies een eerder tijdvak.",
        "This time window is too far ahead.",
    ),
}


# The states of one caller's request. Each request keeps its own: nothing done with another
# request of the same number moves or ends it.
REQUEST_STATES = (
    "open",  # waiting to be called (its manage page shows "open", or "passed" after its tijdvak)
    "cancelled",  # the caller cancelled it with their manage link
    "done",  # an advisor closed the call with an outcome for this request
    "not_reached",  # the maximum of attempts for this request went unanswered
    "wrong_number",  # the number turned out wrong while calling for this request
)
# How a request ends when the advisor ends the call for it, by the callback's end state.
REQUEST_END: dict[str, str] = {"closed": "done", "not_reached": "not_reached", "wrong_number": "wrong_number"}

# Refusals told to callers and advisors.
TIJDVAK_STARTED_TEXTS = (
    "Je tijdvak is al begonnen of voorbij. Verzetten of afzeggen kan nu niet meer. "
    "Wil je ons nu spreken? Bel gratis 0800-2000.",
    "Your time window has already started or passed, so it can no longer be moved or cancelled. "
    "To talk to us now, call 0800-2000 (free).",
)
SELECTION_TEXTS = (
    "Kies een of meer verzoeken die nog open staan op deze kaart.",
    "Choose one or more requests that are still open on this card.",
)

_DAY_CACHE = 4096  # (kind, date) entries: years of both kinds


class PatternError(ValueError):
    """A week pattern of tijdvakken that cannot be read or makes no sense; the message says where."""


@dataclass(frozen=True, order=True)
class Window:
    """Hours on one weekday in which blocks are laid, in local wall-clock time."""

    weekday: int  # 0 = Monday
    start: time
    end: time

    def __str__(self) -> str:
        return f"{DAYS[self.weekday]} {self.start:%H:%M}-{self.end:%H:%M}"

    @property
    def minutes(self) -> int:
        return _minutes(self.end) - _minutes(self.start)


@dataclass(frozen=True)
class WeekPattern:
    """Which days and hours have tijdvakken of one kind, and how long each block is."""

    windows: tuple[Window, ...]
    block: timedelta
    # Local (start, end) of the blocks per weekday, worked out once.
    _blocks: tuple[tuple[tuple[time, time], ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        windows = tuple(sorted(self.windows))
        _check_windows(windows, self.block)
        object.__setattr__(self, "windows", windows)
        object.__setattr__(self, "_blocks", tuple(_lay_blocks(windows, self.block, day) for day in range(7)))

    @classmethod
    def parse(cls, spec: str, block_minutes: int) -> WeekPattern:
        """Read e.g. `mon-thu 09:00-17:00; fri 09:00-12:30` (the syntax of `VT_CHAT_HOURS`, without `24/7`)."""
        if block_minutes < MIN_BLOCK_MINUTES:
            raise PatternError(f"a block must last at least {MIN_BLOCK_MINUTES} minutes, not {block_minutes}")
        if spec.strip().lower() == "24/7":
            raise PatternError("'24/7' is for chat hours; tijdvakken need days and hours, e.g. 'mon-fri 09:00-17:00'")
        windows: list[Window] = []
        for raw in re.split(r"[;,]", spec.lower()):
            part = " ".join(raw.split())
            if part:
                windows.extend(_parse_part(part))
        if not windows:
            raise PatternError("no days and hours given, e.g. 'mon-fri 09:00-17:00'")
        return cls(tuple(windows), timedelta(minutes=block_minutes))

    def blocks(self, weekday: int) -> tuple[tuple[time, time], ...]:
        """The local (start, end) of every block on this weekday, in order."""
        return self._blocks[weekday]


@dataclass(frozen=True, order=True)
class Tijdvak:
    """One bookable block: a start and end moment (timezone-aware, UTC) and its kind."""

    start: datetime
    end: datetime
    kind: str


class Schedule:
    """Tijdvakken per kind in local time (Europe/Amsterdam by default), never on Dutch public holidays.

    Booking closes `close_before` a tijdvak starts (the planners need time to divide the calls)
    and opens `horizon_days` ahead.
    """

    def __init__(
        self,
        patterns: Mapping[str, WeekPattern],
        tz: str = "Europe/Amsterdam",
        close_before: timedelta = timedelta(hours=1),
        horizon_days: int = 28,
    ) -> None:
        unknown = sorted(set(patterns) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown kind(s) of tijdvak {unknown}; known are {list(KINDS)}")
        if close_before < timedelta(0):
            raise ValueError("close_before cannot be negative")
        if horizon_days < 1:
            raise ValueError("horizon_days must be 1 or more")
        self.patterns = dict(patterns)
        self._days: dict[tuple[str, date], tuple[Tijdvak, ...]] = {}
        self.tz = ZoneInfo(tz)
        self.close_before = close_before
        self.horizon = timedelta(days=horizon_days)

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(k for k in KINDS if k in self.patterns)

    def tijdvakken(self, kind: str, first_day: date, days: int) -> list[Tijdvak]:
        """Every tijdvak on the local dates `first_day` up to `first_day + days - 1`, in start order."""
        pattern = self._pattern(kind)
        if not 1 <= days <= MAX_DAYS:
            raise ValueError(f"days must be 1..{MAX_DAYS}, not {days}")
        result: list[Tijdvak] = []
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            if not is_public_holiday(day):
                result.extend(self._on_day(kind, pattern, day))
        return result

    def find(self, kind: str, start: datetime) -> Tijdvak | None:
        """The tijdvak of this kind that starts exactly at `start` (any timezone), or None."""
        pattern = self._pattern(kind)
        moment = _utc(start, "start")
        day = self.local_day(moment)
        if is_public_holiday(day):
            return None
        return self._starting_at(kind, pattern, day, moment)

    def check_bookable(self, kind: str, start: datetime, now: datetime) -> Tijdvak:
        """The tijdvak a caller asks for, or the `DomainError` that tells why it cannot be booked.

        `start` comes from the caller, so its faults are `invalid_input` on `slot_start` (or on `kind`);
        `now` comes from our clock, so a naive one is a programming error (ValueError).
        """
        if kind not in self.patterns:
            raise DomainError("invalid_input", field="kind", reason="unknown_kind")
        if start.tzinfo is None or start.utcoffset() is None:
            raise DomainError("invalid_input", field="slot_start", reason="naive_datetime")
        current = _utc(now, "now")
        moment = start.astimezone(UTC)
        day = self.local_day(moment)
        tijdvak = self._starting_at(kind, self.patterns[kind], day, moment)
        if tijdvak is None:
            raise _refusal("not_in_pattern")
        if is_public_holiday(day):
            raise _refusal("holiday")
        reason = self._timing(tijdvak, current)
        if reason:
            raise _refusal(reason)
        return tijdvak

    def bookable(self, kind: str, first_day: date, days: int, now: datetime) -> list[Tijdvak]:
        """The tijdvakken on these days that `check_bookable` would accept at `now`."""
        current = _utc(now, "now")
        return [t for t in self.tijdvakken(kind, first_day, days) if self._timing(t, current) is None]

    def local_day(self, moment: datetime) -> date:
        """The local date of a moment, the day whose pattern and holiday count."""
        return _utc(moment, "moment").astimezone(self.tz).date()

    def _pattern(self, kind: str) -> WeekPattern:
        try:
            return self.patterns[kind]
        except KeyError:
            raise ValueError(f"no tijdvakken of kind {kind!r}; known are {list(self.kinds)}") from None

    def _timing(self, tijdvak: Tijdvak, now: datetime) -> str | None:
        if tijdvak.start <= now:
            return "past"
        if tijdvak.start - now < self.close_before:
            return "too_late"
        if tijdvak.start > now + self.horizon:
            return "too_far"
        return None

    def _starting_at(self, kind: str, pattern: WeekPattern, day: date, moment: datetime) -> Tijdvak | None:
        # Holidays not considered here: the caller tells "holiday" apart from "not_in_pattern".
        return next((t for t in self._on_day(kind, pattern, day) if t.start == moment), None)

    def _on_day(self, kind: str, pattern: WeekPattern, day: date) -> list[Tijdvak]:
        # The tijdvakken of a day follow from the pattern and the time zone alone, which never
        # change for this object: worked out once per day (most of a 90-day list's cost).
        cached = self._days.get((kind, day))
        if cached is None:
            if len(self._days) > _DAY_CACHE:
                self._days.clear()
            cached = self._days[(kind, day)] = tuple(self._lay_day(kind, pattern, day))
        return list(cached)

    def _lay_day(self, kind: str, pattern: WeekPattern, day: date) -> list[Tijdvak]:
        result: list[Tijdvak] = []
        for local_start, local_end in pattern.blocks(day.weekday()):
            last_minute = _clock_of(_minutes(local_end) - 1)
            if not (self._exists(day, local_start) and self._exists(day, last_minute)):
                continue  # the clock skips part of this block (spring forward); see the module docstring
            # fold=0 (the default): the first of a repeated time; an end at the jump maps onto the jump.
            start = datetime.combine(day, local_start, self.tz).astimezone(UTC)
            end = datetime.combine(day, local_end, self.tz).astimezone(UTC)
            result.append(Tijdvak(start, end, kind))
        return result

    def _exists(self, day: date, wall: time) -> bool:
        """Whether this wall-clock time shows on the local clock that day (not in a spring-forward gap)."""
        local = datetime.combine(day, wall, self.tz)
        return local.astimezone(UTC).astimezone(self.tz).replace(tzinfo=None) == local.replace(tzinfo=None)


def default_schedule(
    tz: str = "Europe/Amsterdam",
    close_before: timedelta = timedelta(hours=1),
    horizon_days: int = 28,
    patterns: Mapping[str, tuple[str, int]] = DEFAULT_PATTERNS,
) -> Schedule:
    """A schedule from (spec, block minutes) per kind; by default weekdays 09-17, 60 and 45 minute blocks."""
    return Schedule(
        {kind: WeekPattern.parse(spec, minutes) for kind, (spec, minutes) in patterns.items()},
        tz=tz,
        close_before=close_before,
        horizon_days=horizon_days,
    )


def retry_after(
    attempts: int,
    result: str,
    now: datetime,
    tijdvak_end: datetime,
    max_attempts: int,
    retry_gap: timedelta = timedelta(minutes=15),
) -> tuple[str, datetime | None]:
    """What follows a call attempt on one callback: the next step and, for "retry", when to call again.

    `attempts` counts the attempts so far, including this one. Not answered and voicemail are tried
    again `retry_gap` later until `max_attempts`; when that would be at or after the end of the
    tijdvak, the next call is due right away, so it still falls inside the promised tijdvak.
    """
    if result not in ATTEMPT_RESULTS:
        raise ValueError(f"unknown attempt result {result!r}; known are {list(ATTEMPT_RESULTS)}")
    if attempts < 1 or max_attempts < 1:
        raise ValueError("attempts and max_attempts must be 1 or more")
    if result == "bereikt":
        return "reached", None
    if result == "onjuist_nummer":
        return "wrong_number", None
    if attempts >= max_attempts:
        return "not_reached", None
    if now + retry_gap >= tijdvak_end:
        return "retry", now
    return "retry", now + retry_gap


class Request(Protocol):
    """What the rules below read of one caller's request (a database row will do)."""

    @property
    def reference(self) -> str: ...
    @property
    def slot_start(self) -> datetime: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def voicemail_ok(self) -> bool: ...


R = TypeVar("R", bound=Request)


def first_due(open_requests: Iterable[R]) -> R | None:
    """The request to call first among the open requests of one number: the one whose own
    tijdvak starts earliest (of equal tijdvakken, the one made first). Its tijdvak is the
    callback's, and its voicemail choice holds for the call. No open request: None."""
    return min(open_requests, key=lambda r: (r.slot_start, r.created_at), default=None)


def select_requests(open_requests: Sequence[R], references: Sequence[str] | None) -> list[R]:
    """The open requests an advisor's attempt or outcome applies to: those named by reference,
    or by default the one being called (`first_due`). A reference that is unknown, of another
    number, or no longer open is refused as a whole: nothing is applied to part of a list."""
    if references is None:
        due = first_due(open_requests)
        return [due] if due is not None else []
    by_reference = {r.reference: r for r in open_requests}
    wanted = list(dict.fromkeys(references))
    if not wanted or any(ref not in by_reference for ref in wanted):
        raise DomainError("invalid_input", SELECTION_TEXTS, field="requests")
    return [by_reference[ref] for ref in wanted]


def voicemail_for(being_called: Request | None, selected: Iterable[Request]) -> bool:
    """Whether a voicemail may be left: only if the request being called allowed one and so did
    every request the attempt applies to (someone else may hold the phone)."""
    if being_called is None:
        return False
    return being_called.voicemail_ok and voicemail_allowed(r.voicemail_ok for r in selected)


def manage_status(slot_end: datetime, now: datetime) -> str:
    """The state a caller's own manage page shows for an open request: "open", or "passed" once
    its own tijdvak has ended (we still try to call; nothing about other requests counts)."""
    return "passed" if slot_end <= now else "open"


def check_changeable(slot_start: datetime, now: datetime) -> None:
    """A caller may move or cancel a request only before its own tijdvak starts: once the
    advisors may be calling, the change could not reach them in time."""
    if slot_start <= now:
        raise DomainError("closed", TIJDVAK_STARTED_TEXTS, reason="tijdvak_started")


def voicemail_allowed(flags: Iterable[bool]) -> bool:
    """Whether to leave a voicemail for merged requests of one caller: only if every request allowed it.

    Someone else may hold the phone, so no requests (nothing said) means no voicemail either.
    """
    seen = list(flags)
    return bool(seen) and all(seen)


def _refusal(reason: str) -> DomainError:
    return DomainError("invalid_input", SLOT_TEXTS[reason], field="slot_start", reason=reason)


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {moment.isoformat()}")
    return moment.astimezone(UTC)


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _parse_part(part: str) -> list[Window]:
    where = f"in {part!r}"
    pieces = part.split(" ")
    if len(pieces) != 2:
        raise PatternError(f"{where}: expected days and hours, e.g. 'mon-fri 09:00-17:00'")
    day_spec, time_spec = pieces
    days = _DAY_SPEC.match(day_spec)
    if not days:
        raise PatternError(f"{where}: cannot read days {day_spec!r}, e.g. 'mon' or 'mon-fri'")
    for name in (days["d1"], days["d2"]):
        if name is not None and name not in DAYS:
            raise PatternError(f"{where}: unknown day {name!r}; days are {', '.join(DAYS)}")
    first = DAYS.index(days["d1"])
    last = DAYS.index(days["d2"]) if days["d2"] else first
    if last < first:
        raise PatternError(f"{where}: day range {day_spec!r} runs backwards")
    times = _TIME_SPEC.match(time_spec)
    if not times:
        raise PatternError(f"{where}: cannot read hours {time_spec!r}, e.g. '09:00-17:00'")
    start = _clock(times["t1"], where)
    end = _clock(times["t2"], where)
    if end <= start:
        raise PatternError(f"{where}: ends at {times['t2']}, not after it starts at {times['t1']}")
    return [Window(day, start, end) for day in range(first, last + 1)]


def _clock(text: str, where: str) -> time:
    m = _CLOCK.match(text)
    if m:
        try:
            return time(int(m["h"]), int(m["m"]))
        except ValueError:
            pass
    raise PatternError(f"{where}: invalid time {text!r}, expected HH:MM from 00:00 to 23:59")


def _check_windows(windows: tuple[Window, ...], block: timedelta) -> None:
    """Checks that hold however a pattern was made; `windows` sorted by weekday and start."""
    if not windows:
        raise PatternError("a pattern needs at least one window")
    if block < timedelta(minutes=MIN_BLOCK_MINUTES) or block % timedelta(minutes=1):
        raise PatternError(f"a block must be whole minutes, at least {MIN_BLOCK_MINUTES}, not {block}")
    block_minutes = block // timedelta(minutes=1)
    for i, window in enumerate(windows):
        if not 0 <= window.weekday < 7:
            raise PatternError(f"weekday {window.weekday} is not 0 (Monday) to 6 (Sunday)")
        if window.start.second or window.start.microsecond or window.end.second or window.end.microsecond:
            raise PatternError(f"window {window}: times must be whole minutes")
        if window.end <= window.start:
            raise PatternError(f"window {window}: ends before it starts")
        if block_minutes > window.minutes:
            raise PatternError(f"a block of {block_minutes} minutes does not fit in window {window}")
        if i and windows[i - 1].weekday == window.weekday and window.start < windows[i - 1].end:
            raise PatternError(f"windows {windows[i - 1]} and {window} overlap")


def _lay_blocks(windows: tuple[Window, ...], block: timedelta, weekday: int) -> tuple[tuple[time, time], ...]:
    # Blocks run from each window's start; a last block that would run past the window's end is
    # dropped rather than shortened, so every tijdvak of a kind is equally long.
    length = block // timedelta(minutes=1)
    blocks: list[tuple[time, time]] = []
    for window in windows:
        if window.weekday != weekday:
            continue
        start, end = _minutes(window.start), _minutes(window.end)
        while start + length <= end:
            blocks.append((_clock_of(start), _clock_of(start + length)))
            start += length
    return tuple(blocks)


def _clock_of(minutes: int) -> time:
    return time(minutes // 60, minutes % 60)
