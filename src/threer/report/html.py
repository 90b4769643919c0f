"""The `--html` renderer: one self-contained page (no network, no scripts, no external fonts or styles).

Charts are inline SVG: the weekly escalation rate and the categories. Every piece of text is escaped
with `html.escape` (quotes too), and the page's Content-Security-Policy forbids scripts, so text a
session recorded can only ever show as text. Numbers carry `data-metric` attributes for machines and
tests: the same names as the JSON document.
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from threer.report.model import Count, Durations, GroupRow, Report
from threer.report.terminal import percent, period_words
from threer.ticket.layout import visible

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #1b1b1b; padding: 0 1rem; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
table { border-collapse: collapse; } th, td { padding: .2rem .7rem; text-align: left; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; }
td.id { white-space: nowrap; font-variant-numeric: tabular-nums; }
tr:nth-child(even) td { background: #f3f3f3; }
.totals { display: flex; gap: 1.5rem; flex-wrap: wrap; }
.totals div { border: 1px solid #ccc; border-radius: .4rem; padding: .5rem 1rem; }
.totals b { display: block; font-size: 1.6rem; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
"""


def e(text: object) -> str:
    """Text made inert in HTML (element content and quoted attributes alike)."""
    return html.escape(visible(str(text)), quote=True)


def render_html(report: Report) -> str:
    zone = ZoneInfo(report.timezone)
    t = report.totals
    title = f"threer escalation report {period_words(report)}"
    out = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(title)}</title>", f"<style>{_STYLE}</style>", "</head>", "<body>",
        f"<h1>{e(title)}</h1>",
        f"<p>Times in {e(report.timezone)}; generated {e(f'{report.generated_at.astimezone(zone):%Y-%m-%d %H:%M}')}."
        + (f" Grouped by {e(report.by)}." if report.by else "") + "</p>",
        '<section class="totals">',
    ]
    for label, metric, value in (("sessions opened", "totals.sessions", t.sessions),
                                 ("resolved at the partner level", "totals.resolved", t.resolved),
                                 ("escalated", "totals.escalated", t.escalated), ("still open", "totals.open", t.open)):
        out.append(f'<div><b data-metric="{metric}">{value}</b>{e(label)}</div>')
    out.append(f'<div><b data-metric="totals.escalation_rate" data-value="{_value(t.escalation_rate)}">'
               f"{rate(t.escalation_rate)}</b>escalation rate (of closed sessions)</div>")
    out.append("</section>")

    out += ["<h2>Escalation rate by week</h2>", _week_chart(report), _week_table(report)]
    if report.groups and report.by != "week":
        out += [f"<h2>By {e(report.by)}</h2>", _group_table(report.groups, "groups")]
    out += ["<h2>Categories</h2>", _category_chart(report.categories), _group_table(report.categories, "categories")]
    out.append(f'<h2>Avoidable escalations (<span data-metric="avoidable.count">{len(report.avoidable)}</span>)</h2>')
    if report.avoidable:
        out.append("<table><thead><tr><th>session</th><th>why</th></tr></thead><tbody>")
        out += [f'<tr data-avoidable="{e(item.id)}"><td class=id>{e(item.id)}</td><td>{e(item.why)}</td></tr>'
                for item in report.avoidable]
        out.append("</tbody></table>")
    else:
        out.append("<p>None found.</p>")
    out += ["<h2>Time to resolve</h2>", "<table><tbody>",
            _duration_row("resolved at the partner level", "time_to_resolve", report.time_to_resolve),
            _duration_row("escalated", "time_to_escalate", report.time_to_escalate), "</tbody></table>"]
    out.append(f'<h2>Past the expected first response (<span data-metric="overdue.count">{len(report.overdue)}'
               "</span>)</h2>")
    if report.overdue:
        out.append("<table><thead><tr><th>session</th><th>customer</th><th>due</th><th>counted from</th></tr>"
                   "</thead><tbody>")
        for o in report.overdue:
            basis = "sent" if o.basis == "sent" else "escalation (not sent from threer)"
            out.append(f"<tr><td class=id>{e(o.id)}</td><td>{e(o.customer_domain or '')}</td>"
                       f"<td>{e(f'{o.due.astimezone(zone):%Y-%m-%d %H:%M}')}</td><td>{e(basis)}</td></tr>")
        out.append("</tbody></table>")
    else:
        out.append("<p>None.</p>")
    out += [_count_table("Most frequent error codes", "error_codes", report.error_codes),
            _count_table("Most frequent DNS findings", "dns_findings", report.dns_findings),
            "</body>", "</html>"]
    return "\n".join(out) + "\n"


def rate(value: float | None) -> str:
    """The escalation rate as the page shows it: "n/a" when no session was closed (the JSON's null)."""
    return "n/a" if value is None else percent(value)


def _value(value: float | None) -> str:
    """A rate as its data-value attribute holds it: the JSON's number, or `null`."""
    return "null" if value is None else str(value)


