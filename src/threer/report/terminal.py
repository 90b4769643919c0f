"""The terminal renderer: the report as rich renderables (the CLI prints them), with bar charts.

Every piece of session text is escaped for rich markup and has its control characters made visible.
"""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from collections.abc import Callable

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.cells import cell_len
from rich.markup import escape
from rich.table import Table
from threer.safe_rich import Text

from threer.report.model import Count, Durations, GroupRow, Report
from threer.ticket.layout import visible

BAR_WIDTH = 30  # the longest bar; narrower when the terminal is (never cut: scaled to the room there is)
MIN_BAR_WIDTH = 10
KEY_WIDTH = 40  # a longer technician, customer or category is cut with an ellipsis
_PAD = 2  # rich's padding between two columns of a box-less table without edge padding


def safe(text: str) -> str:
    """Session text as rich shows it literally: markup escaped, control characters as escapes."""
    return escape(" ".join(visible(text).split()))


def bar(value: float, maximum: float, width: int = BAR_WIDTH) -> str:
    if maximum <= 0 or value <= 0:
        return ""
    return "█" * max(1, round(width * value / maximum))


def period_words(report: Report) -> str:
    """"2024-03-01 to 2024-03-29 (Europe/London)": a period ending at midnight names its last whole day."""
    zone = ZoneInfo(report.timezone)
    start, end = report.since.astimezone(zone), report.until.astimezone(zone)
    last = f"{end - timedelta(days=1):%Y-%m-%d}" if end.time() == time(0) else f"{end:%Y-%m-%d %H:%M}"
    first = f"{start:%Y-%m-%d}" if start.time() == time(0) else f"{start:%Y-%m-%d %H:%M}"
    return f"{first} to {last} ({report.timezone})"


def percent(rate: float | None) -> str:
    """The rate as a percentage; "-" when there is none (no session was closed)."""
    return "-" if rate is None else f"{rate * 100:.0f}%"


class _Fitted:
    """A renderable built for the width it is given, so its bars fit whole."""

    def __init__(self, build: Callable[[int], RenderableType]) -> None:
        self.build = build

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.build(options.max_width)


def _layout(width: int, keys: list[str], header: str, numbers: list[int]) -> tuple[int, int]:
    """(key column width, bar width) for a table of a key column, number columns `numbers` wide and a bar:
    the bar gets what is left up to BAR_WIDTH, at least MIN_BAR_WIDTH (the key column gives way first)."""
    key = min(KEY_WIDTH, max([cell_len(header)] + [cell_len(k) for k in keys]))
    fixed = sum(numbers) + _PAD * (len(numbers) + 1)
    room = width - fixed - key
    if room >= MIN_BAR_WIDTH:
        return key, min(BAR_WIDTH, room)
    return max(8, width - fixed - MIN_BAR_WIDTH), MIN_BAR_WIDTH


def render_terminal(report: Report) -> RenderableType:
    t = report.totals
    parts: list[RenderableType] = []
    head = Text.from_markup(f"[bold]Escalation report[/] {period_words(report)}")
    parts.append(head)
    parts.append(Text.from_markup(
        f"Sessions opened [bold]{t.sessions}[/]: resolved at the partner level [green]{t.resolved}[/], "
        f"escalated [red]{t.escalated}[/], still open {t.open}. Escalation rate [bold]{percent(t.escalation_rate)}[/] "
        "of the closed sessions."))
    parts.append(_weeks(report))
    if report.groups and report.by != "week":
        parts.append(_group_table(f"By {report.by}", report.groups))
    if report.categories:
        parts.append(_group_table("Categories", report.categories))
    parts.append(_avoidable(report))
    parts.append(Text.from_markup("[bold]Time to resolve[/] " + _durations(report.time_to_resolve)
                                  + "\n[bold]Time to escalate[/] " + _durations(report.time_to_escalate)))
    parts.append(_overdue(report))
    for title, counts in (("Most frequent error codes", report.error_codes),
                          ("Most frequent DNS findings", report.dns_findings)):
        parts.append(_counts(title, counts))
    return Group(*[p for part in parts for p in (part, Text(""))][:-1])


