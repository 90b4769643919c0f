"""Exit codes and the one error type every command turns into a plain message."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

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
    err = exc.errors()[0]
    if not with_location:
        return err["msg"].removeprefix("Value error, ").rstrip(".")
    where = ".".join(str(p) for p in err["loc"]) or "value"
    msg = err["msg"].removeprefix("Value error, ").rstrip(".")
    return f"{where}: {msg}"