def _week_chart(report: Report) -> str:
    """A bar a week, its height the escalation rate (0 to 100%)."""
    weeks = report.weeks
    if not weeks:
        return ""
    step, height, left, top = 44, 160, 40, 10
    width = left + step * len(weeks) + 10
    svg = [f'<svg role="img" aria-label="escalation rate by week" width="{width}" height="{height + 50}" '
           f'viewBox="0 0 {width} {height + 50}" xmlns="http://www.w3.org/2000/svg">']
    for pct in (0, 50, 100):
        y = top + height - height * pct / 100
        svg.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{pct}%</text>')
    for i, w in enumerate(weeks):
        h = height * (w.escalation_rate or 0.0)
        x = left + i * step + 8
        svg.append(f'<rect data-week="{e(w.week)}" data-rate="{_value(w.escalation_rate)}" x="{x}" y="{top + height - h:.1f}" '
                   f'width="{step - 16}" height="{h:.1f}" fill="#c0392b"><title>{e(w.week)}: '
                   f"{rate(w.escalation_rate)} of {w.resolved + w.escalated} closed</title></rect>")
        svg.append(f'<text x="{x + (step - 16) / 2:.1f}" y="{top + height + 16}" text-anchor="middle">'
                   f"W{e(w.week[-2:])}</text>")
    svg.append("</svg>")
    return "".join(svg)


def _category_chart(rows: list[GroupRow]) -> str:
    """A horizontal bar a category: sessions, the escalated part darker."""
    if not rows:
        return "<p>No sessions.</p>"
    label_w, bar_w, row_h = 220, 360, 22
    top = max(r.sessions for r in rows)
    height = row_h * len(rows) + 10
    svg = [f'<svg role="img" aria-label="sessions by category" width="{label_w + bar_w + 60}" height="{height}" '
           f'viewBox="0 0 {label_w + bar_w + 60} {height}" xmlns="http://www.w3.org/2000/svg">']
    for i, r in enumerate(rows):
        y = 5 + i * row_h
        full = bar_w * r.sessions / top if top else 0
        part = bar_w * r.escalated / top if top else 0
        label = r.key if len(r.key) <= 34 else r.key[:33] + "…"  # the full key is in the table below
        svg.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{e(label)}</text>')
        svg.append(f'<rect data-category="{e(r.key)}" data-sessions="{r.sessions}" x="{label_w}" y="{y + 3}" '
                   f'width="{full:.1f}" height="{row_h - 6}" fill="#7fb3d5"/>')
        svg.append(f'<rect x="{label_w}" y="{y + 3}" width="{part:.1f}" height="{row_h - 6}" fill="#c0392b">'
                   f"<title>{e(r.key)}: {r.escalated} of {r.sessions} escalated</title></rect>")
        svg.append(f'<text x="{label_w + full + 6:.1f}" y="{y + 14}">{r.sessions}</text>')
    svg.append("</svg>")
    return "".join(svg)


def _week_table(report: Report) -> str:
    rows = ["<table><thead><tr><th>week</th><th class=n>sessions</th><th class=n>resolved</th>"
            "<th class=n>escalated</th><th class=n>rate</th></tr></thead><tbody>"]
    for w in report.weeks:
        rows.append(f'<tr data-week-row="{e(w.week)}"><td>{e(w.week)} ({e(w.starts)})</td>'
                    f'<td class=n data-metric="sessions">{w.sessions}</td><td class=n>{w.resolved}</td>'
                    f'<td class=n data-metric="escalated">{w.escalated}</td>'
                    f'<td class=n data-metric="escalation_rate" data-value="{_value(w.escalation_rate)}">'
                    f"{rate(w.escalation_rate)}</td></tr>")
    rows.append("</tbody></table>")
    return "".join(rows)


def _group_table(rows: list[GroupRow], name: str) -> str:
    out = [f'<table data-table="{name}"><thead><tr><th></th><th class=n>sessions</th><th class=n>resolved</th>'
           "<th class=n>escalated</th><th class=n>rate</th></tr></thead><tbody>"]
    for r in rows:
        out.append(f'<tr data-key="{e(r.key)}"><td>{e(r.key)}</td><td class=n>{r.sessions}</td>'
                   f"<td class=n>{r.resolved}</td><td class=n>{r.escalated}</td>"
                   f"<td class=n>{rate(r.escalation_rate)}</td></tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _duration_row(label: str, metric: str, d: Durations) -> str:
    def cell(v: float | None) -> str:
        return "-" if v is None else f"{v:.0f} min"

    return (f'<tr data-metric="{metric}"><td>{e(label)}</td><td class=n>{d.count} sessions</td>'
            f"<td>median {cell(d.median_minutes)}</td><td>mean {cell(d.mean_minutes)}</td>"
            f"<td>longest {cell(d.max_minutes)}</td></tr>")


def _count_table(title: str, name: str, counts: list[Count]) -> str:
    if not counts:
        return f"<h2>{e(title)}</h2><p>None recorded.</p>"
    rows = [f'<h2>{e(title)}</h2><table data-table="{name}"><tbody>']
    rows += [f'<tr><td>{e(c.key)}</td><td class=n>{c.count}</td></tr>' for c in counts]
    rows.append("</tbody></table>")
    return "".join(rows)
