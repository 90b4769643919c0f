"""Consoles and the one way errors are shown. Colour only on a terminal; NO_COLOR respected."""

from __future__ import annotations

import os
import sys

from rich.console import Console


def stdout_console() -> Console:
    return Console(highlight=False, soft_wrap=False, no_color="NO_COLOR" in os.environ or None)


def stderr_console() -> Console:
    return Console(stderr=True, highlight=False, no_color="NO_COLOR" in os.environ or None)


def print_error(message: str) -> None:
    """One or two sentences on stderr, prefixed so scripts can grep for them."""
    stderr_console().print(f"[bold red]Error:[/] {message}", markup=True, highlight=False, soft_wrap=True)


def print_warning(message: str) -> None:
    stderr_console().print(f"[yellow]Warning:[/] {message}", soft_wrap=True)


def is_interactive() -> bool:
    """Prompts only when both ends are a terminal (clig.dev: never require a prompt)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False
