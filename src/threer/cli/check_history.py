"""`check-dns --diff`: what changed since the last kept run of a domain, as a short list."""

from __future__ import annotations

from typing import Any

from rich.text import Text


def render_changes(console: Any, domain: str, changes: Any) -> None:
    """One line a change under the domain's table; a plain sentence when there is nothing to compare."""
    if changes is None:
        console.print(Text(f"No earlier check of {domain} is kept, so there is nothing to compare with yet.", style="dim"))
        return
    if changes.empty:
        console.print(Text(f"Nothing changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC.", style="dim"))
        return
    if changes.changed_anything:
        console.print(Text(f"Changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC:", style="bold"))
    else:
        console.print(Text(f"Nothing changed since the check on {changes.since:%Y-%m-%d %H:%M} UTC in what both "
                           "checks looked at:", style="bold"))
    for line in changes.lines():
        console.print(Text(f"  {line}"), overflow="fold")
