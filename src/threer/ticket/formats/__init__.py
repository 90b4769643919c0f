"""The ticket's formats, one module each in this folder: a new format (or a desk's own) is one new file.

A format module is named after its format and defines `FORMAT = TicketFormat(...)`. `names()` lists
the modules here without importing them; `get(name)` imports the one asked for.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threer.ticket.model import Ticket

# the built-in formats in the order they are offered; any other module here follows by name
_BUILT_IN = ("text", "markdown", "json", "eml")


@dataclass(frozen=True)
class TicketFormat:
    name: str
    suffix: str  # for a file of this format, e.g. ".txt"
    summary: str  # a few words for help texts and docs
    render: Callable[[Ticket, int], str | bytes]  # (ticket, width): str for text formats, bytes for binary ones


def names() -> tuple[str, ...]:
    found = {m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_")}
    return tuple(n for n in _BUILT_IN if n in found) + tuple(sorted(found - set(_BUILT_IN)))


def get(name: str) -> TicketFormat:
    """The format called `name`; ValueError naming the choices when there is none."""
    if name not in names():
        raise ValueError(f"unknown ticket format {name!r}; use one of {', '.join(names())}")
    fmt = importlib.import_module(f"{__name__}.{name}").FORMAT
    if not isinstance(fmt, TicketFormat) or fmt.name != name:  # a broken format file is a programming error
        raise TypeError(f"{__name__}.{name} must define FORMAT = TicketFormat(name={name!r}, ...)")
    return fmt
