"""`threer check-dns`: parse the options, run the checks, render a table or the JSON document."""

from __future__ import annotations

import json
import re
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from threer.cli.output import emit_exact, json_text, print_error, print_warning, stderr_console, stderr_is_terminal, stdout_console
from threer.errors import BadInput, ExitStatus
from threer.files import read_stdin_text, read_user_text
from threer.lazy import LazyModule
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # threer.findings pulls in pydantic models: kept off the start-up path of other commands
    import typer
    from rich.console import Console  # rich, only where a report is rendered: `--json` never imports it
    from threer.safe_rich import Text

    from threer.findings import DomainReport

else:  # only register() uses typer: a check-dns run started by threer.cli.entry never imports it
    typer = LazyModule("typer")

JSON_VERSION = 1  # bump only when a field changes meaning or disappears; new fields do not bump it
MAX_TIMEOUT = 300.0
MAX_DOMAINS = 100_000
CONCURRENCY = 20  # domains checked at once; each has all its own look-ups in flight

_SEVERITY_STYLE = {
    "ok": "green",
    "info": "cyan",
    "warn": "yellow",
    "fail": "bold red",
    "error": "bold magenta",
}


def register(app: typer.Typer) -> None:
    """Add the typer command (its options, help and usage errors). The entry point (threer.cli.entry)
    runs a plain check-dns command line without typer; both call `run`."""

    def check_dns(
        ctx: typer.Context,
        domains: list[str] = typer.Argument(None, metavar="DOMAIN", help="Domains to check (an e-mail address or URL is reduced to its domain)."),
        from_file: str | None = typer.Option(None, "--from", metavar="FILE", help="Read domains from FILE, one a line ('-' for stdin; # starts a comment)."),
        profile: str | None = typer.Option(None, "--profile", metavar="NAME|PATH", help="Provider profile: auto (recognise it from the records), m365, google, a TOML file, or none. Default: the config's default_profile, auto unless set."),
        dkim_selector: list[str] = typer.Option([], "--dkim-selector", metavar="NAME", help="Also look for the DKIM key of this selector (repeatable), e.g. one the admin chose."),
        nameserver: list[str] = typer.Option([], "--nameserver", metavar="IP[:PORT]", help="Ask this DNS server instead of the system's (repeatable)."),
        timeout: float = typer.Option(5.0, "--timeout", metavar="S", help="Deadline in seconds for all look-ups of one domain."),
        as_json: bool = typer.Option(False, "--json", help="Print one JSON document on stdout (docs/reference/json.md)."),
        fixes: bool = typer.Option(False, "--fixes", help="Print only the zone-file lines to add or change (what to remove, and advice that would replace a record a fix already changes, as comments), for the DNS admin."),
        propagation: bool = typer.Option(False, "--propagation", help="Also compare the domain's own name servers with public resolvers."),
        dns_only: bool = typer.Option(False, "--dns-only", help="Skip the checks that connect to a host (HTTPS endpoints)."),
        ca_bundle: str | None = typer.Option(None, "--ca-bundle", metavar="FILE", help="PEM file of the CAs to trust for the HTTPS checks (default: the public CAs)."),
        ips: list[str] = typer.Option([], "--ip", metavar="ADDRESS", help="A sending server's address: its SPF verdict for the domain, reverse DNS and blocklist listings (repeatable)."),
        smtp_port: int = typer.Option(25, "--smtp-port", metavar="PORT", min=1, max=65535, help="Probe MX hosts on this port instead of 25: for labs and tests only."),
        diff: bool = typer.Option(False, "--diff", help="Also show what changed since the last check of each domain that got answers (records, findings); what only one of the two checked is not compared."),
    ) -> None:
        """Check the mail DNS of one or more domains."""
        from threer.cli.app import app_context

        raise typer.Exit(run(app_context(ctx).env, domains=domains, from_file=from_file, profile=profile,
                             dkim_selector=dkim_selector, nameserver=nameserver, timeout=timeout, as_json=as_json,
                             fixes=fixes, propagation=propagation, dns_only=dns_only, ca_bundle=ca_bundle, ips=ips,
                             smtp_port=smtp_port, diff=diff))

    app.command(
        "check-dns",
        help="Check the mail DNS of one or more domains: NS, MX, SPF, DMARC, DKIM, autodiscover, MTA-STS, TLS-RPT, "
        "DNSSEC, the MX hosts themselves (SMTP, DANE, reverse DNS), and sending addresses (--ip).",
        no_args_is_help=True,
        epilog=(
            "Exit status: 0 no fail, 1 a fail found, 2 bad usage or input, 3 nothing could be looked up.\n\n"
            "Examples:\n\n\b\n  threer check-dns contoso.com\n  threer check-dns contoso.com --profile m365 --dkim-selector s2048\n"
            "  threer check-dns --from domains.txt --json > report.json\n"
            "  threer check-dns contoso.com --fixes > contoso.zone-fixes\n"
            "  threer check-dns contoso.com --nameserver 1.1.1.1 --propagation\n"
            "  threer check-dns contoso.com --ip 203.0.113.25 --diff"
        ),
    )(check_dns)


