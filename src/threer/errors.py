"""Exit codes and the one error type every command turns into a plain message."""

from __future__ import annotations

from enum import IntEnum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError


class ExitStatus(IntEnum):
    """Process exit codes; documented in docs/reference/exit-codes.md."""

    OK = 0
    PROBLEMS = 1  # check-dns found a `fail`, or the ticket is refused as incomplete
    USAGE = 2  # bad usage or bad input
    INCOMPLETE = 3  # could not complete: network, resolver unreachable, all answers errors
    INTERRUPTED = 130  # Ctrl-C


class ThreerError(Exception):
    """An error a user can act on: one or two sentences, and the exit code it maps to."""

    exit_status: ExitStatus = ExitStatus.USAGE

    def __init__(self, message: str, exit_status: ExitStatus | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_status is not None:
            self.exit_status = exit_status

    def __str__(self) -> str:
        return self.message


class BadInput(ThreerError):
    """Input from the user or a file that cannot be used (exit 2)."""

    exit_status = ExitStatus.USAGE


class StoreError(ThreerError):
    """The database cannot be opened or written (exit 3: nothing the input can fix)."""

    exit_status = ExitStatus.INCOMPLETE


class DatabaseDamaged(StoreError):
    """The database file is damaged; threer stopped before writing to it."""


class StorageFull(StoreError):
    """The disk (or the database's size limit) is full; what was saved before is kept."""


class StorageReadOnly(StoreError):
    """The database or its folder cannot be written; commands that only read still work."""


class NewerSchema(StoreError):
    """The database was written by a newer threer; it is left as it is."""


class NotFound(ThreerError):
    """A session, article or profile named by the user does not exist (exit 2)."""

    exit_status = ExitStatus.USAGE


def describe_validation_error(exc: "ValidationError", *, with_location: bool = True) -> str:
    """The first pydantic error as `where: what`, in words a person reads."""
    return validation_problems(exc, with_location=with_location)[0]


def validation_problems(exc: "ValidationError", *, with_location: bool = True,
                        known_fields: "list[str] | None" = None) -> list[str]:
    """Every pydantic error, each as `where: what` in plain words (no "Input should be", "Extra inputs
    are not permitted" or "Value error"); an unknown field is named with the nearest known one."""
    out: list[str] = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        where = ".".join(loc) or "value"
        what = _plain(err, loc[-1] if loc else "", known_fields)
        text = f"{where}: {what}" if with_location else what
        if text not in out:
            out.append(text)
    return out or ["the value is not valid"]


def _plain(err: "Mapping[str, Any]", name: str, known_fields: "list[str] | None") -> str:
    kind = err.get("type", "")
    ctx = err.get("ctx") or {}
    given = err.get("input")
    if kind == "missing":
        return "missing; it is required"
    if kind == "extra_forbidden":
        hint = did_you_mean(name, known_fields or [])
        fields = f" (the fields are {', '.join(known_fields)})" if known_fields and not hint else ""
        return f"not a field here{hint}{fields}"
    if kind == "literal_error":
        expected = str(ctx.get("expected", "")).replace("'", "")
        shown = _shown(given)
        return f"{shown} is not one of {expected}{_yaml_hint(given)}"
    if kind in {"bool_type", "bool_parsing"}:
        return f"{_shown(given)} is not true or false"
    if kind in {"string_type", "str_type"}:
        return f"must be text, not {_shown(given)}{_yaml_hint(given)}"
    if kind in {"list_type"}:
        return "must be a list"
    if kind in {"dict_type", "model_type", "model_attributes_type"}:
        return "must be a table of fields"
    if kind.startswith(("int_", "float_")):
        return f"{_shown(given)} is not a number"
    if kind in {"greater_than", "greater_than_equal", "less_than", "less_than_equal"}:
        words = {"greater_than": "more than", "greater_than_equal": "at least", "less_than": "less than",
                 "less_than_equal": "at most"}[kind]
        bound = next(iter(ctx.values()), "")
        return f"must be {words} {bound}"
    msg = str(err.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ").rstrip(".")
    return msg[0].lower() + msg[1:] if msg[:1].isupper() and not msg[1:2].isupper() else msg


def _shown(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else repr(value[:37] + "...")
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "empty (none)"
    names: dict[type, str] = {dict: "table", list: "list"}
    return "a " + names.get(type(value), type(value).__name__)


def _yaml_hint(value: object) -> str:
    if isinstance(value, bool):
        return " (YAML reads an unquoted yes, no, on or off as true or false: put the word in quotes)"
    return ""


def did_you_mean(name: str, known: "list[str]") -> str:
    """' (did you mean reproduced?)', or '' when nothing known is near."""
    import difflib

    close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    if not close:
        # a step id typed without its phase: "reproduced" for "replicate.reproduced"
        close = [k for k in known if k.split(".")[-1] == name][:1]
    return f" (did you mean {close[0]}?)" if close else ""
