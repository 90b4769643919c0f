"""The period a report covers: `--since 30d|4w|DATE` and `--until DATE`, read in the calendar's time zone."""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
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
    end = now if until is None else _day_start(_date(until, "--until"), zone) + timedelta(days=1)
    text = (since or DEFAULT_SINCE).strip()
    relative = _RELATIVE.match(text)
    if relative:
        count, unit = int(relative.group(1)), relative.group(2).lower()
        start = end - timedelta(days=count * (7 if unit == "w" else 1))
    else:
        start = _day_start(_date(text, "--since"), zone)
    if start >= end:
        raise BadInput(f"--since {text} is not before --until {until or 'now'}; give an earlier --since.")
    return Period(since=start, until=end, timezone=timezone)


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        example = "30d, 4w or 2026-11-01" if option == "--since" else "2026-11-30"
        raise BadInput(f"{option} takes a date such as {example}, not {text!r}.") from None


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)