def run(
    env: Any,
    *,
    domains: list[str] | None = None,
    from_file: str | None = None,
    profile: str | None = None,
    dkim_selector: list[str] | None = None,
    nameserver: list[str] | None = None,
    timeout: float = 5.0,
    as_json: bool = False,
    fixes: bool = False,
    propagation: bool = False,
    dns_only: bool = False,
    ca_bundle: str | None = None,
    ips: list[str] | None = None,
    smtp_port: int = 25,
    diff: bool = False,
) -> int:
    """check-dns itself, its options already read (by typer, or by threer.cli.entry): the exit status."""
    from threer.checks import CheckOptions, load_choice
    from threer.checks.resolver import parse_nameserver
    from threer.config_plain import read_for_checks

    if fixes and (as_json or propagation):
        raise BadInput("--fixes prints zone-file lines only; leave out --json and --propagation with it.")
    if not (0 < timeout <= MAX_TIMEOUT):
        raise BadInput(f"--timeout must be more than 0 and at most {MAX_TIMEOUT:g} seconds, not {timeout:g}.")
    servers = [parse_nameserver(text) for text in nameserver or []]
    names, notes = collect_domains(domains or [], from_file)
    if not names:
        raise BadInput("No domain to check. Give one or more domains, or --from FILE with one domain a line.")
    addresses = parse_addresses(ips or [])
    config = read_for_checks(env.config_path)  # without pydantic unless the file needs it
    if diff and not config.check_history:
        raise BadInput("--diff compares with the check history, which the config turns off (check_history = false). "
                       "Turn it on with `threer config set check_history true`.")
    from_config = profile is None
    if from_config:
        profile = config.default_profile
    selectors = [_selector(text) for text in dkim_selector or []] + list(config.dkim_selectors)
    options = CheckOptions(profile=profile, profile_origin="config" if from_config else "given",
                           auto_profiles=tuple(str(p) for p in config.profiles),
                           dkim_selectors=tuple(dict.fromkeys(selectors)),
                           nameservers=servers or None, timeout=timeout, dns_only=dns_only,
                           ips=addresses, smtp_port=smtp_port, blocklists=config.blocklists,
                           blocklist_mx=config.blocklist_mx)
    try:
        load_choice(options)  # a bad profile is a usage error before any look-up
    except BadInput as exc:
        if not from_config:
            raise
        raise BadInput(f"The config's default_profile (or a file in its profiles) does not load: {exc.message} "
                       "Fix it with `threer config set default_profile NAME`, or give --profile.") from None
    for note in notes:
        print_warning(note)

    options.verify = ca_bundle_verify(ca_bundle)
    views = None
    if propagation:
        from threer.checks.propagation import public_resolvers_from_env, run_propagation

        views = run_propagation(names, options, public_resolvers_from_env())
    # each domain's report is printed (and kept in the history) as soon as it and the ones before it
    # are checked, then forgotten: a long --from list never sits in memory whole
    recorder = open_history(env, config, want_diff=diff)
    output = DomainOutput("json" if as_json else "fixes" if fixes else "text", views=views, diff=diff)
    verdict = RunVerdict()

    def each(outcome: Any) -> None:
        change = recorder.add(outcome) if recorder is not None else None
        verdict.add(outcome)
        output.write(outcome.report, change)

    _run_with_progress(names, options, each)
    output.close()
    if recorder is not None:
        recorder.close()
    status = verdict.status()
    if status is ExitStatus.INCOMPLETE:
        unchecked = verdict.unchecked
        shown = ", ".join(unchecked[:5]) + (f" and {verdict.unchecked_count - 5} more" if verdict.unchecked_count > 5 else "")
        print_error(
            f"Nothing could be checked for {shown}: every look-up failed or timed out, or the DNS server answered "
            "with records of another type than asked (a captive portal or a DNS filter). Check the network or the "
            "--nameserver, or raise --timeout, and try again."
        )
    return int(status)


