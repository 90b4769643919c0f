"""Partner details and defaults, kept in a TOML file and validated by pydantic."""

from __future__ import annotations

import re
import tomllib
from datetime import date, time
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from threer.config_plain import (  # the checks of single values, shared with the reading without pydantic
    SMTP_SECURITY as SMTP_SECURITY,  # threer.config's names still
    WEEKDAYS as WEEKDAYS,
    check_address,
    check_control_panel_url,
    check_database_url,
    check_partner_domain,
    check_port,
    check_security,
    check_one_line,
    check_selectors,
    check_smtp_host,
    check_smtp_timeout,
    check_weekdays,
    check_zone,
)
from threer.errors import BadInput, describe_validation_error  # noqa: F401 - re-exported for the CLI


class BusinessHours(BaseModel):
    """When the provider's support counts hours: first-response times run only inside these."""

    model_config = ConfigDict(extra="forbid")

    timezone: str = "UTC"
    days: list[str] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"])
    start: time = time(9, 0)
    end: time = time(17, 0)
    holidays: list[date] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        return check_zone(value)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        return check_weekdays(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _wall_clock(cls, value: object) -> object:
        # pydantic reads a number as seconds after midnight UTC (an aware time): `start = 9` is a typo for "09:00"
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f'{value!r} is a number; give a time of day in quotes, such as "09:00"')
        return value

    @field_validator("start", "end")
    @classmethod
    def _no_zone(cls, value: time) -> time:
        if value.tzinfo is not None:
            raise ValueError("give a time of day without a zone, such as 09:00; the calendar's timezone applies")
        return value

    @model_validator(mode="after")
    def _order(self) -> "BusinessHours":
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class PartnerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str | None = None  # the partner's own domain
    control_panel_url: str | None = None  # None means "not applicable"
    control_panel_na: bool = False  # the partner has no Control Panel: the ticket says "not applicable"
    support_address: str | None = None  # where escalations go
    technician: str | None = None

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        return None if value is None else check_partner_domain(value)

    @field_validator("support_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return check_address(value)

    @field_validator("control_panel_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else check_control_panel_url(value)

    @field_validator("technician")
    @classmethod
    def _technician(cls, value: str | None) -> str | None:
        return None if value is None else check_one_line(value, "the technician's name")


NONE_IS_A_VALUE = {"smtp.security", "default_profile"}  # keys whose values include the word "none" itself
SMTP_DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class SmtpConfig(BaseModel):
    """Where `threer ticket ID --send` hands the ticket over. The password is never kept here: it comes
    from THREER_SMTP_PASSWORD or the system keyring."""

    model_config = ConfigDict(extra="forbid")

    host: str | None = None
    port: int | None = None  # None: 587 for starttls, 465 for tls, 25 for none
    security: str = "starttls"
    user: str | None = None  # log in as this user; None: send without logging in
    from_address: str | None = None  # the From of the message; None: the user when it is an address
    timeout: float = 30.0
    ca_bundle: Path | None = None  # trust this CA (a lab or company CA) instead of the system's
    plain_login: bool = False  # allow a login over an unencrypted connection (security none) to a non-loopback host

    @model_validator(mode="before")
    @classmethod
    def _no_password(cls, data: Any) -> Any:
        if isinstance(data, dict) and any(str(k).lower() in {"password", "pass", "secret"} for k in data):
            raise ValueError("the SMTP password is never kept in the config file; remove it and set "
                             "THREER_SMTP_PASSWORD or store it in the system keyring (see docs/how-to/send-tickets.md)")
        return data

    @field_validator("host")
    @classmethod
    def _host(cls, value: str | None) -> str | None:
        return None if value is None else check_smtp_host(value)

    @field_validator("user")
    @classmethod
    def _user(cls, value: str | None) -> str | None:
        return None if value is None else check_one_line(value, "smtp.user")

    @field_validator("security")
    @classmethod
    def _security(cls, value: str) -> str:
        return check_security(value)

    @field_validator("port")
    @classmethod
    def _port(cls, value: int | None) -> int | None:
        return check_port(value)

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float) -> float:
        return check_smtp_timeout(value)

    @field_validator("from_address")
    @classmethod
    def _from(cls, value: str | None) -> str | None:
        return None if value is None else check_address(value)

    @property
    def effective_port(self) -> int:
        return self.port or SMTP_DEFAULT_PORTS[self.security]


class Config(BaseModel):
    """The whole config file. Unknown keys are errors, so typos are caught."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("dkim_selectors")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        return check_selectors(value)

    partner: PartnerConfig = Field(default_factory=PartnerConfig)
    # auto: recognise the provider from each domain's records; a name or TOML path: always that one
    default_profile: str | None = "auto"
    # partner profile TOML files that `auto` chooses from too (before the built-in ones)
    profiles: list[Path] = Field(default_factory=list)
    # DKIM selectors to look for in every domain, beyond the profile's (like --dkim-selector)
    dkim_selectors: list[str] = Field(default_factory=list)
    kb_folders: list[Path] = Field(default_factory=list)
    business_hours: BusinessHours = Field(default_factory=BusinessHours)
    smtp: SmtpConfig = Field(default_factory=SmtpConfig)
    # DNS blocklists check-dns asks about --ip addresses (zones); None: the defaults documented in
    # docs/reference/findings/blocklist.md (threer/checks/blocklists.toml)
    blocklists: list[str] | None = None
    blocklist_mx: bool = False  # also look the MX hosts' addresses up in the blocklists
    check_history: bool = True  # keep every check-dns run (records and findings) for --diff
    # runs older than this are purged when a run is kept; at most 100 years, which is "keep them all" (a date
    # further back than that cannot be counted: year 1 is as far as a date goes)
    check_history_days: int = Field(default=365, ge=1, le=36500)
    database_url: str | None = None  # postgresql://user@host/db: the team database (no password here)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        return check_database_url(value)

    def missing_partner_details(self) -> list[str]:
        """The config keys the ticket needs that are not set yet."""
        missing = []
        p = self.partner
        if not p.domain:
            missing.append("partner.domain")
        if not p.control_panel_url and not p.control_panel_na:
            missing.append("partner.control_panel_url")
        if not p.support_address:
            missing.append("partner.support_address")
        return missing


def load_config(path: Path) -> Config:
    """Read the config; a missing file is the defaults, a bad one a clear error."""
    from threer.files import config_file_exists

    if not config_file_exists(path):
        return Config()
    from threer.files import load_toml, read_user_text

    raw = read_user_text(path, "config file", fix="fix it, or remove it and run `threer config init`")
    try:
        data = load_toml(raw)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"The config file {path} is not valid TOML ({exc}). Fix it or run `threer config init`.") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"The config file {path} has a bad value: {describe_validation_error(exc)}.") from None


def save_config(config: Config, path: Path) -> None:
    data = config.model_dump(mode="json", exclude_none=True)
    try:
        from threer.files import write_private_file

        write_private_file(path, tomli_w.dumps(data).encode("utf-8"), make_folder=True)
    except OSError as exc:
        raise BadInput(f"Cannot write the config file {path} ({exc.strerror}). Set THREER_CONFIG to a writable path.") from None


def save_config_change(before: Config, after: Config, path: Path) -> bool:
    """Save `after` over the file `before` was read from, changing only the lines of the keys that
    differ: the user's comments, order and layout stay. Returns True when the file kept its
    comments (or did not exist, and was written), False when it had to be written anew because a
    changed key is laid out in a way this cannot edit safely, such as an inline table; the result
    is then checked the same way."""
    if not path.exists():
        save_config(after, path)
        return True
    from threer.files import read_user_text, write_private_file

    text = read_user_text(path, "config file", fix="fix it, or remove it and run `threer config init`")
    new_data = after.model_dump(mode="json", exclude_none=True)
    edited = _edit_toml(text, _flat(before.model_dump(mode="json", exclude_none=True)), _flat(new_data))
    if edited is not None:
        from threer.files import load_toml

        try:
            same = Config.model_validate(load_toml(edited)).model_dump(mode="json") == after.model_dump(mode="json")
        except (tomllib.TOMLDecodeError, ValidationError):
            same = False
        if same:
            try:
                write_private_file(path, edited.encode("utf-8"), make_folder=True)
            except OSError as exc:
                raise BadInput(f"Cannot write the config file {path} ({exc.strerror}). "
                               "Set THREER_CONFIG to a writable path.") from None
            return True
    save_config(after, path)
    return False


_MISSING = object()
_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_-]+(?:\s*\.\s*[A-Za-z0-9_-]+)*)\s*\]\s*(?:#.*)?$")


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def _toml_value(value: Any) -> str:
    """A value as TOML on one line (a list as `["a", "b"]`, as a person writes it)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return tomli_w.dumps({"x": value}).split("=", 1)[1].strip()


def _comment_start(line: str) -> int | None:
    """Where a `#` comment starts on a TOML line, outside strings, or None."""
    quote: str | None = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c == "#":
            return i
        i += 1
    return None


def _edit_toml(text: str, old: dict[str, Any], new: dict[str, Any]) -> str | None:
    """`text` with the lines of the dotted keys whose value differs between `old` and `new` changed,
    added or removed; None when one of them cannot be found or replaced safely."""
    lines = text.splitlines()
    for key in [k for k in dict.fromkeys([*old, *new]) if old.get(k, _MISSING) != new.get(k, _MISSING)]:
        table, _, leaf = key.rpartition(".")
        result = _edit_key(lines, table, leaf, new.get(key, _MISSING))
        if result is None:
            return None
        lines = result
    return "\n".join(lines) + "\n"


def _sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """table name ("" for the top) -> (first line after its header, end line), for plain [table] headers."""
    spans: dict[str, tuple[int, int]] = {}
    name, start = "", 0
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if m or line.lstrip().startswith("[["):
            spans.setdefault(name, (start, i))
            name, start = (re.sub(r"\s+", "", m.group(1)) if m else "[[array]]"), i + 1
    spans.setdefault(name, (start, len(lines)))
    return spans


def _edit_key(lines: list[str], table: str, leaf: str, value: Any) -> list[str] | None:
    spans = _sections(lines)
    if "[[array]]" in spans:
        return None  # arrays of tables: not threer's layout
    if table and table not in spans:
        if value is _MISSING:
            return lines
        while lines and not lines[-1].strip():
            lines = lines[:-1]
        return [*lines, "", f"[{table}]", f"{leaf} = {_toml_value(value)}"]
    start, end = spans[table] if table else spans.get("", (0, len(lines)))
    key_line = re.compile(r"^(\s*)(" + re.escape(leaf) + r'|"' + re.escape(leaf) + r'")\s*=\s*')
    for i in range(start, end):
        m = key_line.match(lines[i])
        if not m:
            continue
        # the value may run over several lines (an array): take lines until they parse
        for j in range(i, end):
            chunk = "\n".join([lines[i][m.end():], *lines[i + 1:j + 1]])
            try:
                tomllib.loads("x = " + chunk)
            except tomllib.TOMLDecodeError:
                continue
            break
        else:
            return None
        if value is _MISSING:
            return [*lines[:i], *lines[j + 1:]]
        last = lines[j] if j > i else lines[i][m.end():]
        at = _comment_start(last)
        comment = ""
        if at is not None:
            before = last[:at]
            comment = (before[len(before.rstrip()):] or "  ") + last[at:]
        return [*lines[:i], f"{m.group(1)}{m.group(2)} = {_toml_value(value)}{comment}", *lines[j + 1:]]
    if value is _MISSING:
        return lines
    top = lines[:spans.get("", (0, 0))[1]]
    if table and any(re.match(r"^\s*" + re.escape(table) + r"\s*[.=]", line) for line in top):
        return None  # the table is written as dotted keys or an inline table at the top: rewrite instead
    insert = end
    while insert > start and not lines[insert - 1].strip():
        insert -= 1
    return [*lines[:insert], f"{leaf} = {_toml_value(value)}", *lines[insert:]]


def set_config_value(config: Config, key: str, value: str) -> Config:
    """Set a dotted key such as `partner.domain` from its text form, validated."""
    if key.strip().lower() in {"smtp.password", "smtp.pass", "smtp.secret"}:
        raise BadInput("The SMTP password is never written to the config file. Set THREER_SMTP_PASSWORD, or store it "
                       "in the system keyring (docs/how-to/send-tickets.md).")
    data: dict[str, Any] = config.model_dump(mode="json")
    parts = key.split(".")
    node: Any = data
    for part in parts[:-1]:
        if not isinstance(node, dict) or part not in node:
            raise BadInput(f"Unknown config key {key!r}. Run `threer config show` to see the keys.")
        node = node[part]
    leaf = parts[-1]
    if not isinstance(node, dict) or leaf not in node or isinstance(node[leaf], dict):
        raise BadInput(f"Unknown config key {key!r}. Run `threer config show` to see the keys.")
    if key == "partner.control_panel_url" and value.strip().lower() in {"", "none", "n/a", "na"}:
        # "none" means the partner has no Control Panel: the ticket says "not applicable"
        node["control_panel_na"] = True
        node[leaf] = None
        return Config.model_validate(data)
    if key == "partner.control_panel_url":
        node["control_panel_na"] = False
    if isinstance(node[leaf], list) or key == "blocklists":
        # "none" clears a list as "" does (docs/reference/commands.md)
        node[leaf] = [] if value.strip().lower() == "none" else [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(node[leaf], bool):
        low = value.strip().lower()
        if low not in {"true", "false", "yes", "no", "1", "0"}:
            raise BadInput(f"{key} takes true or false, not {value!r}.")
        node[leaf] = low in {"true", "yes", "1"}
    else:
        # "none" empties a key, except where it is one of the key's own values
        literal = key in NONE_IS_A_VALUE and value.strip().lower() == "none"
        node[leaf] = value if literal or value.strip() not in {"", "none"} else None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        shown = value
        if key == "database_url":
            from threer.store_pg import redact_url

            shown = redact_url(value.strip())  # the refusal may be about the password: never echo it
        raise BadInput(f"{key} cannot be {shown!r}: {describe_validation_error(exc, with_location=False)}.") from None
    if key == "default_profile" and config.default_profile:
        check_profile_name(config.default_profile)
    if key == "profiles":
        for path in config.profiles:
            check_profile_name(str(path), key="profiles")
    return config


def check_profile_name(name: str, key: str = "default_profile") -> None:
    """A default profile must load now, not fail later in every check-dns run."""
    if name.strip().lower() in ("none", "auto"):
        return
    from threer.checks.profiles import load_profile

    try:
        load_profile(name)
    except BadInput as exc:
        raise BadInput(f"{key} cannot be {name!r}: {exc.message}") from None
