"""Consoles and the one way errors are shown. Colour only on a terminal; NO_COLOR respected."""

from __future__ import annotations

import os
import shutil
import sys

from rich.console import Console
from rich.markup import escape


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False, no_color="NO_COLOR" in os.environ or None)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, no_color="NO_COLOR" in os.environ or None)


def print_error(message: str) -> None:
    """One or two sentences on stderr, prefixed so scripts can grep for them."""
    _print_labelled("[bold red]Error:[/]", message)


def print_warning(message: str) -> None:
    _print_labelled("[yellow]Warning:[/]", message)


def _print_labelled(label: str, message: str) -> None:
    # word-wrapped on a terminal; one line per message in a pipe or log, so scripts can grep it.
    # The message may quote what a user typed: it is escaped, never read as markup.
    console = stderr_console()
    console.print(f"{label} {escape(message)}", highlight=False, soft_wrap=not console.is_terminal)


def threer_command() -> str:
    """How to run threer again, as the user can type it: `threer` when that is on PATH, else the path."""
    invoked = sys.argv[0] if sys.argv and sys.argv[0] else "threer"
    if invoked.endswith("__main__.py"):
        return "python -m threer"
    found = shutil.which("threer")
    if found and os.path.realpath(found) == os.path.realpath(invoked):
        return "threer"
    return invoked if os.path.sep in invoked else "threer"


def is_interactive() -> bool:
    """Prompts only when both ends are a terminal (clig.dev: never require a prompt)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
