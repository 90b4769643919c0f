"""`check-dns --diff`: what changed since the last kept run of a domain, as a short list."""

from __future__ import annotations

import textwrap
from typing import Any

from threer.safe_rich import Text


def render_changes(console: Any, domain: str, changes: Any) -> None:
    """One line a change under the domain's table; a plain sentence when there is nothing to compare.
    A line with records is printed whole at any width (so a record is never cut in two in a log or a
    mail); the other lines are wrapped between words, continuing under an indent."""
    width = max(40, console.width)
    if changes is None:
        _say(console, f"No earlier check of {domain} is kept, so there is nothing to compare with yet.", width, "dim")
        return
    if not changes.compared:
        _say(console, f"Nothing could be looked up this time, so nothing is compared with the check on "
             f"{changes.since:%Y-%m-%d %H:%M} UTC (kept as the one to compare with).", width, "dim")
        return
    if changes.empty:
        _say(console, f"Nothing changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC.", width, "dim")
        return
    if changes.changed_anything:
        _say(console, f"Changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC:", width, "bold")
    else:
        _say(console, f"Nothing changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC in what both "
             "checks looked at:", width, "bold")
    for line in changes.record_lines():
        console.print(Text(f"  {line}"), soft_wrap=True, highlight=False)
    for line in changes.finding_lines():
        _say(console, line, width, None, indent="  ")


def _say(console: Any, text: str, width: int, style: str | None, indent: str = "") -> None:
    """`text` wrapped between words to `width`, each line after the first indented two more spaces."""
    lines = textwrap.wrap(text, max(20, width - len(indent)), break_long_words=False, break_on_hyphens=False) or [""]
    for i, line in enumerate(lines):
        console.print(Text((indent if i == 0 else indent + "  ") + line, style=style or ""), soft_wrap=True, highlight=False)
