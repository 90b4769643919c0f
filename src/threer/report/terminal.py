"""The terminal renderer: the report as rich renderables (the CLI prints them), with bar charts.

Every piece of session text is escaped for rich markup and has its control characters made visible.
"""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from rich.console import Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from threer.report.model import Count, Durations, GroupRow, Report
from threer.ticket.layout import visible

BAR_WIDTH = 30
KEY_WIDTH = 40  # a longer technician, customer or category is cut with an ellipsis


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


def percent(rate: float) -> str:
    return f"{rate * 100:.0f}%"


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
    table = Table(title="Escalation rate by week", title_justify="left", box=None, pad_edge=False,
                  header_style="bold")
    for col in ("week", "sessions", "escalated", "rate", ""):
        table.add_column(col, justify="right" if col in ("sessions", "escalated", "rate") else "left")
    for w in report.weeks:
        table.add_row(w.week, str(w.sessions), str(w.escalated), percent(w.escalation_rate) if w.sessions else "-",
                      Text(bar(w.escalation_rate, 1.0), style="red"))
    return table


def _group_table(title: str, rows: list[GroupRow]) -> RenderableType:
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    table.add_column("", no_wrap=True, overflow="ellipsis", max_width=KEY_WIDTH)
    for col in ("sessions", "resolved", "escalated", "rate"):
        table.add_column(col, justify="right")
    table.add_column("")
    top = max((r.sessions for r in rows), default=0)
    for r in rows:
        table.add_row(safe(r.key), str(r.sessions), str(r.resolved), str(r.escalated), percent(r.escalation_rate),
                      Text(bar(r.sessions, top), style="cyan"))
    return table


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
    table = Table(title=title, title_justify="left", box=None, pad_edge=False, header_style="bold")
    table.add_column("", no_wrap=True, overflow="ellipsis", max_width=KEY_WIDTH)
    table.add_column("sessions", justify="right")
    table.add_column("")
    top = counts[0].count
    for c in counts:
        table.add_row(safe(c.key), str(c.count), Text(bar(c.count, top), style="magenta"))
    return table