class DomainOutput:
    """The run's output, one domain at a time, in input order: the JSON document (written piece by
    piece, the same text as json_document gives whole), the reports, or the --fixes zone lines."""

    def __init__(self, mode: str, *, views: list[Any] | None = None, diff: bool = False) -> None:
        self.mode = mode
        self.views = views
        self.diff = diff
        self.count = 0
        self.console = stdout_console() if mode != "json" else None

    def write(self, report: DomainReport, change: Any) -> None:
        view = self.views[self.count] if self.views is not None else None
        first = self.count == 0
        self.count += 1
        if self.mode == "json":
            entry = domain_entry(report, view, change, diff=self.diff)
            text = json.dumps(entry, ensure_ascii=False, indent=2).replace("\n", "\n    ")
            emit_exact(("" if first else ",\n") + _JSON_HEAD * first + "    " + text)
            return
        from threer.safe_rich import Text

        assert self.console is not None
        if not first:
            self.console.print()
        if self.mode == "fixes":
            for line in zone_fix_lines(report):
                _print_line(self.console, Text(line))
            return
        render_report(self.console, report)
        if view is not None:
            render_propagation(self.console, view)
        if self.diff:
            from threer.cli.check_history import render_changes

            render_changes(self.console, report.domain, change)

    def close(self) -> None:
        if self.mode == "json":
            emit_exact("\n  ]\n}\n" if self.count else json_text(json_document([])) + "\n")


_JSON_HEAD = f'{{\n  "version": {JSON_VERSION},\n  "domains": [\n'


class RunVerdict:
    """The exit status of a run, gathered one outcome at a time: 1 when anything failed; else 3 when a
    domain got no DNS answer at all; else 0."""

    def __init__(self) -> None:
        self.failed = False
        self.unchecked: list[str] = []  # the first few domains nothing could be checked for
        self.unchecked_count = 0

    def add(self, outcome: Any) -> None:
        if outcome.report.summary.fail:
            self.failed = True
        if outcome.nothing_checked:
            self.unchecked_count += 1
            if len(self.unchecked) < 5:
                self.unchecked.append(outcome.report.domain)

    def status(self) -> ExitStatus:
        if self.failed:
            return ExitStatus.PROBLEMS
        return ExitStatus.INCOMPLETE if self.unchecked_count else ExitStatus.OK


def _selector(text: str) -> str:
    from threer.checks.profiles import check_selector

    try:
        return check_selector(text)
    except ValueError as exc:
        raise BadInput(f"--dkim-selector {exc}.") from None


