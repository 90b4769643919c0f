"""`threer triage`: the guided Replicate → Review → Research session."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from threer.cli.app import app_context
from threer.cli.output import console_for, is_interactive, print_warning, threer_command
from threer.errors import BadInput, ExitStatus

TRIAGE_HELP = """Run the guided triage: Intake, Replicate, Review, Research, Outcome.

Every answer is saved the moment it is given; Ctrl-C pauses and `--resume ID` continues.
On a terminal each step is a short form (type :back to change an earlier answer, :na REASON
when a step does not apply). Without a terminal, every answer must come from --answers.

Examples:

  threer triage

  threer triage --customer-domain contoso.com

  threer triage --answers call.yaml --no-input

  threer triage --resume 20261126-7K3P
"""


def register(app: typer.Typer) -> None:
    app.command("triage", help=TRIAGE_HELP)(triage)


def triage(
    ctx: typer.Context,
    customer_domain: Optional[str] = typer.Option(None, "--customer-domain", metavar="DOMAIN", help="The customer's domain, to start with."),
    answers: Optional[Path] = typer.Option(None, "--answers", metavar="FILE", help="JSON, YAML or TOML file of answers keyed by step id."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt; every missing answer is an error."),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="ID", help="Continue a saved session."),
    change: Optional[str] = typer.Option(None, "--change", metavar="STEP", help="With --resume: change this recorded step first."),
    profile: Optional[str] = typer.Option(None, "--profile", metavar="NAME|PATH", help="Provider profile for the DNS checks (m365, google, a TOML file, or none). Kept with the session."),
    nameserver: list[str] = typer.Option([], "--nameserver", metavar="IP[:PORT]", help="DNS server for the checks (repeatable). Kept with the session."),
    dns_timeout: Optional[float] = typer.Option(None, "--dns-timeout", metavar="S", min=0.1, max=300, help="Deadline in seconds for the DNS checks (default 10). Kept with the session."),
    dns_only: Optional[bool] = typer.Option(None, "--dns-only/--no-dns-only", help="Skip the checks that connect to a host (HTTPS). Kept with the session."),
    ca_bundle: Optional[str] = typer.Option(None, "--ca-bundle", metavar="FILE", help="PEM file of the CAs to trust for the HTTPS checks. Kept with the session."),
) -> None:
    run_triage(ctx, customer_domain=customer_domain, answers=answers, no_input=no_input, resume=resume, change=change,
               profile=profile, nameserver=nameserver, dns_timeout=dns_timeout, dns_only=dns_only, ca_bundle=ca_bundle)


def run_triage(ctx: typer.Context, *, customer_domain: str | None = None, answers: Path | None = None,
               no_input: bool = False, resume: str | None = None, change: str | None = None,
               profile: str | None = None, nameserver: list[str] | None = None, dns_timeout: float | None = None,
               dns_only: bool | None = None, ca_bundle: str | None = None) -> None:
    """The DNS options left None were not given: a new session takes the defaults, a resumed one
    the settings it was started with."""
    from threer.config import load_config, save_config
    from threer.store import open_store
    from threer.triage.actions import DefaultActions, forget_case, index_resolved_case
    from threer.triage.answers_file import PARTNER_KEY, load_answers_file
    from threer.triage.engine import TriageEngine, load_session
    from threer.triage.flow import MissingAnswers, run_flow
    from threer.triage.steps import STEP_IDS, is_step

    env = app_context(ctx).env
    interactive = not no_input and is_interactive()
    console = console_for(stderr=not interactive)

    if change and not resume:
        raise BadInput("--change needs --resume ID: it changes an answer of a saved session.")
    if change and not is_step(change):
        raise BadInput(f"{change!r} is not a triage step. The steps are: {', '.join(STEP_IDS)}.")
    given = _given_settings(profile=profile, nameserver=nameserver, dns_timeout=dns_timeout, dns_only=dns_only,
                            ca_bundle=ca_bundle)
    config = load_config(env.config_path)
    store = open_store(env, config)
    resumed = load_session(store, resume) if resume else None
    # a stale answer (review.dns of another domain) is to be given again, as if it were not recorded
    recorded: set[str] = set(resumed.steps) - set(resumed.stale) if resumed else set()
    # every problem of the file at once: its own, its partner details with the config's, and (with
    # no terminal to ask on) what is still missing
    file_answers = load_answers_file(answers, config=config, complete=not interactive, recorded=recorded,
                                     customer_domain=customer_domain) if answers else {}
    if not interactive:
        _refuse_escalation_after_fix(file_answers, resumed)  # before anything of the file is recorded
    partner = file_answers.pop(PARTNER_KEY, None)
    if partner:
        config = _apply_partner(config, partner)

    kept = store.settings(resume) if resume else {}
    check = {**DEFAULT_SETTINGS, **{k: v for k, v in kept.items() if k in DEFAULT_SETTINGS}, **given}
    settings = _check_settings(check)
    defaults: dict[str, dict[str, Any]] = {}
    if customer_domain:
        from threer.domain import normalise_domain

        defaults["intake.customer"] = {"domain": normalise_domain(customer_domain).domain}
    missing_steps = [s for s in STEP_IDS if s not in recorded and s not in file_answers]
    missing_partner = config.missing_partner_details()
    if not interactive and (missing_steps or missing_partner):
        raise MissingAnswers(missing_partner + missing_steps)

    prompter: Any
    if interactive:
        from threer.cli.prompts import QuestionaryPrompter

        from threer.cli.kb_viewer import document_reader

        prompter = QuestionaryPrompter(console, reader=document_reader(store.kb_index(), console))
        if missing_partner:
            profile_set = "default_profile" in config.model_fields_set  # in the config file already
            try:
                asked = missing_partner + ([] if config.partner.technician else ["partner.technician"])
                details = prompter.ask_partner(asked)
            except KeyboardInterrupt:
                raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
            config = _apply_partner(config, details)
            if profile is None and not profile_set:
                # first use: which service the partner resells, so the DNS step judges against it
                try:
                    config = config.model_copy(update={"default_profile": prompter.ask_provider()})
                except KeyboardInterrupt:
                    raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    else:
        from threer.cli.prompts import ScriptPrompter

        prompter = ScriptPrompter(console)
    if partner or (interactive and missing_partner):
        save_config(config, env.config_path)

    started: dict[str, str] = {}

    def on_nameservers(servers: list[str]) -> None:  # another resolver chosen after a failed DNS step
        check["nameservers"] = servers
        if "id" in started:
            store.save_settings(started["id"], check, env.clock())

    actions = DefaultActions(store, config, settings, on_nameservers=on_nameservers)

    def on_resolved(session: Any) -> None:
        try:
            index_resolved_case(store, session)
        except Exception as exc:  # noqa: BLE001 - the answer is saved; only the search index lags
            print_warning(f"Saved, but could not add the case to the search index ({exc}).")

    def on_reopened(session_id: str) -> None:
        try:
            forget_case(store, session_id)
        except Exception:  # noqa: BLE001
            pass

    kwargs = dict(clock=env.clock, actions=actions, on_resolved=on_resolved, on_reopened=on_reopened,
                  technician=config.partner.technician or env.user, host=env.host)
    if resume:
        engine = TriageEngine(store, resume, **kwargs)
        if given:
            store.save_settings(engine.session_id, check, env.clock())
        from threer.cli.render import session_detail

        session_detail(console, engine.session(), me=(engine.technician, engine.host))
        console.print("[bold]Resuming[/]: recorded answers are kept; the next unrecorded step follows.")
    else:
        engine = TriageEngine.new(store, **kwargs)
        store.save_settings(engine.session_id, check, env.clock())
        console.print(f"[bold]Triage {engine.session_id}[/] started. Every answer is saved as you give it.")

    started["id"] = engine.session_id
    revisions_at_start = engine.session().revisions()
    # answers from the file for steps already recorded change them (the earlier value stays in the history)
    revisits = [s for s in STEP_IDS if s in recorded and s in file_answers and s != change]
    if interactive:
        _keep_typed_text_on_hangup(prompter)
    issued = _say_ticket_issued(console, resumed, config) if resumed is not None and (change or revisits) else None
    try:
        for step_id in ([change] if change else []) + revisits:
            single = {step_id: file_answers.pop(step_id)} if step_id in file_answers else {}
            _revisit(engine, prompter, single, step_id, defaults)
        session = run_flow(engine, prompter, file_answers, defaults=defaults)
        if interactive and session.outcome_is_stale(revisions_at_start) and not prompter.confirm_outcome(session):
            _revisit(engine, prompter, {}, "outcome", defaults)
            session = engine.session()
    except KeyboardInterrupt:
        done, total = engine.session().progress()
        kept = getattr(prompter, "kept", None)
        console.print(f"\n[bold]Paused[/] with {done} of {total} steps recorded. Kept: every recorded answer"
                      + (f", and {escape(kept)} as a draft, filled in when you resume." if kept else
                         "; the step in progress starts again when you resume."), highlight=False)
        console.print(f"Resume with: {threer_command()} triage --resume {engine.session_id}", highlight=False)
        shown = settings_options(check)
        if shown:
            console.print(f"The session keeps its DNS settings ({escape(shown)}); give an option again to change it.",
                          highlight=False)
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    _finish(console, session, config, env, interactive=interactive, issued=issued)
    typer.echo(session.id)


def _say_ticket_issued(console: Console, session: Any, config: Any) -> Any:
    """Changing an escalated session: say that its ticket was issued (when, how) and that a corrected one
    follows, counting its first response from the same time. Returns (time, how) or None."""
    from threer.ticket.followup import issued_ticket
    from threer.ticket.layout import format_when

    issued = issued_ticket(session)
    if issued is None:
        return None
    at, how = issued
    zone = config.business_hours.timezone
    first = (f"sent to the provider on {format_when(at, zone)}"
             + (f" (Message-ID {session.ticket_message_id})" if session.ticket_message_id else "")
             if how == "sent" else f"written on {format_when(at, zone)}, when it was escalated")
    console.print(f"Triage {session.id} is escalated: its ticket was already issued ({first}). The changed "
                  f"answers make a corrected ticket, written at the end; its expected first response still "
                  f"counts from {format_when(at, zone)}.", markup=False, highlight=False)
    return issued


def _refuse_escalation_after_fix(file_answers: dict[str, Any], resumed: Any) -> None:
    """Without a terminal to ask on: an outcome escalating after the research marked a fix must say that
    the fix did not hold (EscalationAfterFix, exit 2), whether the research is in the file or recorded."""
    from threer.triage import answers as a
    from threer.triage.engine import EscalationAfterFix, parse_answer
    from threer.triage.session import marked_fixes

    def answer(step_id: str) -> Any:
        if step_id in file_answers:
            return parse_answer(step_id, file_answers[step_id])
        return resumed.answer(step_id) if resumed is not None else None

    if not {"outcome", "research.prior", "research.kb"} & set(file_answers):
        return  # a change elsewhere leaves the outcome as it was recorded
    outcome = answer("outcome")
    if not isinstance(outcome, a.OutcomeAnswer) or outcome.decision != "escalate" or outcome.fix_did_not_hold:
        return
    fixes = marked_fixes(answer("research.prior"), answer("research.kb"))
    if fixes:
        raise EscalationAfterFix(fixes)


def _revisit(engine: Any, prompter: Any, answer: dict[str, Any], step_id: str, defaults: dict[str, Any]) -> None:
    from threer.triage.engine import parse_answer

    if answer:
        action = engine.run_action(step_id)
        engine.record(step_id, parse_answer(step_id, answer[step_id], action))
        return
    from threer.triage.flow import run_flow

    run_flow(engine, prompter, {}, defaults=defaults, start_at=step_id, only_start=True)


def _finish(console: Console, session: Any, config: Any, env: Any, *, interactive: bool,
            issued: Any = None) -> None:
    """`issued`: (time, how) of the ticket issued before this run changed the session (a correction)."""
    if session.status == "resolved":
        from threer.ticket.drafts import remove_ticket_drafts

        removed = remove_ticket_drafts(session.id, env)
        _warn_secrets_in_case(session)
        console.print(f"[bold green]Resolved.[/] Triage {session.id} is saved as a past case; "
                      "`threer kb search` will find it next time.")
        if removed:
            console.print("The ticket draft written when it was to be escalated is removed: "
                          + ", ".join(str(p) for p in removed), markup=False)
        return
    if session.status == "escalated":
        from threer.errors import ThreerError
        from threer.ticket import scan_session, write_ticket_draft

        # flagged before anything is written: a password read out on the call must not land in a file unasked
        warnings = scan_session(session)
        redact = False
        if warnings:
            for warning in warnings:
                print_warning(warning.describe())
            redact = _ask_redact(console) if interactive else True
        try:
            path = write_ticket_draft(session, config, env, env.clock(), redact=redact,
                                      counted_from=issued[0] if issued else None)
        except ThreerError as exc:
            console.print(f"Escalation recorded, but the ticket cannot be written yet: {exc.message}")
            return
        console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
        if redact:
            console.print(f"The draft has them replaced by [REDACTED]; `threer ticket {session.id}` exports the "
                          "text as typed.", markup=False)
        if issued:
            at, how = issued
            from threer.ticket.layout import format_when

            console.print(f"[bold]Corrected ticket draft written to[/] {escape(str(path))} (and a .eml draft beside "
                          f"it); it replaces the ticket {'sent' if how == 'sent' else 'written'} on "
                          f"{format_when(at, config.business_hours.timezone)}."
                          + (f" Send the correction with: threer ticket {session.id} --send" if how == "sent"
                             else ""), highlight=False)
            return
        console.print(f"[bold]Ticket draft written to[/] {path} (and a .eml draft beside it). "
                      f"Other formats: threer ticket {session.id} --format markdown|json|eml")


def _warn_secrets_in_case(session: Any) -> None:
    """A resolved session becomes a past case every technician can search: say what looked secret
    in the answers that go into it (they are indexed masked; the session keeps them as typed)."""
    from threer.ticket import scan_session

    fields = ("intake.issue", "intake.errors", "replicate.environment", "outcome")
    warnings = [w for w in scan_session(session) if w.field.startswith(fields)]
    if not warnings:
        return
    for warning in warnings:
        print_warning(warning.describe())
    print_warning(f"The past case is searchable with them replaced by [REDACTED]; the session keeps them as typed "
                  f"(threer sessions delete {session.id} removes it).")


def _ask_redact(console: Console) -> bool:
    import questionary

    choice = questionary.select(
        "Some answers look like a password or secret. Write the ticket draft with them masked?",
        choices=["Mask them (recommended)", "Keep them as typed"],
    ).unsafe_ask()
    return choice != "Keep them as typed"


def _keep_typed_text_on_hangup(prompter: Any) -> None:
    """The terminal closing (SIGHUP) keeps the field being typed as a draft, as Ctrl-C does."""
    import os
    import signal

    if not hasattr(signal, "SIGHUP"):
        return

    def on_hangup(signum: int, frame: Any) -> None:
        try:
            prompter.keep_live_text()
        finally:
            os._exit(128 + signum)  # the terminal is gone: nothing left to show or tidy up

    signal.signal(signal.SIGHUP, on_hangup)


DEFAULT_SETTINGS: dict[str, Any] = {"profile": None, "nameservers": [], "timeout": 10.0, "dns_only": False,
                                    "ca_bundle": None}


def _given_settings(*, profile: str | None, nameserver: list[str] | None, dns_timeout: float | None,
                    dns_only: bool | None, ca_bundle: str | None) -> dict[str, Any]:
    """The DNS settings given on the command line, checked and made independent of the folder."""
    given: dict[str, Any] = {}
    if profile is not None:
        path = Path(profile).expanduser()
        # a profile file named relative to this folder must still be found when resumed from another
        given["profile"] = str(path.resolve()) if profile.lower().endswith(".toml") or path.is_file() else profile
    if nameserver:
        from threer.checks.resolver import parse_nameserver

        for value in nameserver:
            parse_nameserver(value)  # a bad address is a usage error now, not at the DNS step
        given["nameservers"] = list(nameserver)
    if dns_timeout is not None:
        given["timeout"] = float(dns_timeout)
    if dns_only is not None:
        given["dns_only"] = bool(dns_only)
    if ca_bundle is not None:
        from threer.cli.check_dns import ca_bundle_verify

        ca_bundle_verify(ca_bundle)
        given["ca_bundle"] = str(Path(ca_bundle).expanduser().resolve())
    return given


def _check_settings(check: dict[str, Any]) -> Any:
    from threer.cli.check_dns import ca_bundle_verify
    from threer.triage.actions import CheckSettings

    try:
        verify = ca_bundle_verify(check["ca_bundle"])
    except BadInput as exc:
        raise BadInput(f"{exc.message} (kept with the session: give --ca-bundle again to change it)") from None
    return CheckSettings(profile=check["profile"], timeout=float(check["timeout"]), dns_only=bool(check["dns_only"]),
                         nameservers=_nameservers(list(check["nameservers"])), verify=verify)


def settings_options(check: dict[str, Any]) -> str:
    """The settings that differ from the defaults, written as the options that set them."""
    parts: list[str] = []
    for server in check.get("nameservers") or []:
        parts.append(f"--nameserver {server}")
    if check.get("profile") is not None:
        parts.append(f"--profile {check['profile']}")
    if check.get("timeout") not in (None, DEFAULT_SETTINGS["timeout"]):
        parts.append(f"--dns-timeout {check['timeout']:g}")
    if check.get("dns_only"):
        parts.append("--dns-only")
    if check.get("ca_bundle"):
        parts.append(f"--ca-bundle {check['ca_bundle']}")
    return " ".join(parts)


def _nameservers(values: list[str]) -> list[tuple[str, int]] | None:
    if not values:
        return None
    from threer.checks.resolver import parse_nameserver

    return [parse_nameserver(v) for v in values]


def _apply_partner(config: Any, details: Any) -> Any:
    from threer.config import Config, describe_validation_error
    from pydantic import ValidationError

    if not isinstance(details, dict):
        raise BadInput("The partner details must be a table: domain, control_panel_url, support_address, technician.")
    data = config.model_dump(mode="json")
    data["partner"] = {**data["partner"], **{k: v for k, v in details.items()}}
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise BadInput(f"The partner details are not valid: {describe_validation_error(exc)}.") from None

