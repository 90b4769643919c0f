"""`threer report`: sessions resolved and escalated over a period, avoidable escalations, late tickets."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from threer.cli.app import app_context
from threer.cli.output import stderr_console, stdout_console
from threer.errors import BadInput


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)


def report_command(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(None, "--since", metavar="30d|4w|DATE",
                                        help="Start: a number of days or weeks back, or a date (default 30d)."),
    until: Optional[str] = typer.Option(None, "--until", metavar="DATE", help="End: this date, inclusive (default now)."),
    by: Optional[str] = typer.Option(None, "--by", metavar="technician|category|customer|week",
                                     help="Also break the sessions down by this."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout (docs/reference/report.md)."),
    html_file: Optional[Path] = typer.Option(None, "--html", metavar="FILE",
                                             help="Also write the report as one self-contained HTML page."),
) -> None:
    """Escalations and avoidable escalations over a period, from the saved sessions.

    Shows sessions opened, resolved at the partner level and escalated, the escalation rate week by
    week, escalations that research or a later resolution shows were avoidable, time to resolve,
    tickets past their expected first response, and the most frequent error codes and DNS findings.

    Example: threer report --since 2026-11-01 --by technician --html report.html
    """
    from threer.config import load_config
    from threer.report import GROUPINGS, build_report, parse_period

    env = app_context(ctx).env
    if by is not None and by.strip().lower() not in GROUPINGS:
        raise BadInput(f"--by takes {', '.join(GROUPINGS)}, not {by!r}.")
    by = by.strip().lower() if by else None
    if html_file is not None and html_file.is_dir():
        raise BadInput(f"--html {html_file} is a folder; give a file name such as {html_file / 'report.html'}.")
    config = load_config(env.config_path)
    now = env.clock()
    period = parse_period(since, until, now=now, timezone=config.business_hours.timezone)
    sessions, articles = [], {}
    from threer.store_open import store_exists

    if store_exists(env, config):  # no database yet: an empty report, and none is created
        from threer.report.source import load_articles, load_sessions
        from threer.store import open_store

        with open_store(env, config) as store:
            sessions, articles = load_sessions(store), load_articles(store.kb_index())
    report = build_report(sessions, articles, period=period, by=by, now=now, calendar=config.business_hours)

    if html_file is not None:
        from threer.report.html import render_html
        from threer.ticket import write_private

        try:
            write_private(html_file, render_html(report).encode("utf-8"))
        except OSError as exc:
            raise BadInput(f"Cannot write {html_file} ({exc.strerror or exc}). Choose another --html path.") from None
    if as_json:
        from threer.cli.output import emit_json
        from threer.report.json import report_document

        emit_json(report_document(report))
    else:
        from threer.report.terminal import render_terminal

        stdout_console().print(render_terminal(report))
    if html_file is not None:
        stderr_console().print(f"Report written to {html_file}", markup=False, highlight=False, soft_wrap=True)
