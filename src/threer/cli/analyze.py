"""`threer analyze FILE|-`: read a pasted bounce or message headers and say what they mean."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from threer.safe_rich import Text

from threer.errors import BadInput

if TYPE_CHECKING:
    from threer.analyze.models import Analysis

MAX_READ = 20_000_000  # stdin is counted up to this much; the analyser reads the first megabyte

ANALYZE_HELP = """Read a bounce (a delivery report or a server's non-delivery message) or a message's
headers, and say what they mean: the status code in plain words, the failed recipient, the
servers and their diagnostic, the Received hops with the delay at each, the SPF, DKIM and
DMARC verdicts, the sending server's address, and search queries for the knowledge base.

Anything that cannot be read is said, and the rest is still shown.
"""

EPILOG = (
    "Examples:\n\n\b\n"
    "  threer analyze bounce.eml\n"
    "  pbpaste | threer analyze -\n"
    "  threer analyze headers.txt --json"
)


def register(app: typer.Typer) -> None:
    app.command("analyze", help=ANALYZE_HELP, epilog=EPILOG, no_args_is_help=True)(analyze_command)


def analyze_command(
    source: str = typer.Argument(..., metavar="FILE", help="The saved bounce, .eml file or header text; '-' reads stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout (docs/reference/json.md)."),
) -> None:
    from threer.analyze import analyze

    data, size, over = _read(source)
    result = analyze(data, size=size, over=over)
    from threer.cli.output import emit_json, stdout_console

    if as_json:
        emit_json(result.to_json())
        return

    analysis_report(stdout_console(), result)


def _read(source: str) -> tuple[bytes, int, bool]:
    """The start of the input (what the analyser reads, and one byte more), the input's size, and
    whether it is longer still than that size (stdin is counted only up to MAX_READ)."""
    from threer.analyze.decode import MAX_BYTES

    if source == "-":
        if sys.stdin is None:
            raise BadInput("Nothing to read on stdin; give a FILE, or pipe the text in: threer analyze - < bounce.txt")
        data = sys.stdin.buffer.read(MAX_BYTES + 1)
        size = len(data)
        while size < MAX_READ:  # the rest is only counted, to say how much was left out
            chunk = sys.stdin.buffer.read(min(1 << 20, MAX_READ - size))
            if not chunk:
                return data, size, False
            size += len(chunk)
        return data, size, bool(sys.stdin.buffer.read(1))
    path = Path(source)
    try:
        if path.is_dir():
            raise BadInput(f"{path} is a folder; give the file that holds the bounce or the headers.")
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
            size = os.fstat(fh.fileno()).st_size
            return data, max(size, len(data)), False
    except FileNotFoundError:
        raise BadInput(f"{path} does not exist; give the file that holds the bounce or the headers, or '-' for stdin.") from None
    except OSError as exc:
        raise BadInput(f"Cannot read {path} ({exc.strerror or exc}).") from None


def analysis_report(console: Console, result: Analysis, *, brief: bool = False) -> None:
    """The analysis on a terminal: what it is, the fields found, the hops and verdicts.
    Every value came from pasted text: it is printed as text, never read as markup."""
    from threer.analyze.summary import STYLE_NAMES, duration

    title = {"bounce": "Bounce", "headers": "Message headers", "text": "Text"}[result.kind]
    if result.style:
        title += f" ({STYLE_NAMES.get(result.style, result.style)})"
    if result.permanent is not None:
        title += " · " + outcome_words(result.permanent, result.status or result.smtp_code)
    console.print(Text(title, style="bold"))
    rows: list[tuple[str, str | None]] = [
        ("read from", "the attached message (a bounce forwarded as an attachment)" if result.attached else None),
        ("status", result.status and f"{result.status}: {result.meaning or 'an unlisted code'}"),
        ("SMTP reply", result.smtp_code),
        ("recipients", ", ".join(result.recipients) or None),
        ("reported by", result.reporting_mta),
        ("remote server", result.remote_mta),
        ("diagnostic", result.diagnostic),
        ("codes found", ", ".join(result.codes) if result.kind == "text" and result.codes else None),
        ("DKIM signature", ", ".join(f"d={d.d} s={d.s}" for d in result.dkim) or None),
        ("sending server", result.sending_ip),
        ("alignment", result.alignment.note if result.alignment else None),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for label, value in rows:
        if value:
            table.add_row(label, Text(value))
    if table.row_count:
        console.print(table)
    if len(result.per_recipient) > 1:
        # RFC 3464 §2.3: each recipient has its own outcome; the worst is the one above
        console.print(Text("Each recipient", style="bold"))
        for r in result.per_recipient:
            parts = [r.status or "", outcome_words(r.permanent, r.status) if r.permanent is not None else "",
                     f"Action: {r.action}" if r.action else ""]
            line = Text("  ") + Text(r.recipient or "(no address)") + Text(": " + " · ".join(p for p in parts if p))
            console.print(line, overflow="fold")
            if r.diagnostic:
                console.print(Text("    ") + Text(r.diagnostic), overflow="fold")
    if result.auth:
        console.print(Text("Authentication-Results", style="bold"))
        auth = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        for column in ("method", "result", "domain"):
            auth.add_column(column, overflow="fold")
        for v in result.auth:
            auth.add_row(Text(v.method), Text(v.result, style=_RESULT_STYLE.get(v.result, "")), Text(v.domain or ""))
        console.print(auth)
    if result.hops and not brief:
        console.print(Text("Received hops, oldest first", style="bold"))
        # one hop a few lines, not a table: host names stay whole at 80 columns
        longest = max((h.delay_s or 0 for h in result.hops), default=0)
        for n, h in enumerate(result.hops, 1):
            line = Text(f"{n:>2}  ") + Text(h.at or "(no date)")
            if h.delay_s is not None:
                slow = h.delay_s == longest and longest >= 300
                line += Text(f"  +{duration(h.delay_s)}" if h.delay_s >= 0 else f"  {duration(h.delay_s)} (clocks differ)",
                             style="bold yellow" if slow else "dim")
            console.print(line)
            source = (h.from_ or "?") + (f" [{h.ip}]" if h.ip and h.ip != h.from_ else "")
            console.print(Text("    from ") + Text(source), overflow="fold")
            console.print(Text("    by   ") + Text(h.by or "?"), overflow="fold")
    if result.queries and not brief:
        console.print(Text("Search with: ", style="bold") + Text(" · ".join(result.queries)))
    if result.unreadable:
        console.print(Text("Not read: " + "; ".join(result.unreadable) + ".", style="yellow"))
    if result.kind == "text" and not result.codes:
        console.print("Neither a bounce nor message headers, and no status or error code in it.")


def outcome_words(final: bool, code: str | None) -> str:
    """`permanent failure`, `delayed, still being tried`, or for a 4.x.x given up on, `failed after retrying`."""
    if not final:
        return "delayed, still being tried"
    return "failed after retrying (given up)" if (code or "")[:1] == "4" else "permanent failure"


_RESULT_STYLE = {"pass": "green", "fail": "bold red", "softfail": "yellow", "permerror": "magenta",
                 "temperror": "magenta", "none": "dim"}
