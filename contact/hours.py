"""Opening hours of the chat, e.g. `mon-fri 09:00-17:00` or `24/7`, closed on Dutch public holidays."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
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