def parse_addresses(texts: list[str]) -> tuple[str, ...]:
    """--ip values as addresses; a bad one is a usage error naming it."""
    import ipaddress

    found = []
    for text in texts:
        try:
            found.append(str(ipaddress.ip_address(text.strip())))
        except ValueError:
            from threer.safe_text import clipped

            raise BadInput(f"--ip {clipped(text)!r} is not an IP address; give the sending server's address, "
                           "such as --ip 203.0.113.25 or --ip 2001:db8::25.") from None
    return tuple(found)


def open_history(env: Any, config: Any, *, want_diff: bool) -> Any:
    """The check history's recorder for this run (None when the config turns the history off, or
    when the database cannot be opened: then a warning says so, and the check's output is kept).
    With --diff a database that cannot be opened is an error, before any look-up."""
    if not config.check_history:
        return None
    from threer.checks import history
    from threer.errors import StoreError

    try:
        from threer.store import open_store

        return SafeRecorder(history.Recorder(open_store(env, config), keep_days=config.check_history_days,
                                             now=env.clock(), changes=want_diff), want_diff=want_diff)
    except StoreError as exc:
        if want_diff:
            raise
        print_warning(f"This run was not kept in the check history: {exc.message}")
        return None


class SafeRecorder:
    """A history recorder whose trouble never loses the check's output: without --diff a database
    error stops the keeping, with one warning at the end; with --diff it is an error (the changes
    cannot be told without it)."""

    def __init__(self, recorder: Any, *, want_diff: bool) -> None:
        self.recorder: Any = recorder
        self.want_diff = want_diff
        self.trouble: str | None = None

    def add(self, outcome: Any) -> Any:
        from threer.errors import StoreError

        if self.trouble is not None:
            return None
        try:
            return self.recorder.add(outcome)
        except StoreError as exc:
            if self.want_diff:
                raise
            self.trouble = exc.message
            return None

    def close(self) -> None:
        from threer.errors import StoreError

        if self.trouble is None:
            try:
                self.recorder.close()
            except StoreError as exc:
                if self.want_diff:
                    raise
                self.trouble = exc.message
        if self.trouble is not None:
            print_warning(f"This run was not kept in the check history: {self.trouble}")


def collect_domains(arguments: list[str], from_file: str | None) -> tuple[list[str], list[str]]:
    """Normalised domains in input order without duplicates, and notes on what was changed.

    Bad entries are a usage error naming each one (up to five), so nothing is checked half-way.
    """
    from threer.domain import DomainError, normalise_domain

    entries: list[tuple[str, str]] = [("argument", a) for a in arguments]
    if from_file is not None:
        entries.extend(_read_domain_file(from_file))
    if len(entries) > MAX_DOMAINS:
        raise BadInput(f"{len(entries)} domains is more than the {MAX_DOMAINS} threer checks in one run; split the list.")
    seen: set[str] = set()
    names: list[str] = []
    notes: list[str] = []
    problems: list[str] = []
    for where, text in entries:
        try:
            normalised = normalise_domain(text)
        except DomainError as exc:
            problems.append(f"{where}: {exc.message}" if where != "argument" else exc.message)
            continue
        if normalised.note:
            notes.append(f"{normalised.domain}: {normalised.note}.")
        if normalised.domain not in seen:
            seen.add(normalised.domain)
            names.append(normalised.domain)
    if problems:
        shown = problems[:5]
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise BadInput(" ".join(shown) + more + " Nothing was checked; fix the domains and run it again.")
    return names, notes


def _read_domain_file(from_file: str) -> list[tuple[str, str]]:
    if from_file == "-":
        label = "stdin"
        text = read_stdin_text("domain list")
    else:
        path = Path(from_file).expanduser()
        label = str(path)
        text = read_user_text(path, "domain list", fix="give a text file with one domain a line")
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        content = line.split("#", 1)[0].strip()
        if content:
            entries.append((f"{label} line {number}", content))
    return entries


