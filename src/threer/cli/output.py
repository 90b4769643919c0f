"""Consoles and the one way errors are shown. Colour only on a terminal; NO_COLOR respected.

Every console here is a `SafeConsole`: whatever it prints (strings, markup, rich Text, tables,
Markdown, progress bars) has its control, bidi and invisible characters made visible by
`threer.safe_text.visible`, on a terminal and in a pipe alike. JSON goes out through
`emit_json`, which escapes the same characters the JSON way, so the document stays exact.
Plain text that is not rendered by rich (a ticket body) goes out through `emit_text`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from typing import TYPE_CHECKING, Any

from threer.safe_text import json_visible, visible

if TYPE_CHECKING:
    from rich.console import Console

# rich is imported only when a console is made: a `--json` run writes its document without it.
# SafeConsole and safe_text live in threer.cli.safe_console and are importable from here too.


def _no_color() -> bool | None:
    return "NO_COLOR" in os.environ or None


def stdout_console() -> Console:
    from threer.cli.safe_console import SafeConsole

    return SafeConsole(highlight=False, soft_wrap=False, no_color=_no_color())


def stderr_console() -> Console:
    from threer.cli.safe_console import SafeConsole

    return SafeConsole(stderr=True, highlight=False, no_color=_no_color())


def console_for(*, stderr: bool, **options: Any) -> Console:
    """A safe console with other options (for commands that build their own)."""
    from threer.cli.safe_console import SafeConsole

    options.setdefault("highlight", False)
    options.setdefault("no_color", _no_color())
    return SafeConsole(stderr=stderr, **options)


def stderr_is_terminal() -> bool:
    """Whether `stderr_console().is_terminal` would be true, without importing rich when it cannot be:
    rich's console is a terminal only when stderr is a tty or TTY_COMPATIBLE / FORCE_COLOR say so."""
    if "TTY_COMPATIBLE" not in os.environ and "FORCE_COLOR" not in os.environ:
        try:
            if not sys.stderr.isatty():
                return False
        except (AttributeError, ValueError):
            return False
    return stderr_console().is_terminal


def json_text(document: Any, *, indent: int | None = 2) -> str:
    """The JSON text of a document, unsafe characters escaped the JSON way (it parses to the same value)."""
    return json_visible(json.dumps(document, ensure_ascii=False, indent=indent))


def emit_json(document: Any, *, indent: int | None = 2) -> None:
    """One JSON document on stdout."""
    _write(sys.stdout, json_text(document, indent=indent) + "\n", json=True)


def emit_exact(document: str) -> None:
    """A JSON or TOML document text on stdout, unsafe characters inside its strings written as \\u escapes."""
    _write(sys.stdout, json_visible(document), json=True)


def emit_ticket(data: str | bytes) -> None:
    """A ticket on stdout: text as `emit_text` shows it; eml bytes the same way, so no raw control byte
    reaches a terminal (write the exact file with --output)."""
    if isinstance(data, bytes):
        lines = data.decode("utf-8", "surrogateescape").split("\r\n")  # e-mail's CRLF line ends are kept
        shown = "\r\n".join(visible(line) for line in lines).encode("utf-8", "surrogateescape")
        stream = getattr(sys.stdout, "buffer", None)
        if stream is None:
            _write(sys.stdout, shown.decode("utf-8", "replace"))
            return
        sys.stdout.flush()
        stream.write(shown)
        stream.flush()
        return
    emit_text(data, newline=False)


def emit_text(text: str, *, newline: bool = True, stderr: bool = False) -> None:
    """Plain text (not rich markup) on stdout or stderr, unsafe characters shown visibly, line breaks kept."""
    _write(sys.stderr if stderr else sys.stdout, visible(text) + ("\n" if newline else ""))


def _write(stream: Any, text: str, *, json: bool = False) -> None:
    from threer.cli.streams import write_text

    write_text(stream, text, json=json)  # a console that is not UTF-8: unencodable characters escaped
    stream.flush()


def print_error(message: str) -> None:
    """One or two sentences on stderr, prefixed so scripts can grep for them."""
    _print_labelled("[bold red]Error:[/]", message)


def print_warning(message: str) -> None:
    _print_labelled("[yellow]Warning:[/]", message)


def _print_labelled(label: str, message: str) -> None:
    # word-wrapped on a terminal; one line per message in a pipe or log, so scripts can grep it.
    # The message may quote what a user typed: it is escaped, never read as markup, and made safe.
    from rich.markup import escape

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


def __getattr__(name: str) -> Any:
    # SafeConsole and safe_text moved to threer.cli.safe_console (so that importing this module does not
    # import rich); they are still importable from here
    if name in {"SafeConsole", "safe_text"}:
        from threer.cli import safe_console

        return getattr(safe_console, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
