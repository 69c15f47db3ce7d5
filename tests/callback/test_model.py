"""Rules of callbacks that need no server: tijdvakken, bookability, call attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from callback.model import (
    DEFAULT_PATTERNS,
    KINDS,
    PatternError,
    Schedule,
    Tijdvak,
    WeekPattern,
    Window,
    check_changeable,
    default_schedule,
    first_due,
    manage_status,
    retry_after,
    select_requests,
    voicemail_allowed,
    voicemail_for,
)
from contact.errors import DomainError

AMS = ZoneInfo("Europe/Amsterdam")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def night_schedule(spec: str = "sun 01:00-04:00", minutes: int = 60) -> Schedule:
    return Schedule({"terugbellen": WeekPattern.parse(spec, minutes)})


def refusal(schedule: Schedule, start: datetime, now: datetime, kind: str = "terugbellen") -> str:
    with pytest.raises(DomainError) as e:
        schedule.check_bookable(kind, start, now)
    assert e.value.code == "invalid_input" and e.value.extra["field"] == "slot_start"
    return str(e.value.extra["reason"])


# --- the default pattern ---------------------------------------------------------------


def test_terugbellen_has_eight_one_hour_blocks_on_a_weekday():
    day = date(2026, 11, 24)  # a Tuesday in winter
    vakken = default_schedule().tijdvakken("terugbellen", day, 1)
    assert [t.start.astimezone(AMS).time() for t in vakken] == [time(h) for h in range(9, 17)]
    assert all(t.end - t.start == timedelta(hours=1) and t.kind == "terugbellen" for t in vakken)
    assert vakken[0] == Tijdvak(utc(2026, 11, 24, 8), utc(2026, 11, 24, 9), "terugbellen")
    assert vakken[-1].end == local(2026, 11, 24, 17)
    assert all(t.start.tzinfo is UTC and t.end.tzinfo is UTC for t in vakken)


def test_adviesgesprek_has_ten_blocks_of_45_minutes_the_last_ending_16_30():
    vakken = default_schedule().tijdvakken("adviesgesprek", date(2026, 11, 24), 1)
    assert len(vakken) == 10
    assert vakken[0].start == local(2026, 11, 24, 9, 0) and vakken[1].start == local(2026, 11, 24, 9, 45)
    assert (vakken[-1].start, vakken[-1].end) == (local(2026, 11, 24, 15, 45), local(2026, 11, 24, 16, 30))
    assert all(t.end - t.start == timedelta(minutes=45) for t in vakken)


def test_default_patterns_cover_every_kind():
    assert set(DEFAULT_PATTERNS) == set(KINDS) and default_schedule().kinds == KINDS


def test_a_week_in_order_without_the_weekend():
    vakken = default_schedule().tijdvakken("terugbellen", date(2026, 11, 23), 7)  # Monday to Sunday
    assert len(vakken) == 5 * 8 and vakken == sorted(vakken)
    assert {t.start.astimezone(AMS).date() for t in vakken} == {date(2026, 11, d) for d in range(23, 28)}


def test_weekends_have_no_tijdvakken():
    schedule = default_schedule()
    assert schedule.tijdvakken("terugbellen", date(2026, 11, 28), 2) == []  # Saturday and Sunday
    assert schedule.tijdvakken("adviesgesprek", date(2026, 11, 28), 2) == []


def test_days_must_be_1_to_366_and_the_kind_known():
    schedule = default_schedule()
    assert len(schedule.tijdvakken("terugbellen", date(2026, 1, 1), 366)) > 0
    for days in (0, -1, 367):
        with pytest.raises(ValueError):
            schedule.tijdvakken("terugbellen", date(2026, 11, 24), days)
    with pytest.raises(ValueError):
        schedule.tijdvakken("spreekuur", date(2026, 11, 24), 1)
    with pytest.raises(ValueError):
        night_schedule().tijdvakken("adviesgesprek", date(2026, 11, 24), 1)  # a kind without a pattern


def test_schedule_refuses_unknown_kinds_and_odd_limits():
    pattern = WeekPattern.parse("mon-fri 09:00-17:00", 60)
    with pytest.raises(ValueError):
        Schedule({"spreekuur": pattern})
    with pytest.raises(ValueError):
        Schedule({"terugbellen": pattern}, horizon_days=0)
    with pytest.raises(ValueError):
        Schedule({"terugbellen": pattern}, close_before=timedelta(minutes=-1))


# --- daylight saving time ------------------------------------------------------------------


def test_spring_forward_keeps_9_local():
    # Clocks go forward on Sunday 29 March 2026.
    vakken = default_schedule().tijdvakken("terugbellen", date(2026, 3, 23), 9)  # Monday to Tuesday
    starts = {t.start for t in vakken}
    assert utc(2026, 3, 27, 8) in starts  # Friday 09:00 CET
    assert utc(2026, 3, 30, 7) in starts  # Monday 09:00 CEST
    assert utc(2026, 3, 30, 8) in starts and utc(2026, 3, 30, 15) not in starts  # Monday's 10:00, not 17:00
    assert all(t.start.astimezone(AMS).time() >= time(9) for t in vakken)
    assert len(vakken) == 7 * 8


def test_fall_back_keeps_9_local():
    # Clocks go back on Sunday 25 October 2026.
    vakken = default_schedule().tijdvakken("terugbellen", date(2026, 10, 19), 14)
    starts = {t.start for t in vakken}
    assert utc(2026, 10, 23, 7) in starts  # Friday 09:00 CEST
    assert utc(2026, 10, 26, 8) in starts  # Monday 09:00 CET
    assert utc(2026, 10, 26, 7) not in starts
    assert all(t.end - t.start == timedelta(hours=1) for t in vakken)


def test_night_block_in_the_skipped_hour_is_left_out():
    # 29 March 2026: 02:00-03:00 local does not exist. 01:00-02:00 ends when the clock jumps (03:00 CEST).
    vakken = night_schedule().tijdvakken("terugbellen", date(2026, 3, 29), 1)
    assert [(t.start, t.end) for t in vakken] == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 1)),  # 01:00-02:00 CET
        (utc(2026, 3, 29, 1), utc(2026, 3, 29, 2)),  # 03:00-04:00 CEST
    ]


def test_night_block_in_the_repeated_hour_starts_at_its_first_occurrence():
    # 25 October 2026: 02:00-03:00 local happens twice; the block runs from the first 02:00 to 03:00.
    vakken = night_schedule().tijdvakken("terugbellen", date(2026, 10, 25), 1)
    assert [(t.start, t.end) for t in vakken] == [
        (utc(2026, 10, 24, 23), utc(2026, 10, 25, 0)),  # 01:00-02:00 CEST
        (utc(2026, 10, 25, 0), utc(2026, 10, 25, 2)),  # 02:00 CEST - 03:00 CET: two real hours
        (utc(2026, 10, 25, 2), utc(2026, 10, 25, 3)),  # 03:00-04:00 CET
    ]
    schedule = night_schedule()
    assert schedule.find("terugbellen", utc(2026, 10, 25, 0)) == vakken[1]
    assert schedule.find("terugbellen", utc(2026, 10, 25, 1)) is None  # the second 02:00


def test_night_block_partly_in_the_skipped_hour_is_left_out():
    assert night_schedule("sun 01:30-02:30").tijdvakken("terugbellen", date(2026, 3, 29), 1) == []
    vakken = night_schedule("sun 01:00-04:00", 45).tijdvakken("terugbellen", date(2026, 3, 29), 1)
    # 01:00-01:45 CET, [01:45-02:30 and 02:30-03:15 cut by the jump], 03:15-04:00 CEST
    assert [(t.start, t.end) for t in vakken] == [
        (utc(2026, 3, 29, 0), utc(2026, 3, 29, 0, 45)),
        (utc(2026, 3, 29, 1, 15), utc(2026, 3, 29, 2)),
    ]
    # A block that spans the whole skipped hour shows on the clock from start to end, and is kept.
    long = night_schedule("sun 01:30-03:30", 120).tijdvakken("terugbellen", date(2026, 3, 29), 1)
    assert [(t.start, t.end) for t in long] == [(utc(2026, 3, 29, 0, 30), utc(2026, 3, 29, 1, 30))]


@pytest.mark.parametrize("day", [date(2026, 3, 29), date(2026, 10, 25), date(2027, 3, 28), date(2027, 10, 31)])
@pytest.mark.parametrize("minutes", [5, 25, 45, 60])
def test_tijdvakken_of_a_change_day_are_in_order_and_never_overlap(day: date, minutes: int):
    vakken = night_schedule("sun 00:00-23:59", minutes).tijdvakken("terugbellen", day, 1)
    assert vakken == sorted(vakken)
    assert all(t.start < t.end for t in vakken)
    assert all(a.end <= b.start for a, b in zip(vakken, vakken[1:], strict=False))


# --- public holidays -------------------------------------------------------------------------


def test_koningsdag_has_no_tijdvakken():
    schedule = default_schedule()
    assert schedule.tijdvakken("terugbellen", date(2026, 4, 27), 1) == []  # a Monday
    assert schedule.tijdvakken("adviesgesprek", date(2027, 4, 27), 1) == []  # a Tuesday
    assert len(schedule.tijdvakken("terugbellen", date(2027, 4, 26), 3)) == 2 * 8


def test_christmas_has_no_tijdvakken_but_the_days_around_it_do():
    vakken = default_schedule().tijdvakken("terugbellen", date(2026, 12, 24), 5)  # Thursday to Monday
    days = [t.start.astimezone(AMS).date() for t in vakken]
    assert days == [date(2026, 12, 24)] * 8 + [date(2026, 12, 28)] * 8


def test_holiday_starts_are_not_found():
    assert default_schedule().find("terugbellen", local(2026, 12, 25, 10)) is None


# --- find ----------------------------------------------------------------------------------------


def test_find_compares_the_instant_whatever_the_offset():
    schedule = default_schedule()
    winter = schedule.find("terugbellen", utc(2026, 11, 24, 8))
    assert winter is not None and winter.start == local(2026, 11, 24, 9)
    assert schedule.find("terugbellen", datetime(2026, 11, 24, 9, tzinfo=timezone(timedelta(hours=1)))) == winter
    assert schedule.find("terugbellen", datetime(2026, 11, 24, 10, tzinfo=timezone(timedelta(hours=2)))) == winter
    summer = schedule.find("terugbellen", datetime(2026, 6, 16, 9, tzinfo=timezone(timedelta(hours=2))))
    assert summer == Tijdvak(utc(2026, 6, 16, 7), utc(2026, 6, 16, 8), "terugbellen")


def test_find_none_outside_the_pattern():
    schedule = default_schedule()
    assert schedule.find("terugbellen", local(2026, 11, 24, 9, 30)) is None
    assert schedule.find("terugbellen", local(2026, 11, 24, 9, 0, 1)) is None
    assert schedule.find("terugbellen", local(2026, 11, 24, 17)) is None
    assert schedule.find("terugbellen", local(2026, 11, 28, 10)) is None  # Saturday
    assert schedule.find("adviesgesprek", local(2026, 11, 24, 9, 45)) is not None
    assert schedule.find("terugbellen", local(2026, 11, 24, 9, 45)) is None
    with pytest.raises(ValueError):
        schedule.find("terugbellen", datetime(2026, 11, 24, 9))  # naive


def test_local_day():
    schedule = default_schedule()
    assert schedule.local_day(utc(2026, 11, 23, 23, 30)) == date(2026, 11, 24)
    assert schedule.local_day(utc(2026, 6, 16, 21, 59)) == date(2026, 6, 16)
    assert schedule.local_day(utc(2026, 6, 16, 22, 0)) == date(2026, 6, 17)
    with pytest.raises(ValueError):
        schedule.local_day(datetime(2026, 11, 24, 9))


# --- check_bookable ------------------------------------------------------------------------------

MONDAY_10_15 = local(2026, 11, 23, 10, 15)


def test_bookable_start_returns_the_tijdvak():
    schedule = default_schedule()
    vak = schedule.check_bookable("terugbellen", local(2026, 11, 24, 9), MONDAY_10_15)
    assert vak == Tijdvak(utc(2026, 11, 24, 8), utc(2026, 11, 24, 9), "terugbellen")
    # Exactly `close_before` ahead is still open.
    assert schedule.check_bookable("terugbellen", local(2026, 11, 23, 11), local(2026, 11, 23, 10)).start == (
        utc(2026, 11, 23, 10)
    )


def test_past_and_too_late():
    schedule = default_schedule()
    assert refusal(schedule, local(2026, 11, 23, 9), MONDAY_10_15) == "past"
    assert refusal(schedule, local(2026, 11, 23, 10), MONDAY_10_15) == "past"  # already started
    assert refusal(schedule, local(2026, 11, 23, 11), local(2026, 11, 23, 11)) == "past"  # starts now
    assert refusal(schedule, local(2026, 11, 23, 11), MONDAY_10_15) == "too_late"  # 45 minutes ahead
    relaxed = default_schedule(close_before=timedelta(minutes=30))
    assert relaxed.check_bookable("terugbellen", local(2026, 11, 23, 11), MONDAY_10_15).start == (utc(2026, 11, 23, 10))


def test_too_far():
    schedule = default_schedule()  # 28 days ahead
    now = local(2026, 11, 23, 10)
    assert schedule.check_bookable("terugbellen", local(2026, 12, 21, 10), now)  # exactly 28 days
    assert refusal(schedule, local(2026, 12, 21, 11), now) == "too_far"
    assert refusal(default_schedule(horizon_days=7), local(2026, 12, 1, 9), now) == "too_far"


def test_not_in_pattern():
    schedule = default_schedule()
    assert refusal(schedule, local(2026, 11, 24, 9, 30), MONDAY_10_15) == "not_in_pattern"
    assert refusal(schedule, local(2026, 11, 28, 10), MONDAY_10_15) == "not_in_pattern"  # Saturday
    assert refusal(schedule, local(2026, 11, 24, 17), MONDAY_10_15) == "not_in_pattern"
    # 09:45 starts an adviesgesprek, not a terugbellen tijdvak.
    assert schedule.check_bookable("adviesgesprek", local(2026, 11, 24, 9, 45), MONDAY_10_15)
    assert refusal(schedule, local(2026, 11, 24, 9, 45), MONDAY_10_15) == "not_in_pattern"
    # Outside the pattern and in the past: the pattern is told first.
    assert refusal(schedule, local(2026, 11, 23, 8), MONDAY_10_15) == "not_in_pattern"


def test_holiday():
    schedule = default_schedule()
    now = local(2026, 12, 1, 12)
    assert refusal(schedule, local(2026, 12, 25, 10), now) == "holiday"
    assert refusal(schedule, local(2026, 12, 25, 10, 30), now) == "not_in_pattern"
    assert refusal(schedule, local(2026, 12, 26, 10), now) == "not_in_pattern"  # a Saturday anyway
    assert refusal(schedule, local(2027, 4, 27, 10), local(2027, 4, 1, 12)) == "holiday"


def test_naive_start_and_unknown_kind_are_invalid_input():
    schedule = default_schedule()
    assert refusal(schedule, datetime(2026, 11, 24, 9), MONDAY_10_15) == "naive_datetime"
    with pytest.raises(DomainError) as e:
        schedule.check_bookable("spreekuur", local(2026, 11, 24, 9), MONDAY_10_15)
    assert e.value.extra == {"field": "kind", "reason": "unknown_kind"}
    with pytest.raises(ValueError):  # our clock is never naive; that is a bug, not bad input
        schedule.check_bookable("terugbellen", local(2026, 11, 24, 9), datetime(2026, 11, 23, 10))


def test_refusal_payload_keeps_code_field_and_reason():
    with pytest.raises(DomainError) as e:
        default_schedule().check_bookable("terugbellen", local(2026, 11, 23, 9), MONDAY_10_15)
    error = e.value.payload()["error"]
    assert error["code"] == "invalid_input" and error["field"] == "slot_start" and error["reason"] == "past"
    assert error["message"]


def test_bookable_lists_what_check_bookable_accepts():
    schedule = default_schedule()
    vakken = schedule.bookable("terugbellen", date(2026, 11, 23), 2, MONDAY_10_15)
    assert vakken[0].start == local(2026, 11, 23, 12)  # 11:00 closed at 10:00
    assert len(vakken) == 5 + 8
    far = schedule.bookable("terugbellen", date(2026, 11, 23), 40, MONDAY_10_15)
    assert far[-1].start == local(2026, 12, 21, 10)  # the last start within 28 days
    for vak in far:
        assert schedule.check_bookable("terugbellen", vak.start, MONDAY_10_15) == vak
    listed = set(far)
    for vak in schedule.tijdvakken("terugbellen", date(2026, 11, 23), 40):
        if vak not in listed:
            with pytest.raises(DomainError):
                schedule.check_bookable("terugbellen", vak.start, MONDAY_10_15)


# --- parsing patterns ---------------------------------------------------------------------------


def test_parse_reads_days_hours_and_blocks():
    pattern = WeekPattern.parse("mon-thu 09:00-17:00; fri 09:00-12:30", 60)
    assert pattern.block == timedelta(hours=1)
    assert len(pattern.windows) == 5 and pattern.windows[4] == Window(4, time(9), time(12, 30))
    assert pattern.blocks(4) == ((time(9), time(10)), (time(10), time(11)), (time(11), time(12)))
    assert pattern.blocks(5) == ()
    assert WeekPattern.parse(" Mon-Fri   09:00-17:00 , ", 60) == WeekPattern.parse("mon-fri 09:00-17:00", 60)


def test_blocks_are_laid_from_each_window_start():
    pattern = WeekPattern.parse("mon 09:00-12:30; mon 13:30-17:00", 60)
    assert [start for start, _ in pattern.blocks(0)] == [
        time(9),
        time(10),
        time(11),
        time(13, 30),
        time(14, 30),
        time(15, 30),
    ]
    touching = WeekPattern.parse("mon 12:00-17:00, mon 09:00-12:00", 45)  # touching is not overlapping
    assert touching.windows[0].start == time(9) and len(touching.blocks(0)) == 4 + 6


@pytest.mark.parametrize(
    ("spec", "minutes", "where"),
    [
        ("", 60, "no days"),
        ("  ;  ", 60, "no days"),
        ("24/7", 60, "24/7"),
        ("mon-fri", 60, "'mon-fri'"),
        ("mon-fri 09:00-17:00 extra", 60, "extra"),
        ("xyz 09:00-17:00", 60, "'xyz'"),
        ("mon-xyz 09:00-17:00", 60, "'xyz'"),
        ("maandag 09:00-17:00", 60, "'maandag'"),
        ("fri-mon 09:00-17:00", 60, "backwards"),
        ("mon 9:00-17:00", 60, "'9:00'"),
        ("mon 25:00-26:00", 60, "'25:00'"),
        ("mon 09:60-10:00", 60, "'09:60'"),
        ("mon 09:00-24:00", 60, "'24:00'"),
        ("mon 0900-1700", 60, "'0900'"),
        ("mon 17:00-09:00", 60, "not after"),
        ("mon 09:00-09:00", 60, "not after"),
        ("mon-fri 09:00-17:00; tue 09:00-17:00 ; sat 10:00 -12:00", 60, "sat"),
        ("mon 09:00-12:00; mon 11:00-13:00", 60, "overlap"),
        ("mon-fri 09:00-17:00; wed 10:00-11:00", 60, "wed 09:00-17:00 and wed 10:00-11:00 overlap"),
        ("mon 09:00-17:00", 4, "at least 5"),
        ("mon 09:00-17:00", 0, "at least 5"),
        ("mon 09:00-17:00", -60, "at least 5"),
        ("mon 09:00-09:30", 60, "does not fit in window mon 09:00-09:30"),
        ("mon-fri 09:00-17:00; fri 18:00-18:30", 45, "fri 18:00-18:30"),
    ],
)
def test_parse_errors_say_what_and_where(spec: str, minutes: int, where: str):
    with pytest.raises(PatternError, match=where):
        WeekPattern.parse(spec, minutes)


def test_pattern_checks_hold_when_built_directly():
    with pytest.raises(PatternError):
        WeekPattern((Window(7, time(9), time(17)),), timedelta(hours=1))
    with pytest.raises(PatternError):
        WeekPattern((), timedelta(hours=1))
    with pytest.raises(PatternError):
        WeekPattern((Window(0, time(9), time(17)),), timedelta(minutes=7, seconds=30))
    with pytest.raises(PatternError):
        WeekPattern((Window(0, time(9), time(17, 0, 30)),), timedelta(hours=1))
    assert PatternError.__mro__[1] is ValueError


# --- call attempts ---------------------------------------------------------------------------------

NOW = utc(2026, 11, 24, 9, 0)
END = utc(2026, 11, 24, 10, 0)


def test_reached_and_wrong_number_end_the_callback():
    assert retry_after(1, "bereikt", NOW, END, 3) == ("reached", None)
    assert retry_after(3, "bereikt", NOW, END, 3) == ("reached", None)
    assert retry_after(1, "onjuist_nummer", NOW, END, 3) == ("wrong_number", None)


@pytest.mark.parametrize("result", ["geen_gehoor", "voicemail"])
def test_not_answered_is_tried_again_until_max_attempts(result: str):
    assert retry_after(1, result, NOW, END, 3) == ("retry", utc(2026, 11, 24, 9, 15))
    assert retry_after(2, result, NOW, END, 3, timedelta(minutes=20)) == ("retry", utc(2026, 11, 24, 9, 20))
    assert retry_after(3, result, NOW, END, 3) == ("not_reached", None)
    assert retry_after(4, result, NOW, END, 3) == ("not_reached", None)
    assert retry_after(1, result, NOW, END, 1) == ("not_reached", None)


def test_retry_never_after_the_tijdvak_end():
    almost = utc(2026, 11, 24, 9, 44)
    assert retry_after(1, "geen_gehoor", almost, END, 3) == ("retry", utc(2026, 11, 24, 9, 59))
    edge = utc(2026, 11, 24, 9, 45)  # now + gap == end: call again now
    assert retry_after(1, "geen_gehoor", edge, END, 3) == ("retry", edge)
    late = utc(2026, 11, 24, 9, 55)
    assert retry_after(2, "voicemail", late, END, 3) == ("retry", late)


def test_retry_after_refuses_nonsense():
    with pytest.raises(ValueError):
        retry_after(1, "bezet", NOW, END, 3)
    with pytest.raises(ValueError):
        retry_after(0, "geen_gehoor", NOW, END, 3)
    with pytest.raises(ValueError):
        retry_after(1, "geen_gehoor", NOW, END, 0)


def test_voicemail_only_when_every_request_allowed_it():
    assert voicemail_allowed([True]) is True
    assert voicemail_allowed([True, True, True]) is True
    assert voicemail_allowed([True, False]) is False
    assert voicemail_allowed([False]) is False
    assert voicemail_allowed([]) is False
    assert voicemail_allowed(flag for flag in (True, True)) is True


@dataclass(frozen=True)
class Req:
    reference: str
    slot_start: datetime
    created_at: datetime
    voicemail_ok: bool = False


VICTIM = Req("VT-AAAAAA", utc(2026, 11, 30, 12), utc(2026, 11, 30, 7, 0), voicemail_ok=False)
OTHER = Req("VT-BBBBBB", utc(2026, 12, 22, 13), utc(2026, 11, 30, 7, 5), voicemail_ok=True)
SAME_SLOT_LATER = Req("VT-CCCCCC", utc(2026, 11, 30, 12), utc(2026, 11, 30, 7, 10), voicemail_ok=True)


def test_the_earliest_own_tijdvak_is_called_first_whoever_booked_or_moved_later():
    assert first_due([OTHER, VICTIM]) is VICTIM
    assert first_due([SAME_SLOT_LATER, OTHER, VICTIM]) is VICTIM  # same tijdvak: the first made
    assert first_due([OTHER]) is OTHER
    assert first_due([]) is None


def test_selection_defaults_to_the_request_being_called():
    assert select_requests([OTHER, VICTIM], None) == [VICTIM]
    assert select_requests([], None) == []
    assert select_requests([OTHER, VICTIM], ["VT-BBBBBB", "VT-AAAAAA", "VT-BBBBBB"]) == [OTHER, VICTIM]


@pytest.mark.parametrize("references", [[], ["VT-ZZZZZZ"], ["VT-AAAAAA", "VT-ZZZZZZ"]])
def test_selection_refuses_what_is_not_open_on_the_card(references):
    with pytest.raises(DomainError) as e:
        select_requests([OTHER, VICTIM], references)
    assert e.value.code == "invalid_input" and e.value.extra == {"field": "requests"}


def test_voicemail_only_if_the_request_being_called_and_every_selected_one_allow_it():
    assert voicemail_for(VICTIM, [OTHER]) is False  # the one being called did not allow it
    assert voicemail_for(OTHER, [OTHER]) is True
    assert voicemail_for(OTHER, [OTHER, SAME_SLOT_LATER]) is True
    assert voicemail_for(SAME_SLOT_LATER, [SAME_SLOT_LATER, VICTIM]) is False
    assert voicemail_for(None, []) is False


def test_a_manage_page_shows_passed_after_its_own_tijdvak_and_refuses_changes_once_it_started():
    start, end = utc(2026, 11, 30, 12), utc(2026, 11, 30, 13)
    assert manage_status(end, start) == "open"
    assert manage_status(end, end) == "passed"
    check_changeable(start, start - timedelta(seconds=1))
    for now in (start, end + timedelta(days=1)):
        with pytest.raises(DomainError) as e:
            check_changeable(start, now)
        assert e.value.code == "closed" and "0800-2000" in e.value.payload()["error"]["message"]
