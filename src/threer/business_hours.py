"""Business-hours arithmetic: when is "N business hours from now" in the provider's calendar?

The ticket promises a first response 24 (support) or 72 (engineering) business hours after
it is written. `add_business_hours` counts only time inside the calendar's working hours,
on its working days, skipping its holidays, in its IANA time zone.

How a day's window is found: the opening and closing times are wall-clock times in the
calendar's zone, turned into instants with `fold=0` (a wall time that happens twice on an
autumn day means its first occurrence; one that is skipped on a spring day falls after
the gap). All arithmetic is done on those instants in UTC, so a working day whose date is
23 or 25 hours long still counts exactly the real time between opening and closing.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from threer.config import WEEKDAYS, BusinessHours

# Holidays covering every working day for this long mean the calendar never opens again.
_MAX_DAYS_SCANNED = 366 * 40
# Far beyond any promised response time; keeps a typo from scanning centuries of days.
MAX_HOURS = 100_000


def add_business_hours(start: datetime, hours: float, calendar: BusinessHours) -> datetime:
    """The instant `hours` business hours after `start`, as an aware datetime in the calendar's zone.

    A start outside working hours begins counting at the next opening. Zero hours inside
    working hours is `start` itself; zero hours outside them is the next opening. When the
    hours run out exactly at a closing time the result is that closing time.
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be an aware datetime (with a time zone)")
    if isinstance(hours, bool) or not isinstance(hours, (int, float)) or math.isnan(hours) or math.isinf(hours):
        raise ValueError("hours must be a finite number")
    if hours < 0:
        raise ValueError("hours cannot be negative")
    if hours > MAX_HOURS:
        raise ValueError(f"hours must be at most {MAX_HOURS}")

    zone = ZoneInfo(calendar.timezone)
    working_days = {WEEKDAYS.index(d) for d in calendar.days}
    holidays = set(calendar.holidays)
    remaining = timedelta(hours=hours)
    cursor = start.astimezone(timezone.utc)
    day = cursor.astimezone(zone).date()

    days_off = 0
    while days_off <= _MAX_DAYS_SCANNED:
        try:
            window = _working_window(day, calendar.start, calendar.end, zone, working_days, holidays)
            day += timedelta(days=1)
        except OverflowError:  # past year 9999
            break
        if window is None or window[1] <= cursor:
            days_off += 1
            continue
        days_off = 0
        opens, closes = window
        cursor = max(cursor, opens)
        available = closes - cursor
        if remaining <= available:
            return (cursor + remaining).astimezone(zone)
        remaining -= available
        cursor = closes
    raise ValueError("the business-hours calendar has no working hours left to count in; check its days and holidays")


def _working_window(
    day: date, opens_at: time, closes_at: time, zone: ZoneInfo, working_days: set[int], holidays: set[date]
) -> tuple[datetime, datetime] | None:
    """The UTC instants a working day opens and closes, or None for a day off."""
    if day.weekday() not in working_days or day in holidays:
        return None
    opens = datetime.combine(day, opens_at, tzinfo=zone).astimezone(timezone.utc)
    closes = datetime.combine(day, closes_at, tzinfo=zone).astimezone(timezone.utc)
    if closes <= opens:  # only when a DST gap swallows the whole window
        return None
    return opens, closes


def is_working_time(moment: datetime, calendar: BusinessHours) -> bool:
    """True when `moment` lies inside a working window (opening included, closing included)."""
    zone = ZoneInfo(calendar.timezone)
    working_days = {WEEKDAYS.index(d) for d in calendar.days}
    holidays = set(calendar.holidays)
    instant = moment.astimezone(timezone.utc)
    day = instant.astimezone(zone).date()
    window = _working_window(day, calendar.start, calendar.end, zone, working_days, holidays)
    return window is not None and window[0] <= instant <= window[1]
