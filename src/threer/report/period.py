"""The period a report covers: `--since 30d|4w|DATE` and `--until DATE`, read in the calendar's time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from threer.errors import BadInput

DEFAULT_SINCE = "30d"
_RELATIVE = re.compile(r"^(\d{1,5})\s*([dw])$", re.IGNORECASE)


class Period(BaseModel):
    since: datetime  # inclusive
    until: datetime  # exclusive
    timezone: str


def parse_period(since: str | None, until: str | None, *, now: datetime, timezone: str) -> Period:
    """A DATE is a whole day in `timezone`: --since from its start, --until to its end."""
    zone = ZoneInfo(timezone)
    text = (since or DEFAULT_SINCE).strip()
    try:
        end = now if until is None else _day_start(_date(until, "--until"), zone) + timedelta(days=1)
    except OverflowError:  # the end of 9999-12-31 is past the last date Python has
        raise BadInput(f"--until {until} is past the last day a report can cover; give an earlier date.") from None
    relative = _RELATIVE.match(text)
    try:
        if relative:
            count, unit = int(relative.group(1)), relative.group(2).lower()
            start = end - timedelta(days=count * (7 if unit == "w" else 1))
        else:
            start = _day_start(_date(text, "--since"), zone)
    except OverflowError:
        raise BadInput(f"--since {text} reaches back before the year 1; give fewer days or weeks, or a date.") from None
    if start >= end:
        raise BadInput(f"--since {text} is not before --until {until or 'now'}; give an earlier --since.")
    # kept in UTC (the JSON's `since` and `until` end in Z); each renderer shows them in the zone
    return Period(since=start.astimezone(dt_timezone.utc), until=end.astimezone(dt_timezone.utc), timezone=timezone)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        example = "30d, 4w or 2026-11-01" if option == "--since" else "2026-11-30"
        raise BadInput(f"{option} takes a date such as {example}, not {text!r}.") from None


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)
