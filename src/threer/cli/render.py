"""How sessions, steps and action results look on a terminal (rich)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from threer.safe_rich import Text

from threer.safe_text import one_line
from threer.triage.engine import ActionResult
from threer.triage.session import RecordedStep, TriageSession
from threer.triage.steps import STEPS, Phase, Step

SEVERITY_STYLE = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "bold red", "error": "magenta"}
PHASES = [Phase.INTAKE, Phase.REPLICATE, Phase.REVIEW, Phase.RESEARCH, Phase.OUTCOME]


def phase_bar(session: TriageSession, current: Step | None) -> str:
    parts = []
    for phase in PHASES:
        ids = [s.id for s in STEPS if s.phase == phase]
        done = sum(1 for i in ids if i in session.steps)
        if current is not None and current.phase == phase:
            mark = "✓" if done == len(ids) else f"{done}/{len(ids)}"
            parts.append(f"[bold reverse] {phase.value} {mark} [/]")
        elif done == len(ids):
            parts.append(f"[green]{phase.value} ✓[/]")
        else:
            parts.append(f"[dim]{phase.value} {done}/{len(ids)}[/]")
    return "  ".join(parts)


def step_header(console: Console, step: Step, session: TriageSession) -> None:
    number = [s.id for s in STEPS].index(step.id) + 1
    console.print()
    console.rule(f"[bold]{step.phase.value}[/] · step {number} of {len(STEPS)} · {escape(step.title)}", align="left")
    console.print(phase_bar(session, step))
    console.print(f"[bold]{escape(step.question)}[/]")


def recorded_text(rec: RecordedStep) -> str:
    if rec.status == "not_applicable":
        return f"[italic]not applicable[/]: {escape(rec.reason or '')}"
    return escape(answer_text(rec.step_id, rec.answer or {}))


def answer_text(step_id: str, answer: dict[str, Any]) -> str:
    """A one-line plain summary of an answer, for lists and the resume view."""
    hidden = {"problems", "matches", "probe", "domain_note", "checked_at", "summary", "checked", "profile", "profile_reason",
              "run_error", "analysis", "dkim_selectors", "spf_ip"}
    if step_id == "review.dns":
        counts = answer.get("summary") or {}
        head = ("checks: " + ", ".join(f"{n} {k}" for k, n in counts.items() if n)) if answer.get("checked") else (
            "checks could not run" if answer.get("run_error") else "checks not run")
        note = answer.get("note")
        return head + (f"; note: {note}" if note else "")
    if step_id == "intake.errors" and answer.get("no_error_shown"):
        return "no error shown"
    parts = []
    for key, value in answer.items():
        if key in hidden or value in (None, "", [], False):
            continue
        if isinstance(value, list):
            value = ", ".join(map(str, value))
        if value is True:
            value = "yes"
        parts.append(f"{key.replace('_', ' ')}: {value}")
    text = "; ".join(parts)
    if len(text) <= 160:
        return text
    # cut between words: an id or a web address is shown whole or not at all, never half
    return text[:157].rsplit(" ", 1)[0].rstrip(";,") + " …"


def _dns_fix(console: Console, problem: dict[str, Any]) -> None:
    """The fix as `threer check-dns` prints it: records whole, one a line, removals as `; remove:` lines."""
    from types import SimpleNamespace

    from threer.cli.check_dns import print_fix

    changes = [SimpleNamespace(action=c.get("action", "add"), line=c.get("line", ""))
               for c in problem.get("changes") or [] if isinstance(c, dict)]
    print_fix(console, SimpleNamespace(fix=problem["fix"], changes=changes), " " * 6, max(40, console.width))


def action_result(console: Console, step: Step, result: ActionResult) -> None:
    console.print(f"[bold cyan]{escape(result.summary)}[/]" if result.summary else "")
    fields = result.fields
    if step.action == "dns" and fields.get("problems"):
        # one finding a few lines, wrapped between words: ids, records and addresses stay whole at 80 columns
        for p in fields["problems"]:
            sev = p["severity"]
            console.print(f"[{SEVERITY_STYLE.get(sev, '')}]{sev:<5}[/] [bold]{escape(p['id'])}[/]")
            console.print(Padding(Text(p["message"]), (0, 0, 0, 6)), overflow="fold")
            if p.get("fix"):
                _dns_fix(console, p)
    elif step.action == "prior" and fields.get("matches"):
        table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
        longest = max((len(m["id"]) for m in fields["matches"]), default=2)
        table.add_column("#", no_wrap=True)
        table.add_column("source", no_wrap=True)
        table.add_column("id", no_wrap=True, min_width=longest)  # an id is typed back: never cut
        table.add_column("title", overflow="fold")
        for n, m in enumerate(fields["matches"], 1):
            table.add_row(str(n), m["source"], escape(m["id"]), escape(m["title"]))
        console.print(table)
    elif step.action == "owa" and fields.get("probe"):
        for p in fields["probe"]:
            sev = p["severity"]
            console.print(f"  [{SEVERITY_STYLE.get(sev, '')}]{sev}[/] {escape(p['message'])}")


def session_detail(console: Console, session: TriageSession, history: list[dict[str, Any]] | None = None, *,
                   me: tuple[str | None, str | None] | None = None) -> None:
    """What a session recorded, step by step, with who saved each answer; with `history`, the earlier
    and refused answers below it (`threer sessions show`). With `me` (technician, host: the resume view),
    only answers someone else saved, or saved elsewhere, say who."""
    done, total = session.progress()
    console.print(f"[bold]Triage {session.id}[/] · {escape(one_line(session.customer_name or '(no customer yet)'))}"
                  f" · {escape(one_line(session.customer_domain or ''))} · {session.status} · {done}/{total} recorded")
    console.print(phase_bar(session, None))
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("step", no_wrap=True, min_width=max(len(s.id) for s in STEPS))
    table.add_column("recorded", overflow="fold")
    for step in STEPS:
        rec = session.steps.get(step.id)
        if rec is None:
            table.add_row(step.id, "[dim]— not recorded[/]")
            continue
        mine = me is not None and (rec.recorded_by, rec.recorded_host) in {me, (None, None)}
        origin = "" if mine else saved_by(rec.recorded_by, rec.recorded_host, rec.recorded_at)
        table.add_row(step.id, recorded_text(rec) + (f"\n[dim]{escape(origin)}[/]" if origin else ""))
    console.print(table)
    if history:
        answer_history(console, history)


def saved_by(by: str | None, host: str | None, at: Any) -> str:
    """"saved by alice on desk-1, 2026-11-26 12:00 UTC"; "" when neither who nor where is known."""
    if not by and not host:
        return ""
    who = f"saved by {one_line(by)}" if by else "saved"
    return who + (f" on {one_line(host)}" if host else "") + f", {when_text(at)}"


def when_text(at: Any) -> str:
    """A stored time (ISO text or datetime) as "2026-11-26 12:00 UTC"."""
    from datetime import datetime, timezone

    try:
        moment = at if isinstance(at, datetime) else datetime.fromisoformat(str(at))
    except ValueError:
        return str(at)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def answer_history(console: Console, history: list[dict[str, Any]]) -> None:
    """Every earlier revision of the answers, oldest first per step; a refused answer says so."""
    console.print()
    console.print("[bold]History[/] (earlier and refused answers, oldest first)")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column("step", no_wrap=True, min_width=max(len(s.id) for s in STEPS))
    table.add_column("answer", overflow="fold")
    for row in history:
        data = row.get("data") or {}
        text = (f"[italic]not applicable[/]: {escape(data.get('reason') or '')}" if data.get("status") == "not_applicable"
                else escape(answer_text(row["step_id"], data.get("answer") or {})))
        origin = saved_by(row.get("recorded_by"), row.get("recorded_host"), row["recorded_at"]) or (
            f"saved {when_text(row['recorded_at'])}")
        if row.get("superseded"):  # an attempt refused when typed; what was kept in the end is the answer above
            typed = origin.replace("saved", "typed", 1)
            note = (f"refused when typed: a colleague's revision {row['revision']} came first (the answer above "
                    f"is the one kept); {typed}")
        else:
            note = f"revision {row['revision']}, {origin}"
        table.add_row(row["step_id"], f"{text}\n[dim]{escape(note)}[/]")
    console.print(table)


def error_analysis(console: Console, rec: RecordedStep) -> None:
    """After intake.errors: what threer read in the pasted bounce or headers, and what it will do with it."""
    analysis = (rec.answer or {}).get("analysis") if rec.step_id == "intake.errors" else None
    if not analysis or not analysis.get("summary"):
        return
    from threer.safe_rich import Text

    heading = {"bounce": "threer read a bounce in it:", "headers": "threer read message headers in it:"}.get(
        analysis.get("kind"), "threer found codes in it:")
    console.print(Text(heading, style="bold cyan"))
    for line in analysis["summary"]:
        console.print(Text("  " + line), overflow="fold")
    uses = []
    if analysis.get("queries"):
        uses.append("the research step searches with " + ", ".join(analysis["queries"][:3]))
    if any(sig.get("s") for sig in analysis.get("dkim") or []):
        uses.append("the DNS step looks up its DKIM selector")
    if analysis.get("sending_ip"):
        uses.append(f"the DNS step says whether {analysis['sending_ip']} passes the customer's SPF")
    if uses:
        console.print(Text("  Next: " + "; ".join(uses) + ".", style="dim"), overflow="fold")