def _run_with_progress(names: list[str], options: Any, each: Any) -> None:
    """Check the domains, handing each outcome to `each` in input order. A progress bar shows on a
    terminal's stderr while the output goes to a file or a pipe; when the output is the terminal
    too, the reports appearing one by one are the progress."""
    from threer.checks import each_domain

    if len(names) < 2 or not stderr_is_terminal() or stdout_console().is_terminal:
        each_domain(names, options, each, concurrency=CONCURRENCY)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = stderr_console()
    columns = (TextColumn("Checking"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.description}"))
    with Progress(*columns, console=console, transient=True, redirect_stdout=False, redirect_stderr=False) as bar:
        task = bar.add_task("", total=len(names))

        def advance(report: DomainReport) -> None:
            bar.update(task, advance=1, description=report.domain)

        each_domain(names, options, each, concurrency=CONCURRENCY, progress=advance)


def json_document(reports: list[DomainReport], views: list[Any] | None = None, changes: dict | None = None) -> dict[str, Any]:
    """The check-dns JSON document (docs/reference/json.md); key order is part of the contract."""
    domains = [
        domain_entry(report, views[i] if views is not None else None,
                     changes.get(report.domain) if changes is not None else None, diff=changes is not None)
        for i, report in enumerate(reports)
    ]
    return {"version": JSON_VERSION, "domains": domains}


def domain_entry(report: DomainReport, view: Any = None, change: Any = None, *, diff: bool = False) -> dict[str, Any]:
    """One domain of the JSON document: `view` its propagation (with --propagation), `change` what
    changed since its last kept run (with --diff; None: none kept)."""
    entry: dict[str, Any] = {
        "domain": report.domain,
        "profile": report.profile,
        "profile_reason": report.profile_reason,
        "checked_at": report.checked_at.isoformat().replace("+00:00", "Z"),
        "duration_ms": report.duration_ms,
        "summary": report.summary.counts(),
        "findings": [
            {
                "id": f.id,
                "check": f.check,
                "severity": f.severity.value,
                "message": f.message,
                "fix": f.fix,
                "observed": _jsonable(f.observed),
                "expected": _jsonable(f.expected),
                "changes": [
                    {"action": c.action, "name": c.name, "type": c.rdtype, "ttl": c.ttl, "value": c.value, "line": c.line}
                    for c in f.changes
                ],
            }
            for f in report.findings
        ],
    }
    if view is not None:
        entry["propagation"] = view.model_dump(mode="json", exclude={"domain"})
    if diff:  # --diff: what changed since the last kept run (null: none kept)
        entry["changes"] = change.to_json() if change is not None else None
    return entry


def _jsonable(value: Any) -> Any:
    """Observed/expected values as plain JSON (tuples to lists, anything odd to text)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_jsonable(v) for v in value]
        return sorted(items, key=str) if isinstance(value, (set, frozenset)) else items
    if hasattr(value, "model_dump"):
        return _jsonable(value.model_dump(mode="json"))
    if is_dataclass(value) and not isinstance(value, type):  # threer's own records (findings, SPF results)
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    return str(value)


def _summary_text(report: DomainReport) -> Text:
    from threer.safe_rich import Text

    from threer.findings import Severity

    text = Text()
    parts = [(s, getattr(report.summary, s.value)) for s in (Severity.FAIL, Severity.ERROR, Severity.WARN, Severity.INFO, Severity.OK)]
    for i, (severity, count) in enumerate(p for p in parts if p[1]):
        if i:
            text.append(", ")
        text.append(f"{count} {severity.value}", style=_SEVERITY_STYLE[severity.value] if count else None)
    return text


def profile_line(report: DomainReport) -> str:
    """"profile m365, recognised from the MX (...)" or "no profile matched: judged on ..." for the report."""
    reason = report.profile_reason or ""
    if report.profile is None:
        return reason or "no profile: judged on the records' own merits"
    return f"profile {report.profile}, {reason}" if reason else f"profile {report.profile}"


CHECK_WIDTH = 13  # "autodiscover " and the longest check names
RESULT_WIDTH = 7  # "ERROR  "


def render_report(console: Console, report: DomainReport) -> None:
    """One block a finding: check, result, the message wrapped under itself, and the fix. A record to
    paste is printed whole on a line of its own, never wrapped at any width, so it can be copied."""
    from threer.safe_rich import Text

    title = Text(report.domain, style="bold")
    title.append(f"  {report.duration_ms} ms: ", style="dim")
    title.append_text(_summary_text(report))
    console.print(title)
    _print_line(console, Text("  " + profile_line(report), style="dim"))
    indent = " " * (CHECK_WIDTH + RESULT_WIDTH)
    width = max(40, console.width)
    if report.partial:
        # wrapped between words under an indent (rich would cut it at the width with none when piped)
        partial = "Partial result: some look-ups failed or ran out of time; findings marked ERROR were not checked."
        for i, line in enumerate(_wrap(partial, width - 4)):
            _print_line(console, Text(("  " if i == 0 else "    ") + line, style="magenta"))
    previous = None
    for finding in report.findings:
        label = Text((finding.check if finding.check != previous else "").ljust(CHECK_WIDTH))
        label.append(finding.severity.value.upper().ljust(RESULT_WIDTH), style=_SEVERITY_STYLE[finding.severity.value])
        lines = _wrap(finding.message + f"  [{finding.id}]", width - len(indent))
        for i, line in enumerate(lines):
            text = label.copy() if i == 0 else Text(indent)
            if i == len(lines) - 1 and line.endswith(f"[{finding.id}]"):
                text.append(line[: -len(finding.id) - 2])
                text.append(f"[{finding.id}]", style="dim")
            else:
                text.append(line)
            _print_line(console, text)
        if finding.fix:
            print_fix(console, finding, indent, width)
        previous = finding.check


def print_fix(console: Console, finding: Any, indent: str, width: int) -> None:
    """A finding's fix under `indent`: prose wrapped between words, each record whole on a line of its
    own (what to remove as `; remove:` lines), so it can be copied at any width. The triage's DNS step
    shows its findings' fixes with this too."""
    from threer.safe_rich import Text

    pieces = fix_pieces(finding)
    if pieces and pieces[0][0] == "record":
        _print_line(console, Text(indent).append("fix:", style="bold"))
    for n, (kind, piece) in enumerate(pieces):
        if kind == "record":
            _print_line(console, Text(indent + "  " + piece))
            continue
        for j, line in enumerate(_wrap(piece, width - len(indent) - 5)):
            text = Text(indent)
            text.append("fix: " if n == 0 and j == 0 else "     ", style="bold")
            text.append(line)
            _print_line(console, text)


def _print_line(console: Console, text: Text) -> None:
    # soft_wrap: rich neither wraps nor crops the line; a terminal narrower than it may fold it on
    # screen, but a copy of it is still the whole line
    console.print(text, soft_wrap=True, highlight=False)


def _wrap(text: str, width: int) -> list[str]:
    import textwrap

    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(textwrap.wrap(paragraph, max(20, width), break_long_words=False, break_on_hyphens=False) or [""])
    return lines


def fix_pieces(finding: Any) -> list[tuple[str, str]]:
    """The fix as prose and records: each record of `finding.changes` that the text spells out becomes
    a piece of its own (printed whole); records the text does not spell out follow it."""
    text = finding.fix or ""
    lines = [c.line for c in finding.changes]
    pieces: list[tuple[str, str]] = []
    while text:
        hits = [(text.find(line), line) for line in lines if line and text.find(line) >= 0]
        if not hits:
            pieces.append(("prose", text.strip()))
            break
        at, line = min(hits)
        before = text[:at].strip()
        if before:
            pieces.append(("prose", before))
        pieces.append(("record", line))
        text = text[at + len(line):]
    pieces = [part for kind, piece in pieces for part in (_records_in_prose(piece) if kind == "prose" else [(kind, piece)])]
    shown = {piece for kind, piece in pieces if kind == "record"}
    # a record the text names to remove is shown as one, never as a line to paste
    removed = {c.line for c in finding.changes if c.action == "remove"} - {c.line for c in finding.changes if c.action == "add"}
    pieces = [(kind, f"; remove: {piece}" if kind == "record" and piece in removed else piece) for kind, piece in pieces]
    # records the text does not spell out: what goes first, then the rest of the fix, then what comes in
    removals = [("record", f"; remove: {c.line}") for c in finding.changes if c.action == "remove" and c.line not in shown]
    additions = [("record", c.line) for c in finding.changes if c.action == "add" and c.line not in shown]
    return [(kind, piece) for kind, piece in removals + pieces + additions if piece]


# A record spelled out in a fix's prose (`name. TTL IN TYPE value`) that is no change of the customer's
# zone (one the report address's owner publishes, say): printed whole on a line of its own all the same
_TXT_STRINGS = r'"(?:[^"\\]|\\.)*"(?: "(?:[^"\\]|\\.)*")*'
_RECORD_IN_PROSE = re.compile(
    r"(?<!\S)[A-Za-z0-9_*][A-Za-z0-9_.*-]*\. \d+ IN (?:TXT " + _TXT_STRINGS
    + r"|(?:MX|CNAME|SRV|NS|PTR) (?:\d+ ){0,3}\S+\.)(?=$|[\s:;,)])"
)


def _records_in_prose(text: str) -> list[tuple[str, str]]:
    pieces: list[tuple[str, str]] = []
    at = 0
    for found in _RECORD_IN_PROSE.finditer(text):
        before = text[at:found.start()].strip()
        if before:
            pieces.append(("prose", before))
        pieces.append(("record", found.group(0)))
        at = found.end()
    rest = text[at:].strip()
    if rest:
        pieces.append(("prose", rest))
    return pieces


def zone_fix_lines(report: DomainReport) -> list[str]:
    """`--fixes`: the records to add or change as zone-file lines, what to remove as comments."""
    lines = [f"; {report.domain}: {profile_line(report)}"]
    seen: set[str] = set()
    # a record a fail or a warn already replaces: an info's record for it is advice in place of that one,
    # printed as a comment, since pasting both would publish two records (two SPF records are a permerror)
    replaced = {c.line for f in report.findings if f.severity.value != "info" for c in f.changes if c.action == "remove"}
    for finding in report.findings:
        if not finding.changes:
            if finding.fix and finding.severity.value in ("fail", "warn"):
                lines.append(f"; {finding.id} ({finding.severity.value}): no zone line to paste; "
                             f"`threer check-dns {report.domain}` says what to do")
            continue
        changes = [c for c in finding.changes if (c.action, c.line) not in seen]
        if not changes:
            continue
        lines.append(f"; {finding.id} ({finding.severity.value}): {finding.message}")
        if finding.severity.value == "info" and any(c.action == "remove" and c.line in replaced for c in finding.changes):
            lines.extend(f"; advice, in place of the record above once its condition holds: {c.line}"
                         for c in changes if c.action == "add")
            continue
        if any(c.needs_value for c in changes):
            lines.append("; copy the <...> parts from the provider's admin centre before pasting")
        for change in changes:
            seen.add((change.action, change.line))
            lines.append(f"; remove: {change.line}" if change.action == "remove" else change.line)
    if len(lines) == 1:
        lines.append("; nothing to add or change in the zone")
    return lines


def render_propagation(console: Console, view: Any) -> None:
    """Each server in turn, one row a record: answer, TTL, and whether it is stale."""
    from rich import box
    from rich.table import Table
    from threer.safe_rich import Text

    from threer.checks.propagation import RECORD_NAMES

    title = Text(f"Propagation of {view.domain}", style="bold")
    if view.current_serial is not None:
        title.append(f"  current SOA serial {view.current_serial}", style="dim")
    console.print(title)
    if not _propagation_table_fits(console, view):
        _propagation_lines(console, view)
        return
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    table.add_column("server", no_wrap=True)
    table.add_column("record", no_wrap=True)
    table.add_column("answer", overflow="fold")
    table.add_column("TTL", justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for server in view.servers:
        serial = f"serial {server.serial}" if server.serial is not None else f"serial: {server.serial_status}"
        for i, record in enumerate(RECORD_NAMES):
            answer = server.answers.get(record)
            if i == 0:
                label = Text(server.name)
            elif i == 1:
                label = Text(f"{server.kind} {server.address}", style="dim")
            elif i == 2:
                label = Text(serial, style="yellow" if server.stale else "dim")
            else:
                label = Text("")
            if answer is None:
                table.add_row(label, record, "-", "", "")
                continue
            shown = "\n".join(answer.values) if answer.values else f"none ({answer.status.upper()})"
            table.add_row(
                label,
                record,
                shown,
                str(answer.ttl) if answer.ttl is not None else "",
                Text("STALE", style="bold yellow") if answer.stale else "",
            )
        table.add_section()
    console.print(table)
    for note in view.notes:
        console.print(Text(note, style="yellow"))


def _server_labels(server: Any) -> list[str]:
    serial = f"serial {server.serial}" if server.serial is not None else f"serial: {server.serial_status}"
    return [server.name, f"{server.kind} {server.address}", serial]


def _propagation_table_fits(console: Console, view: Any) -> bool:
    """Whether the table shows every answer and server label whole at the console's width (a file or a
    pipe is 80 columns): a host name or a record folded across lines cannot be copied or compared."""
    from threer.checks.propagation import RECORD_NAMES

    labels = max((len(label) for server in view.servers for label in _server_labels(server)), default=6)
    answers = max((len(value) for server in view.servers for answer in server.answers.values() if answer is not None
                   for value in (answer.values or [f"none ({answer.status.upper()})"])), default=6)
    # the columns, each with one space of padding a side, and the TTL and STALE columns
    needed = labels + max(len(r) for r in RECORD_NAMES) + answers + 6 + 5 + 4 * 2
    return needed <= console.width


def _propagation_lines(console: Console, view: Any) -> None:
    """The propagation view as lines, for a console too narrow for the table: a server's name, kind,
    address and serial on one line, then one line a record value, each printed whole."""
    from threer.safe_rich import Text

    from threer.checks.propagation import RECORD_NAMES

    width = max(len(r) for r in RECORD_NAMES)
    for server in view.servers:
        name, where, serial = _server_labels(server)
        head = Text(name, style="bold").append(f"  {where}  ", style="dim")
        head.append(serial, style="yellow" if server.stale else "dim")
        _print_line(console, head)
        for record in RECORD_NAMES:
            answer = server.answers.get(record)
            if answer is None:
                _print_line(console, Text(f"  {record:<{width}}  {'':>6}         -"))
                continue
            values = answer.values or [f"none ({answer.status.upper()})"]
            ttl = str(answer.ttl) if answer.ttl is not None else ""
            for i, value in enumerate(values):
                line = Text(f"  {record:<{width}}  {ttl:>6}  " if i == 0 else " " * (width + 12))
                line.append(f"{'STALE' if answer.stale and i == 0 else '':<5}", style="bold yellow")
                line.append(f"  {value}")
                _print_line(console, line)
    for note in view.notes:
        _print_line(console, Text(note, style="yellow"))


def ca_bundle_verify(path: str | None) -> str | bool:
    """`--ca-bundle FILE` as the checks' `verify`: checked up front, so a bad file is a usage error."""
    if path is None:
        return True
    from threer.checks.https import ssl_context_for

    ssl_context_for(path)  # raises BadInput naming the file when it is missing or not PEM
    return path
