"""The config file read without pydantic, for the commands that only read a few of its values (check-dns).

A short `check-dns --json` run spent more CPU importing pydantic and building the config's models than on
its look-ups. So `read_for_checks` reads the file itself when every key in it is known and every value has
its plain TOML type and passes the same checks threer.config makes (the file `threer config init` writes
is such a file). Anything else (a value pydantic would convert, a bad value, an unknown key) is read by
threer.config.load_config as before, which converts it or says what is wrong in its usual words; so a bad
config is refused by check-dns exactly as before. The checks of single values live here, and the pydantic
models in threer.config call them. tests/test_config_plain.py compares both readings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SMTP_SECURITY = ("starttls", "tls", "none")


@dataclass
class CheckConfig:
    """The config values check-dns and the check history use (names and defaults as in threer.config.Config)."""

    default_profile: str | None = "auto"
    profiles: list[Path] = field(default_factory=list)
    dkim_selectors: list[str] = field(default_factory=list)
    blocklists: list[str] | None = None
    blocklist_mx: bool = False
    check_history: bool = True
    check_history_days: int = 365
    database_url: str | None = None


# -- the checks of single values (threer.config's models call these too) --------------------------


def check_zone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/London") from None
    return value


def check_weekdays(value: list[str]) -> list[str]:
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    days = []
    for raw in value:
        word = raw.strip().lower()
        if len(word) < 3 or not any(f.startswith(word) for f in full):  # mon, tues, friday
            raise ValueError(f"unknown day {raw.strip()!r}; use mon, tue, wed, thu, fri, sat, sun")
        days.append(word[:3])
    if not days:
        raise ValueError("at least one working day is needed")
    return sorted(set(days), key=WEEKDAYS.index)


def check_control_panel_url(value: str) -> str:
    value = value.strip()
    if not value.lower().startswith(("https://", "http://")) or " " in value or "." not in value:
        raise ValueError("the Control Panel URL must be a web address such as https://cp.example.net/")
    return value


def check_partner_domain(value: str) -> str:
    from threer.domain import DomainError, normalise_domain

    try:
        return normalise_domain(value).domain
    except DomainError as exc:
        raise ValueError(exc.message) from None


def check_address(value: str) -> str:
    """A plain e-mail address (local@domain), the domain normalised; no display names."""
    from threer.domain import DomainError, normalise_domain

    value = value.strip()
    local, at, host = value.rpartition("@")
    if not at or not local or len(local) > 64 or any(c.isspace() or c in "<>,;\"()[]\\" for c in local):
        raise ValueError(f"{value!r} is not an e-mail address such as support@provider.example")
    try:
        return f"{local}@{normalise_domain(host).domain}"
    except DomainError:
        raise ValueError(f"{value!r} is not an e-mail address such as support@provider.example") from None


# a line break (CR, LF, NEL, U+2028, U+2029) or other control character: a value that goes into an SMTP
# command or a header line must stay one line, or it would add a command or a header of its own
_NOT_ONE_LINE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_one_line(value: str, what: str) -> str:
    found = _NOT_ONE_LINE.search(value)
    if found:
        raise ValueError(f"{what} must be one line of text, and this one holds {found.group()!r} "
                         "(a line break or control character); type it again on one line")
    return value


def check_smtp_host(value: str) -> str:
    """A host name (smtp.partner.example) or an IP address (198.51.100.25, [2001:db8::25]); nothing else,
    since it is what threer connects to and names in its messages."""
    check_one_line(value, "the SMTP server")
    host = value.strip()
    if not re.fullmatch(r"\[?[0-9A-Fa-f:.]+\]?|[\w-]+(?:\.[\w-]+)*\.?", host) or len(host) > 253:
        raise ValueError(f"{host!r} is not a server name such as smtp.partner.example or an IP address")
    return host


def check_security(value: str) -> str:
    word = value.strip().lower()
    if word not in SMTP_SECURITY:
        raise ValueError(f"security must be one of {', '.join(SMTP_SECURITY)}, not {value!r}")
    return word


def check_port(value: int | None) -> int | None:
    if value is not None and not 0 < value < 65536:
        raise ValueError(f"port must be from 1 to 65535, not {value}")
    return value


def check_smtp_timeout(value: float) -> float:
    if not 0 < value <= 600:
        raise ValueError("timeout must be more than 0 and at most 600 seconds")
    return value


def check_selectors(value: list[str]) -> list[str]:
    out = []
    for raw in value:
        selector = raw.strip().lower()
        if not re.fullmatch(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*", selector):
            raise ValueError(f"{raw!r} is not a DKIM selector such as selector1")
        out.append(selector)
    return list(dict.fromkeys(out))


def check_database_url(value: str | None) -> str | None:
    if not value or not value.strip():
        return None
    from threer.errors import BadInput
    from threer.store_pg import check_url

    try:
        return check_url(value, from_config=True)
    except BadInput as exc:
        raise ValueError(exc.message) from None


# -- the whole file, when it is plain ---------------------------------------------------------------


class _NotPlain(Exception):
    """A key or value pydantic must read (to convert it, or to say what is wrong)."""


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _NotPlain
    return value


def _texts(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _NotPlain
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _NotPlain
    return value


def _whole(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _NotPlain
    return value


def _table(value: object, keys: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict) or not set(value) <= keys:
        raise _NotPlain
    return value


_CLOCK = re.compile(r"(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?")
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _clock(value: object) -> time:
    if isinstance(value, time) and value.tzinfo is None:
        return value
    if isinstance(value, str) and _CLOCK.fullmatch(value):
        return time.fromisoformat(value)
    raise _NotPlain


def _day(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _DAY.fullmatch(value):
        return date.fromisoformat(value)
    raise _NotPlain


def _partner(value: object) -> None:
    partner = _table(value, {"domain", "control_panel_url", "control_panel_na", "support_address", "technician"})
    for key, item in partner.items():
        if key == "control_panel_na":
            _flag(item)
            continue
        _text(item)
        if key == "domain":
            check_partner_domain(item)
        elif key == "control_panel_url":
            check_control_panel_url(item)
        elif key == "support_address":
            check_address(item)
        elif key == "technician":
            check_one_line(item, "the technician's name")


def _business_hours(value: object) -> None:
    hours = _table(value, {"timezone", "days", "start", "end", "holidays"})
    if "timezone" in hours:
        check_zone(_text(hours["timezone"]))
    if "days" in hours:
        check_weekdays(_texts(hours["days"]))
    start = _clock(hours.get("start", time(9, 0)))
    end = _clock(hours.get("end", time(17, 0)))
    if end <= start:
        raise _NotPlain
    holidays = hours.get("holidays", [])
    if not isinstance(holidays, list):
        raise _NotPlain
    for day in holidays:
        _day(day)


def _smtp(value: object) -> None:
    smtp = _table(value, {"host", "port", "security", "user", "from_address", "timeout", "ca_bundle", "plain_login"})
    for key, item in smtp.items():
        if key == "port":
            check_port(_whole(item))
        elif key == "timeout":
            if not isinstance(item, (int, float)) or isinstance(item, bool):
                raise _NotPlain
            check_smtp_timeout(float(item))
        elif key == "security":
            check_security(_text(item))
        elif key == "from_address":
            check_address(_text(item))
        elif key == "plain_login":
            _flag(item)
        elif key == "host":
            if check_smtp_host(_text(item)) != item:
                raise _NotPlain  # pydantic keeps it stripped
        elif key == "user":
            check_one_line(_text(item), "smtp.user")
        else:
            _text(item)


def plain_values(data: dict[str, Any]) -> CheckConfig | None:
    """The check-dns values of a config file's TOML, when the whole file is plain and valid; else None."""
    values = CheckConfig()
    try:
        for key, value in data.items():
            if key == "partner":
                _partner(value)
            elif key == "business_hours":
                _business_hours(value)
            elif key == "smtp":
                _smtp(value)
            elif key == "kb_folders":
                _texts(value)
            elif key == "default_profile":
                values.default_profile = _text(value)
            elif key == "profiles":
                values.profiles = [Path(p) for p in _texts(value)]
            elif key == "dkim_selectors":
                values.dkim_selectors = check_selectors(_texts(value))
            elif key == "blocklists":
                values.blocklists = list(_texts(value))
            elif key in ("blocklist_mx", "check_history"):
                setattr(values, key, _flag(value))
            elif key == "check_history_days":
                values.check_history_days = _whole(value)
                if not 1 <= values.check_history_days <= 36500:
                    raise _NotPlain
            elif key == "database_url":
                values.database_url = check_database_url(_text(value))
            else:
                raise _NotPlain
    except (_NotPlain, ValueError):
        return None
    return values


def read_for_checks(path: Path) -> Any:
    """The config as check-dns reads it: a CheckConfig when the file is missing (the defaults) or plain,
    else threer.config.Config (which converts a value, or raises BadInput saying what is wrong)."""
    from threer.files import config_file_exists

    if not config_file_exists(path):
        return CheckConfig()
    import tomllib

    from threer.files import load_toml, read_user_text

    raw = read_user_text(path, "config file", fix="fix it, or remove it and run `threer config init`")
    try:
        values = plain_values(load_toml(raw))
    except tomllib.TOMLDecodeError:
        values = None
    if values is None:
        from threer.config import load_config

        return load_config(path)
    return values