def _weeks(report: Report) -> RenderableType:
    """A row a week; its bar is the escalation rate (the full bar is 100%)."""
    def build(width: int) -> RenderableType:
        week_width, bar_width = _layout(width, [w.week for w in report.weeks], "week", [8, 9, 4])
        table = Table(title="Escalation rate by week", title_justify="left", box=None, pad_edge=False,
                      header_style="bold")
        table.add_column("week", no_wrap=True, min_width=week_width)
        for col in ("sessions", "escalated", "rate"):
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, min_width=bar_width)
        for w in report.weeks:
            table.add_row(w.week, str(w.sessions), str(w.escalated), percent(w.escalation_rate),
                          Text(bar(w.escalation_rate or 0.0, 1.0, bar_width), style="red"))
        return table

    return _Fitted(build)


def _group_table(title: str, rows: list[GroupRow]) -> RenderableType:
    """A row a group; its bar, beside the rate, is the escalation rate (the full bar is 100%)."""
    columns = ("sessions", "resolved", "escalated", "rate")

    def build(width: int) -> RenderableType:
        numbers = [max([len(col)] + [len(str(getattr(r, col))) for r in rows]) for col in columns[:3]] + [4]
        key_width, bar_width = _layout(width, [safe(r.key) for r in rows], "", numbers)
        table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
        table.add_column("", no_wrap=True, overflow="ellipsis", max_width=key_width)
        for col in columns:
            table.add_column(col, justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, min_width=bar_width)
        for r in rows:
            table.add_row(safe(r.key), str(r.sessions), str(r.resolved), str(r.escalated),
                          percent(r.escalation_rate),
                          Text(bar(r.escalation_rate or 0.0, 1.0, bar_width), style="cyan"))
        return table

    return _Fitted(build)


def _avoidable(report: Report) -> RenderableType:
    if not report.avoidable:
        return Text.from_markup("[bold]Avoidable escalations[/]: none found.")
    table = Table(title=f"Avoidable escalations ({len(report.avoidable)})", title_justify="left", box=None,
                  pad_edge=False, header_style="bold")
    table.add_column("session", no_wrap=True)
    table.add_column("why")
    for item in report.avoidable:
        table.add_row(item.id, safe(item.why))
    return table


def _durations(d: Durations) -> str:
    if not d.count:
        return "no sessions"
    return (f"median {_minutes(d.median_minutes)}, mean {_minutes(d.mean_minutes)}, longest "
            f"{_minutes(d.max_minutes)} ({d.count} session{'s' if d.count != 1 else ''})")


def _minutes(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 90:
        return f"{value:.0f} min"
    if value < 48 * 60:
        return f"{value / 60:.1f} h"
    return f"{value / 1440:.1f} days"


def _overdue(report: Report) -> RenderableType:
    if not report.overdue:
        return Text.from_markup("[bold]Past the expected first response[/]: none.")
    zone = ZoneInfo(report.timezone)
    table = Table(title=f"Past the expected first response ({len(report.overdue)})", title_justify="left",
                  box=None, pad_edge=False, header_style="bold")
    for col in ("session", "customer", "due", "counted from"):
        table.add_column(col)
    for o in report.overdue:
        table.add_row(o.id, safe(o.customer_domain or ""), f"{o.due.astimezone(zone):%Y-%m-%d %H:%M}",
                      "sent" if o.basis == "sent" else "escalation (not sent from threer)")
    return table


def _counts(title: str, counts: list[Count]) -> RenderableType:
    if not counts:
        return Text.from_markup(f"[bold]{title}[/]: none recorded.")
    top = counts[0].count

    def build(width: int) -> RenderableType:
        key_width, bar_width = _layout(width, [safe(c.key) for c in counts], "",
                                       [max(len("sessions"), len(str(top)))])
        table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
        table.add_column("", no_wrap=True, overflow="ellipsis", max_width=key_width)
        table.add_column("sessions", justify="right", no_wrap=True)
        table.add_column("", no_wrap=True, min_width=bar_width)
        for c in counts:  # the bar, beside the count, is the count (the most frequent is the full bar)
            table.add_row(safe(c.key), str(c.count), Text(bar(c.count, top, bar_width), style="magenta"))
        return table

    return _Fitted(build)
