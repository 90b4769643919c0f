"""add_business_hours: weekends, holidays, DST in London and New York, edges of the day, properties."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from threer.business_hours import MAX_HOURS, add_business_hours, is_working_time
from threer.config import WEEKDAYS, BusinessHours

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
UK = BusinessHours(timezone="Europe/London")
US = BusinessHours(timezone="America/New_York")


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)


# --- plain days -------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Monday 2024-03-04, 09:00-17:00 Mon-Fri
        (at(LONDON, 2024, 3, 4, 10, 0), 2, at(LONDON, 2024, 3, 4, 12, 0)),
        (at(LONDON, 2024, 3, 4, 10, 0), 7, at(LONDON, 2024, 3, 4, 17, 0)),  # ends exactly at closing
        (at(LONDON, 2024, 3, 4, 10, 0), 8, at(LONDON, 2024, 3, 5, 10, 0)),
        (at(LONDON, 2024, 3, 4, 10, 0), 24, at(LONDON, 2024, 3, 7, 10, 0)),  # 7 + 8 + 8 + 1
        (at(LONDON, 2024, 3, 4, 10, 0), 72, at(LONDON, 2024, 3, 15, 10, 0)),  # nine working days
        (at(LONDON, 2024, 3, 4, 10, 0), 0.5, at(LONDON, 2024, 3, 4, 10, 30)),
    ],
)
def test_plain_working_days(start: datetime, hours: float, expected: datetime) -> None:
    assert add_business_hours(start, hours, UK) == expected


def test_weekend_is_skipped() -> None:
    friday = at(LONDON, 2024, 3, 8, 16, 0)
    assert add_business_hours(friday, 2, UK) == at(LONDON, 2024, 3, 11, 10, 0)
    saturday = at(LONDON, 2024, 3, 9, 12, 0)
    assert add_business_hours(saturday, 1, UK) == at(LONDON, 2024, 3, 11, 10, 0)
    sunday_night = at(LONDON, 2024, 3, 10, 23, 59)
    assert add_business_hours(sunday_night, 8, UK) == at(LONDON, 2024, 3, 11, 17, 0)


def test_holidays_are_skipped() -> None:
    easter = BusinessHours(timezone="Europe/London", holidays=[date(2024, 3, 29), date(2024, 4, 1)])
    thursday = at(LONDON, 2024, 3, 28, 16, 0)
    # 1 h on Thursday, Good Friday and Easter Monday off, 8 h Tuesday, 8 h Wednesday, 7 h Thursday
    assert add_business_hours(thursday, 24, easter) == at(LONDON, 2024, 4, 4, 16, 0)
    on_holiday = at(LONDON, 2024, 4, 1, 11, 0)
    assert add_business_hours(on_holiday, 1, easter) == at(LONDON, 2024, 4, 2, 10, 0)


def test_custom_days_and_hours() -> None:
    calendar = BusinessHours(timezone="UTC", days=["sat", "sun"], start=time(8, 30), end=time(12, 45))
    start = datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)  # a Monday: next opening is Saturday
    assert add_business_hours(start, 5, calendar) == datetime(2024, 3, 10, 9, 15, tzinfo=timezone.utc)


# --- the edges of a working day -----------------------------------------------------------

@pytest.mark.parametrize(
    ("clock", "expected"),
    [
        ((7, 0, 0), (5, 10, 0, 0)),  # before opening: counting begins at 09:00
        ((8, 59, 59), (5, 10, 0, 0)),  # just before opening
        ((9, 0, 0), (5, 10, 0, 0)),  # at opening
        ((9, 0, 1), (5, 10, 0, 1)),  # just after opening
        ((16, 0, 0), (5, 17, 0, 0)),  # the hour runs out exactly at closing
        ((16, 59, 59), (6, 9, 59, 59)),  # just before closing: the rest is next morning
        ((17, 0, 0), (6, 10, 0, 0)),  # at closing: next opening
        ((17, 0, 1), (6, 10, 0, 0)),  # just after closing
    ],
)
def test_start_around_opening_and_closing(clock: tuple[int, int, int], expected: tuple[int, int, int, int]) -> None:
    start = at(LONDON, 2024, 3, 5, *clock)  # a Tuesday
    assert add_business_hours(start, 1, UK) == at(LONDON, 2024, 3, *expected)


def test_zero_hours() -> None:
    inside = at(LONDON, 2024, 3, 5, 11, 0)
    assert add_business_hours(inside, 0, UK) == inside
    evening = at(LONDON, 2024, 3, 5, 18, 0)
    assert add_business_hours(evening, 0, UK) == at(LONDON, 2024, 3, 6, 9, 0)


def test_start_in_another_zone_is_converted() -> None:
    start = datetime(2024, 7, 1, 12, 0, tzinfo=timezone.utc)  # 08:00 in New York (EDT)
    result = add_business_hours(start, 2, US)
    assert result == at(NEW_YORK, 2024, 7, 1, 11, 0)
    assert result.tzinfo == NEW_YORK


# --- DST ----------------------------------------------------------------------------------

def test_london_spring_weekend_keeps_wall_clock_hours() -> None:
    # clocks go forward on Sunday 31 March 2024; Friday 16:00 GMT + 2 h is Monday 10:00 BST
    result = add_business_hours(at(LONDON, 2024, 3, 29, 16, 0), 2, UK)
    assert result == at(LONDON, 2024, 4, 1, 10, 0)
    assert result.utcoffset() == timedelta(hours=1)


def test_london_autumn_weekend_keeps_wall_clock_hours() -> None:
    # clocks go back on Sunday 27 October 2024
    result = add_business_hours(at(LONDON, 2024, 10, 25, 16, 0), 2, UK)
    assert result == at(LONDON, 2024, 10, 28, 10, 0)
    assert result.utcoffset() == timedelta(0)


def test_london_window_across_the_spring_change_is_one_hour_shorter() -> None:
    # a desk staffed 00:00-06:00 every day: on 31 March 2024 that is only 5 real hours
    night = BusinessHours(timezone="Europe/London", days=list(WEEKDAYS), start=time(0, 0), end=time(6, 0))
    start = at(LONDON, 2024, 3, 31, 0, 0)
    assert add_business_hours(start, 5, night) == at(LONDON, 2024, 3, 31, 6, 0)
    assert add_business_hours(start, 6, night) == at(LONDON, 2024, 4, 1, 1, 0)
    assert add_business_hours(start, 1.5, night) == at(LONDON, 2024, 3, 31, 2, 30)  # 01:00 GMT never happened


def test_london_window_across_the_autumn_change_is_one_hour_longer() -> None:
    night = BusinessHours(timezone="Europe/London", days=list(WEEKDAYS), start=time(0, 0), end=time(6, 0))
    start = at(LONDON, 2024, 10, 27, 0, 0)
    assert add_business_hours(start, 7, night) == at(LONDON, 2024, 10, 27, 6, 0)
    assert add_business_hours(start, 8, night) == at(LONDON, 2024, 10, 28, 1, 0)
    one_hour = add_business_hours(start, 1, night)  # 01:00 BST, the first of two 01:00s
    assert one_hour.astimezone(timezone.utc) == datetime(2024, 10, 27, 0, 0, tzinfo=timezone.utc)
    two_hours = add_business_hours(start, 2, night)  # 01:00 GMT, the second one
    assert two_hours.astimezone(timezone.utc) == datetime(2024, 10, 27, 1, 0, tzinfo=timezone.utc)
    assert (two_hours.hour, two_hours.fold) == (1, 1)


def test_new_york_spring_and_autumn() -> None:
    # clocks go forward on Sunday 10 March 2024, back on Sunday 3 November 2024
    spring = add_business_hours(at(NEW_YORK, 2024, 3, 8, 16, 0), 2, US)
    assert spring == at(NEW_YORK, 2024, 3, 11, 10, 0)
    assert spring.utcoffset() == timedelta(hours=-4)
    autumn = add_business_hours(at(NEW_YORK, 2024, 11, 1, 16, 0), 2, US)
    assert autumn == at(NEW_YORK, 2024, 11, 4, 10, 0)
    assert autumn.utcoffset() == timedelta(hours=-5)
    night = BusinessHours(timezone="America/New_York", days=list(WEEKDAYS), start=time(0, 0), end=time(4, 0))
    assert add_business_hours(at(NEW_YORK, 2024, 3, 10, 0, 0), 3, night) == at(NEW_YORK, 2024, 3, 10, 4, 0)
    assert add_business_hours(at(NEW_YORK, 2024, 11, 3, 0, 0), 5, night) == at(NEW_YORK, 2024, 11, 3, 4, 0)


def test_seventy_two_hours_across_dst_and_holidays_in_new_york() -> None:
    calendar = BusinessHours(timezone="America/New_York", holidays=[date(2024, 11, 5), date(2024, 11, 11)])
    start = at(NEW_YORK, 2024, 10, 31, 15, 30)  # Thursday, EDT
    # Thu 1.5, Fri 8, Mon 8, (Tue holiday) Wed 8, Thu 8, Fri 8, (Mon holiday) Tue 8, Wed 8, Thu 8 = 65.5, Fri 6.5
    assert add_business_hours(start, 72, calendar) == at(NEW_YORK, 2024, 11, 15, 15, 30)


def test_many_days() -> None:
    start = at(LONDON, 2024, 1, 1, 9, 0)  # a Monday
    # 1000 hours = 125 working days of 8 h = 25 weeks; ends at Friday's closing time
    assert add_business_hours(start, 1000, UK) == at(LONDON, 2024, 6, 21, 17, 0)


# --- bad input ----------------------------------------------------------------------------

@pytest.mark.parametrize("hours", [-1, float("nan"), float("inf"), MAX_HOURS + 1, True])
def test_bad_hours_are_refused(hours: float) -> None:
    with pytest.raises(ValueError):
        add_business_hours(at(LONDON, 2024, 3, 4, 10, 0), hours, UK)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        add_business_hours(datetime(2024, 3, 4, 10, 0), 1, UK)


# --- properties ---------------------------------------------------------------------------

ZONES = ["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "America/Sao_Paulo"]


@st.composite
def calendars(draw: st.DrawFn, zones: list[str] = ZONES, edge_hours: list[int] | None = None) -> BusinessHours:
    days = draw(st.lists(st.sampled_from(WEEKDAYS), min_size=1, max_size=7, unique=True))
    if edge_hours is None:
        minutes = draw(st.lists(st.integers(0, 24 * 60 - 1), min_size=2, max_size=2, unique=True))
        first, last = sorted(minutes)
        opens, closes = time(first // 60, first % 60), time(last // 60, last % 60)
    else:
        first, last = sorted(draw(st.lists(st.sampled_from(edge_hours), min_size=2, max_size=2, unique=True)))
        opens, closes = time(first), time(last)
    holidays = draw(st.lists(st.dates(date(2024, 1, 1), date(2024, 12, 31)), max_size=20))
    return BusinessHours(timezone=draw(st.sampled_from(zones)), days=days, start=opens, end=closes, holidays=holidays)


starts = st.datetimes(datetime(2024, 1, 1), datetime(2024, 12, 31), timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(), start=starts, h1=st.floats(0, 300), h2=st.floats(0, 300))
def test_more_hours_never_give_an_earlier_time(calendar: BusinessHours, start: datetime, h1: float, h2: float) -> None:
    low, high = sorted((h1, h2))
    early = add_business_hours(start, low, calendar)
    late = add_business_hours(start, high, calendar)
    assert early <= late
    assert early >= start


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar=calendars(), start=starts, hours=st.floats(0, 300))
def test_result_is_inside_working_hours_or_at_closing(calendar: BusinessHours, start: datetime, hours: float) -> None:
    result = add_business_hours(start, hours, calendar)
    assert result.tzinfo == ZoneInfo(calendar.timezone)
    assert is_working_time(result, calendar)


@settings(max_examples=100, deadline=None)
@given(calendar=calendars(), start=starts, a=st.integers(0, 100 * 60), b=st.integers(1, 100 * 60))
def test_hours_add_up(calendar: BusinessHours, start: datetime, a: int, b: int) -> None:
    """Counting a minutes then b minutes is the same as counting a + b (b > 0)."""
    first = add_business_hours(start, a / 60, calendar)
    assert add_business_hours(first, b / 60, calendar) == add_business_hours(start, (a + b) / 60, calendar)


def _minute_by_minute(start: datetime, minutes: int, calendar: BusinessHours) -> datetime:
    """An independent oracle: walk real minutes, counting those whose wall-clock time is inside hours."""
    zone = ZoneInfo(calendar.timezone)
    cursor = start.astimezone(timezone.utc)
    left = minutes
    while True:
        local = cursor.astimezone(zone)
        working = (
            WEEKDAYS[local.weekday()] in calendar.days
            and local.date() not in calendar.holidays
            and calendar.start <= local.time() < calendar.end
        )
        if working:
            if left == 0:
                return local
            left -= 1
        elif left == 0 and minutes > 0:
            return local  # the last counted minute ended at closing
        cursor += timedelta(minutes=1)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    # whole-hour edges away from 01:00-03:00, where London's and New York's clocks change
    calendar=calendars(zones=["Europe/London", "America/New_York", "UTC"], edge_hours=[0, 3, 5, 8, 9, 12, 17, 20, 23]),
    start=st.datetimes(datetime(2024, 3, 1), datetime(2024, 11, 30), timezones=st.just(timezone.utc)),
    minutes=st.integers(1, 20 * 60),
)
def test_agrees_with_a_minute_by_minute_count(calendar: BusinessHours, start: datetime, minutes: int) -> None:
    start = start.replace(second=0, microsecond=0)
    expected = _minute_by_minute(start, minutes, calendar)
    assert add_business_hours(start, minutes / 60, calendar) == expected


def test_a_calendar_with_one_minute_a_week_still_counts() -> None:
    tiny = BusinessHours(timezone="UTC", days=["mon"], start=time(0, 0), end=time(0, 1))
    start = datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)  # a Monday
    # 35 hours = 2100 working minutes = 2100 Mondays; the last one ends at its closing minute
    assert add_business_hours(start, 35, tiny) == datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc) + timedelta(weeks=2099)
