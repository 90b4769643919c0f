"""`threer sessions`: list, show, resume, delete and purge saved triage sessions."""

from __future__ import annotations

from datetime import timedelta
from typing import Optional

import typer
from rich.markup import escape
from threer.safe_rich import Text

from threer.cli.app import app_context
from threer.cli.columns import Column, fitted_table
from threer.cli.output import emit_json, is_interactive, stderr_console, stdout_console
from threer.errors import BadInput

sessions_app = typer.Typer(
    help="Saved triage sessions: list, show, resume, delete, purge.\n\nExample:\n\n  threer sessions list --status open",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(sessions_app, name="sessions")


def _store(ctx: typer.Context):
    from threer.store import open_store

    return open_store(app_context(ctx).env)


@sessions_app.command("list")
def list_sessions(
    ctx: typer.Context,
    status: Optional[str] = typer.Option(None, "--status", metavar="open|resolved|escalated",
                                         help="Only open, resolved or escalated sessions."),
    limit: int = typer.Option(50, "--limit", min=1, help="At most this many, newest first."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
    escalated: bool = typer.Option(False, "--escalated", help="Escalated sessions with the ticket's sent time, "
                                   "expected first response and whether it is overdue."),
) -> None:
    """List saved sessions, newest first.

    Example: threer sessions list --status open --json

    Example: threer sessions list --escalated
    """
    from threer.triage.engine import load_session

    if status and status not in {"open", "resolved", "escalated"}:
        raise BadInput(f"--status takes open, resolved or escalated, not {status!r}.")
    if escalated and status not in (None, "escalated"):
        raise BadInput(f"--escalated lists escalated sessions only; leave out --status {status}.")
    if escalated:
        _list_escalated(ctx, limit, as_json)
        return
    store = _store(ctx)
    sessions = [load_session(store, row["id"]) for row in store.list_sessions(status=status, limit=limit)]
    if as_json:
        doc = {"version": 1, "sessions": [_summary(s) for s in sessions]}
        emit_json(doc)
        return
    console = stdout_console()
    if not sessions:
        console.print("No saved sessions." if not status else f"No {status} sessions.")
        return
    columns = [Column("id", whole=True), Column("updated", drop=2, unwrapped=1), Column("customer", drop=4),
               Column("domain", whole=True), Column("status"), Column("recorded", drop=1),
               Column("technician", drop=3)]
    rows = []
    for s in sessions:
        done, total = s.progress()
        who = (s.technician or "") + (f" @ {s.host}" if s.host else "")  # who has it, on which machine
        rows.append([s.id, s.updated_at.strftime("%Y-%m-%d %H:%M"), s.customer_name or "", s.customer_domain or "",
                     s.status, f"{done}/{total}", who])
    console.print(fitted_table(console.width, columns, rows))


def _list_escalated(ctx: typer.Context, limit: int, as_json: bool) -> None:
    """The follow-up view: when each escalation's first response is due (as on the ticket) and if it is late."""
    from zoneinfo import ZoneInfo

    from threer.config import load_config
    from threer.ticket.followup import follow_up
    from threer.triage.engine import load_session

    env = app_context(ctx).env
    calendar = load_config(env.config_path).business_hours
    now = env.clock()
    rows = []
    from threer.store_open import store_exists

    if store_exists(env):
        store = _store(ctx)
        rows = [(s, follow_up(s, calendar, now)) for s in
                (load_session(store, row["id"]) for row in store.list_sessions(status="escalated", limit=limit))]
    if as_json:
        emit_json({"version": 1, "sessions": [{**_summary(s), **_follow_up_fields(f)} for s, f in rows]})
        return
    console = stdout_console()
    if not rows:
        console.print("No escalated sessions.")
        return
    zone = ZoneInfo(calendar.timezone)
    columns = [Column("id", whole=True), Column("customer", drop=1), Column("domain", whole=True), Column("sent", unwrapped=2),
               Column("first response due", unwrapped=1), Column("overdue", whole=True)]
    cells: list[list[str | Text]] = []
    for s, f in rows:
        sent = f"{f.sent_at.astimezone(zone):%Y-%m-%d %H:%M}" if f.sent_at else "not sent from threer"
        due = f"{f.due.astimezone(zone):%Y-%m-%d %H:%M}" if f.due else "-"
        if f.due and f.basis == "escalated":
            due += " (from escalation)"
        late = Text("OVERDUE", style="bold red") if f.overdue else Text("no")
        cells.append([s.id, s.customer_name or "", s.customer_domain or "", sent, due, late])
    console.print(fitted_table(console.width, columns, cells))
    console.print(f"Times in {escape(calendar.timezone)}; the first response is due {_hours_words()} business hours "
                  "after the ticket was sent (or, if it was not sent from threer, after the escalation).")


def _hours_words() -> str:
    from threer.ticket.model import RESPONSE_HOURS

    return f"{RESPONSE_HOURS['support']} (support) or {RESPONSE_HOURS['engineering']} (engineering)"


def _follow_up_fields(f) -> dict:
    return {"sent_at": f.sent_at.isoformat() if f.sent_at else None, "message_id": f.message_id,
            "team": f.team, "first_response": {
                "due": f.due.isoformat() if f.due else None, "business_hours": f.business_hours,
                "counted_from": f.counted_from.isoformat() if f.counted_from else None, "basis": f.basis},
            "overdue": f.overdue}


def _summary(s) -> dict:
    done, total = s.progress()
    return {"id": s.id, "created_at": s.created_at.isoformat(), "updated_at": s.updated_at.isoformat(),
            "status": s.status, "customer_name": s.customer_name, "customer_domain": s.customer_domain,
            "recorded": done, "steps": total, "missing": s.missing, "technician": s.technician, "host": s.host}


@sessions_app.command("show")
def show(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., metavar="ID", help="The session id, e.g. 20261126-7K3P."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Show what a session has recorded (who saved each answer, and when), its earlier answers, and what is missing.

    Example: threer sessions show 20261126-7K3P
    """
    from threer.cli.render import session_detail
    from threer.triage.engine import load_session

    store = _store(ctx)
    session = load_session(store, session_id)
    history = store.answer_history(session.id)
    if as_json:
        doc = {"version": 1, **_summary(session),
               "steps": {k: v.model_dump(mode="json", exclude={"step_id"}) for k, v in session.steps.items()},
               "history": [{**row, "superseded": bool(row.get("superseded"))} for row in history]}
        emit_json(doc)
        return
    session_detail(stdout_console(), session, history)


@sessions_app.command("resume")
def resume(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., metavar="ID", help="The session id."),
    change: Optional[str] = typer.Option(None, "--change", metavar="STEP", help="Change this recorded step first."),
) -> None:
    """Continue a saved session where it stopped (the same as threer triage --resume ID).

    Example: threer sessions resume 20261126-7K3P
    """
    from threer.cli.triage import run_triage

    run_triage(ctx, resume=session_id, change=change)


@sessions_app.command("delete")
def delete(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., metavar="ID", help="The session id."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
) -> None:
    """Delete a session, its answers, its past case and the ticket drafts the triage wrote.

    Example: threer sessions delete 20261126-7K3P --yes
    """
    env = app_context(ctx).env
    store = _store(ctx)
    row = store.get_session_row(session_id)
    _confirm(yes, f"Delete triage {row['id']} ({row['customer_name'] or 'no customer'})?")
    store.delete_session(row["id"])
    removed, left = _remove_drafts(env, [row["id"]])
    err = stderr_console()
    err.print(f"Deleted {row['id']}" + (" and its ticket drafts (" + ", ".join(p.name for p in removed) + ")"
                                        if removed else "") + ".", markup=False, highlight=False)
    _say_left(left)


# a triage touched this recently may be a call going on: kept by a purge whose cutoff reaches it
IN_PROGRESS = timedelta(days=1)
MAX_DAYS = 36_500  # a century: a larger count is a typo, and past the dates Python can count back to


@sessions_app.command("purge")
def purge(
    ctx: typer.Context,
    older_than: int = typer.Option(..., "--older-than", metavar="DAYS", min=0, max=MAX_DAYS,
                                   help="Remove sessions not touched for this many days."),
    include_open: bool = typer.Option(False, "--include-open",
                                      help="With --older-than 0: remove open sessions touched in the last 24 hours too "
                                           "(without it they are kept and counted)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="One JSON document on stdout."),
) -> None:
    """Remove customer data past a retention period: sessions (open ones too: an abandoned triage is
    customer data like any other), their answers and past cases, the ticket drafts the triage wrote
    under THREER_HOME/tickets/, and the check-dns history. A cutoff of less than a day would reach a
    triage paused or in progress: open sessions touched in the last 24 hours are then kept unless
    --include-open.

    Example: threer sessions purge --older-than 365 --yes
    """
    env = app_context(ctx).env
    store = _store(ctx)
    now = env.clock()
    cutoff = now - timedelta(days=older_than)
    recent = now - IN_PROGRESS
    protect = not include_open and cutoff > recent
    from threer.store_api import stored_time

    stamp = cutoff.strftime("%Y-%m-%d %H:%M")
    in_progress = ([r["id"] for r in store.list_sessions(status="open")
                    if stored_time(recent) < str(r["updated_at"]) <= stored_time(cutoff)] if protect else [])
    _confirm(yes, f"Delete every session not touched since {stamp} UTC"
                  + (" (open sessions touched in the last 24 hours are kept)" if protect else "") + "?")
    ids = store.purge_sessions(cutoff, keep_open_since=recent if protect else None)
    kept = [i for i in in_progress if i not in ids]
    from threer.checks import history

    history.purge(store, cutoff)  # the check-dns history is customer data too
    removed, left = _remove_drafts(env, ids, orphans_before=cutoff, store=store)
    if as_json:
        emit_json({"version": 1, "purged": ids, "kept_open": kept, "drafts_removed": [str(p) for p in removed],
                   "drafts_left": [str(p) for p in left]}, indent=None)
        return
    err = stderr_console()
    err.print(f"Purged {len(ids)} session{'s' if len(ids) != 1 else ''}"
              + (f" and {len(removed)} ticket draft file{'s' if len(removed) != 1 else ''}" if removed else "") + ".",
              markup=False, highlight=False)
    if kept:
        err.print(f"Kept {len(kept)} open session{'s' if len(kept) != 1 else ''} touched in the last 24 hours (a triage "
                  "paused or in progress): " + ", ".join(kept[:10]) + (" …" if len(kept) > 10 else "")
                  + "; add --include-open to remove them too.", markup=False, highlight=False)
    _say_left(left)


def _remove_drafts(env, ids: list[str], *, orphans_before=None, store=None) -> tuple[list, list]:
    """Remove the ticket drafts the triage wrote for these sessions (THREER_HOME/tickets/ID.txt, .eml);
    with `orphans_before`, also drafts older than that whose session no longer exists (deleted before
    threer removed drafts with it). Returns (removed, left: the files that could not be removed)."""
    from threer.ticket.drafts import remove_ticket_drafts

    folder = env.home / "tickets"
    targets = list(dict.fromkeys(ids))
    if orphans_before is not None and store is not None and folder.is_dir():
        targets += _orphan_draft_ids(folder, store, orphans_before, set(targets))
    removed, left = [], []
    for session_id in targets:
        removed += remove_ticket_drafts(session_id, env)
        left += [p for p in (folder / f"{session_id}.txt", folder / f"{session_id}.eml") if p.exists()]
    return removed, left


def _orphan_draft_ids(folder, store, before, already: set[str]) -> list[str]:
    import re

    out: list[str] = []
    known: set[str] | None = None  # the store's session ids, read once, when a draft needs them
    for path in sorted(folder.glob("*")):
        m = re.fullmatch(r"(\d{8}-[0-9A-Z]{4})\.(txt|eml)", path.name)
        if not m or m.group(1) in already or m.group(1) in out:
            continue
        try:
            if path.stat().st_mtime > before.timestamp():
                continue
        except OSError:
            continue
        if known is None:
            known = {str(row["id"]) for row in store.list_sessions()}
        if m.group(1) not in known:  # no such session: a draft left behind
            out.append(m.group(1))
    return out


def _say_left(left: list) -> None:
    if left:
        stderr_console().print("Could not remove (remove them yourself; they hold customer data): "
                               + ", ".join(str(p) for p in left), markup=False, highlight=False)


def _confirm(yes: bool, question: str) -> None:
    if yes:
        return
    if not is_interactive():
        raise BadInput("This deletes data; add --yes to confirm when there is no terminal to ask on.")
    import questionary

    if not questionary.confirm(question, default=False).unsafe_ask():
        raise typer.Exit(0)
