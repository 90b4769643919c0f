"""Helpers every human-readable format shares: control characters made visible, a value's lines, times
and the first-response date in English whatever the locale."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from zoneinfo import ZoneInfo

from threer.ticket.model import FirstResponse, Ticket

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def visible(line: str) -> str:
    """Control characters (other than tab) and bidi overrides shown as escapes, not obeyed."""
    if line.isprintable() and not (_BIDI & set(line)):
        return line
    out = []
    for ch in line:
        if ch != "\t" and (unicodedata.category(ch) == "Cc" or ch in _BIDI):
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def value_lines(value: str) -> list[str]:
    """A value's lines: every kind of line break counts, so none can hide inside a "line"."""
    return [visible(line) for line in value.splitlines()] or [""]


def format_when(dt: datetime, zone: str) -> str:
    local = dt.astimezone(ZoneInfo(zone))
    name = local.tzname() or ""
    if not name or name[0] in "+-":
        offset = local.strftime("%z")
        name = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local:%Y-%m-%d %H:%M} {name}"


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def format_due(first: FirstResponse) -> str:
    """"Thursday 7 March 2024, by 10:30 GMT" (English names whatever the locale, like the rest of the ticket)."""
    local = first.due.astimezone(ZoneInfo(first.timezone))
    when = format_when(local, first.timezone)
    return f"{_DAYS[local.weekday()]} {local.day} {_MONTHS[local.month - 1]} {local.year}, by {when.split(' ', 1)[1]}"


def team_words(ticket: Ticket) -> str:
    return "the provider's engineering team" if ticket.outcome.team == "engineering" else "the provider's support"
