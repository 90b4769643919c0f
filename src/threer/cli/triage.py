"""`threer triage`: the guided Replicate → Review → Research session."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

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
    customer_domain: Optional[str] = typer.Option(None, "--customer-domain", help="The customer's domain, to start with."),
    answers: Optional[Path] = typer.Option(None, "--answers", help="JSON, YAML or TOML file of answers keyed by step id."),
    no_input: bool = typer.Option(False, "--no-input", help="Never prompt; every missing answer is an error."),
    resume: Optional[str] = typer.Option(None, "--resume", metavar="ID", help="Continue a saved session."),
    change: Optional[str] = typer.Option(None, "--change", metavar="STEP", help="With --resume: change this recorded step first."),
    profile: Optional[str] = typer.Option(None, "--profile", help="Provider profile for the DNS checks (name or TOML path; 'none' for none)."),
    nameserver: list[str] = typer.Option([], "--nameserver", metavar="IP[:PORT]", help="DNS server for the checks (repeatable)."),
    dns_timeout: float = typer.Option(10.0, "--dns-timeout", min=0.1, max=300, help="Deadline in seconds for the DNS checks."),
    dns_only: bool = typer.Option(False, "--dns-only", help="Skip the checks that connect to a host (HTTPS)."),
    ca_bundle: Optional[str] = typer.Option(None, "--ca-bundle", metavar="FILE", help="PEM file of the CAs to trust for the HTTPS checks."),
) -> None:
    run_triage(ctx, customer_domain=customer_domain, answers=answers, no_input=no_input, resume=resume, change=change,
               profile=profile, nameserver=nameserver, dns_timeout=dns_timeout, dns_only=dns_only, ca_bundle=ca_bundle)


def run_triage(ctx: typer.Context, *, customer_domain: str | None = None, answers: Path | None = None,
               no_input: bool = False, resume: str | None = None, change: str | None = None,
               profile: str | None = None, nameserver: list[str] | None = None, dns_timeout: float = 10.0,
               dns_only: bool = False, ca_bundle: str | None = None) -> None:
    from threer.config import load_config, save_config
    from threer.store import Store
    from threer.triage.actions import CheckSettings, DefaultActions, forget_case, index_resolved_case
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
    from threer.cli.check_dns import ca_bundle_verify

    settings = CheckSettings(profile=profile, timeout=dns_timeout, dns_only=dns_only,
                             nameservers=_nameservers(nameserver or []), verify=ca_bundle_verify(ca_bundle))
    config = load_config(env.config_path)
    file_answers = load_answers_file(answers) if answers else {}
    partner = file_answers.pop(PARTNER_KEY, None)
    if partner:
        config = _apply_partner(config, partner)

    store = Store(env.db_path)
    recorded: set[str] = set(load_session(store, resume).steps) if resume else set()
    defaults: dict[str, dict[str, Any]] = {}
    if customer_domain:
        from threer.domain import normalise_domain

        defaults["intake.customer"] = {"domain": normalise_domain(customer_domain).domain}
        if "intake.customer" in file_answers and isinstance(file_answers["intake.customer"], dict):
            file_answers["intake.customer"].setdefault("domain", customer_domain)
    missing_steps = [s for s in STEP_IDS if s not in recorded and s not in file_answers]
    missing_partner = config.missing_partner_details()
    if not interactive and (missing_steps or missing_partner):
        raise MissingAnswers(missing_partner + missing_steps)

    prompter: Any
    if interactive:
        from threer.cli.prompts import QuestionaryPrompter

        prompter = QuestionaryPrompter(console)
        if missing_partner:
            try:
                asked = missing_partner + ([] if config.partner.technician else ["partner.technician"])
                details = prompter.ask_partner(asked)
            except KeyboardInterrupt:
                raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
            config = _apply_partner(config, details)
    else:
        from threer.cli.prompts import ScriptPrompter

        prompter = ScriptPrompter(console)
    if partner or (interactive and missing_partner):
        save_config(config, env.config_path)

    actions = DefaultActions(store, config, settings)

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

    kwargs = dict(clock=env.clock, actions=actions, on_resolved=on_resolved, on_reopened=on_reopened)
    if resume:
        engine = TriageEngine(store, resume, **kwargs)
        from threer.cli.render import session_detail

        session_detail(console, engine.session())
        console.print("[bold]Resuming[/]: recorded answers are kept; the next unrecorded step follows.")
    else:
        engine = TriageEngine.new(store, **kwargs)
        console.print(f"[bold]Triage {engine.session_id}[/] started. Every answer is saved as you give it.")

    # answers from the file for steps already recorded change them (the earlier value stays in the history)
    revisits = [s for s in STEP_IDS if s in recorded and s in file_answers]
    try:
        for step_id in ([change] if change else []) + revisits:
            single = {step_id: file_answers.pop(step_id)} if step_id in file_answers else {}
            _revisit(engine, prompter, single, step_id, defaults)
        session = run_flow(engine, prompter, file_answers, defaults=defaults)
    except KeyboardInterrupt:
        done, total = engine.session().progress()
        console.print(f"\n[bold]Paused[/] with {done} of {total} steps recorded; nothing is lost. "
                      f"Resume with: {threer_command()} triage --resume {engine.session_id}", highlight=False)
        raise typer.Exit(int(ExitStatus.INTERRUPTED)) from None
    _finish(console, session, config, env, interactive=interactive)
    typer.echo(session.id)


def _revisit(engine: Any, prompter: Any, answer: dict[str, Any], step_id: str, defaults: dict[str, Any]) -> None:
    from threer.triage.engine import parse_answer

    if answer:
        action = engine.run_action(step_id)
        engine.record(step_id, parse_answer(step_id, answer[step_id], action))
        return
    from threer.triage.flow import run_flow

    run_flow(engine, prompter, {}, defaults=defaults, start_at=step_id, only_start=True)


def _finish(console: Console, session: Any, config: Any, env: Any, *, interactive: bool) -> None:
    if session.status == "resolved":
        console.print(f"[bold green]Resolved.[/] Triage {session.id} is saved as a past case; "
                      "`threer kb search` will find it next time.")
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
            path = write_ticket_draft(session, config, env, env.clock(), redact=redact)
        except ThreerError as exc:
            console.print(f"Escalation recorded, but the ticket cannot be written yet: {exc.message}")
            return
        console.print(path.read_text(encoding="utf-8"), markup=False, highlight=False)
        if redact:
            console.print(f"The draft has them replaced by [REDACTED]; `threer ticket {session.id}` exports the "
                          "text as typed.", markup=False)
        console.print(f"[bold]Ticket draft written to[/] {path} (and a .eml draft beside it). "
                      f"Other formats: threer ticket {session.id} --format markdown|json|eml")


def _ask_redact(console: Console) -> bool:
    import questionary

    choice = questionary.select(
        "Some answers look like a password or secret. Write the ticket draft with them masked?",
        choices=["Mask them (recommended)", "Keep them as typed"],
    ).unsafe_ask()
    return choice != "Keep them as typed"


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
