"""The DNS and mail-domain checks (SPEC §4) and the runner that runs them for one or many domains.

Each check lives in its own module (`mx.py`, `spf.py`, ...) as `async def check_<name>(ctx)`.
The runner gives every domain one Resolver (one cache, one overall deadline), runs all of that
domain's checks at once in one event loop, and runs many domains side by side with a bound on
concurrency. The domains of one run share their answers (never their failures or deadlines), so
one domain's trouble never reaches another's report.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass, field
import importlib
import ssl
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Literal, cast

from threer.findings import DomainReport, Finding, Severity

if TYPE_CHECKING:
    from threer.checks.blocklist import Blocklist
    from threer.checks.profiles import Profile
    from threer.checks.recognise import ProfileChoice
    from threer.checks.resolver import Resolver, SharedAnswers

CHECKS = ("ns", "mx", "spf", "dmarc", "dkim", "autodiscover", "mta-sts", "tls-rpt", "dnssec", "smtp", "dane", "rdns")
# Checks that run only when asked for through their options: spf-ip and blocklist judge --ip addresses
# (blocklist also the MX hosts' with blocklist_mx)
ON_REQUEST = ("spf-ip", "blocklist")
# Checks that open connections to hosts, so --dns-only leaves them out
CONNECTING = ("smtp", "owa")
# Checks about the MX hosts: silent when the domain has none (the mx check says so, once)
MX_HOST_CHECKS = ("smtp", "dane", "rdns")
# The checks that look only at names inside the domain: when the domain does not exist, each would
# call its records missing and offer records to add, so the runner gives one `ns.checks-skipped` instead.
# (ns itself says the domain is gone; owa probes the provider's address, which does not depend on it.)
DEPENDS_ON_DOMAIN = ("mx", "spf", "dmarc", "dkim", "autodiscover", "mta-sts", "tls-rpt", "dnssec", "smtp", "dane", "spf-ip")

# check name -> (module, function); modules are imported lazily so a missing one is skipped
CHECK_FUNCTIONS: dict[str, tuple[str, str]] = {
    "ns": ("threer.checks.ns", "check_ns"),
    "mx": ("threer.checks.mx", "check_mx"),
    "spf": ("threer.checks.spf", "check_spf"),
    "spf-ip": ("threer.checks.spf_ip", "check_spf_ip"),
    "dmarc": ("threer.checks.dmarc", "check_dmarc"),
    "dkim": ("threer.checks.dkim", "check_dkim"),
    "autodiscover": ("threer.checks.autodiscover", "check_autodiscover"),
    "mta-sts": ("threer.checks.mta_sts", "check_mta_sts"),
    "tls-rpt": ("threer.checks.tls_rpt", "check_tls_rpt"),
    "dnssec": ("threer.checks.dnssec", "check_dnssec"),
    "smtp": ("threer.checks.smtp", "check_smtp"),
    "dane": ("threer.checks.dane", "check_dane"),
    "rdns": ("threer.checks.rdns", "check_rdns"),
    "blocklist": ("threer.checks.blocklist", "check_blocklist"),
    "owa": ("threer.checks.owa", "check_owa"),
}

# Findings the runner itself can add, whatever the check (documented in docs/reference/findings/README.md)
RUNNER_FINDING_IDS = frozenset(
    {f"{name}.unexpected-error" for name in CHECK_FUNCTIONS} | {f"{name}.not-finished" for name in CHECK_FUNCTIONS}
)

# Beyond the DNS deadline, how long HTTPS probes and stragglers may take before the runner stops waiting
_GRACE_SECONDS = 1.0

@dataclass(kw_only=True)
class CheckOptions:
    """How to run the checks: the same for every domain of a run. A bad value is a ValueError naming it."""

    profile: str | None = None  # built-in name, TOML path, "auto", or None/"none" for no profile
    profile_origin: str = "given"  # given (--profile) | config (default_profile): said in the report
    # partner profile files `auto` also chooses from (before the built-ins)
    auto_profiles: tuple[str, ...] = ()
    # DKIM selectors to look for beyond the profile's (`--dkim-selector`, the config's dkim_selectors)
    dkim_selectors: tuple[str, ...] = ()
    nameservers: list[tuple[str, int]] | None = None  # None: the system's resolvers
    timeout: float = 5.0  # the overall deadline for one domain, seconds (more than 0)
    dns_only: bool = False  # skip every check that opens a connection to a host
    verify: ssl.SSLContext | str | bool = True  # CA bundle for HTTPS probes
    # which checks to run, by name (any of CHECK_FUNCTIONS, "owa" included); None: every check of
    # CHECKS, plus owa when the profile names an OWA address and connections are allowed
    checks: tuple[str, ...] | None = None
    # where the domain's own name servers listen; None: 53, unless every --nameserver shares one other
    # port (a lab or test server that serves all zones), then that port
    authoritative_port: int | None = None
    ips: tuple[str, ...] = ()  # sending addresses (--ip): their SPF verdict, reverse DNS and blocklist listings
    smtp_port: int = 25  # where the smtp check probes MX hosts (labs and tests), 1 to 65535
    blocklists: tuple[str, ...] | None = None  # blocklist zones to ask; None: the documented defaults
    blocklist_mx: bool = False  # also look the MX hosts' addresses up in the blocklists

    def __post_init__(self) -> None:
        # what callers give as lists (a JSON settings file, a config) is kept as tuples, as the fields say
        self.auto_profiles = tuple(self.auto_profiles)
        self.dkim_selectors = tuple(self.dkim_selectors)
        if self.nameservers is not None:
            self.nameservers = [(str(host), int(port)) for host, port in self.nameservers]
        self.timeout = float(self.timeout)
        if not self.timeout > 0:
            raise ValueError(f"timeout must be more than 0, not {self.timeout:g}")
        if not 1 <= self.smtp_port <= 65535:
            raise ValueError(f"smtp_port must be from 1 to 65535, not {self.smtp_port}")
        if self.blocklists is not None:
            self.blocklists = tuple(self.blocklists)
        self.ips = _addresses(self.ips)
        self.checks = _known_checks(self.checks)

    def effective_authoritative_port(self) -> int:
        if self.authoritative_port is not None:
            return self.authoritative_port
        ports = {port for _, port in self.nameservers or ()}
        return ports.pop() if len(ports) == 1 else 53


def _addresses(ips: tuple[str, ...]) -> tuple[str, ...]:
    import ipaddress

    found = []
    for text in ips:
        try:
            address = ipaddress.ip_address(str(text).strip())
        except ValueError:
            raise ValueError(f"{text!r} is not an IP address") from None
        if address.version == 6 and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        found.append(str(address))
    return tuple(dict.fromkeys(found))


def _known_checks(checks: tuple[str, ...] | None) -> tuple[str, ...] | None:
    if checks is None:
        return None
    unknown = [name for name in checks if name not in CHECK_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown check {', '.join(map(repr, unknown))}; the checks are {', '.join(CHECK_FUNCTIONS)}")
    if not checks:
        raise ValueError("checks names no check; give None to run them all")
    return tuple(dict.fromkeys(checks))  # each once, in the order given


@dataclass(kw_only=True)
class DomainOutcome:
    """A domain's report and how its look-ups went: no answer at all means nothing could be checked."""

    report: DomainReport
    answered: int = 0  # look-ups that got an answer (including NXDOMAIN and NODATA)
    failed: int = 0  # look-ups that could not be answered (timeout, SERVFAIL, network ...)
    wrong_type: int = 0  # of those, answered with records of another type than asked
    lookups: list[Any] = field(default_factory=list)  # what the DNS said, for the check history

    @property
    def nothing_checked(self) -> bool:
        """No look-up was answered; or the resolver answered more questions with records of another type
        than it answered at all (a captive portal or a DNS filter rewriting answers): then its few
        "answers" (an address for an address question) are not to be trusted either, and the run
        could not complete (SPEC: exit 3 when every answer is an error)."""
        from threer.checks.resolver import judged_filter

        return (self.answered == 0 and self.failed > 0) or judged_filter(self.answered, self.wrong_type)


class _CountingResolver:
    """The run's resolver, counting answered and failed look-ups for the domain's outcome."""

    def __init__(self, inner: "Resolver") -> None:
        self._inner = inner
        self.answered = 0
        self.failed = 0
        self.wrong_type = 0
        self.seen: dict[tuple[str, str], Any] = {}  # every look-up of the domain's checks, for the history

    async def query(self, name: str, rdtype: str) -> Any:
        lookup = await self._inner.query(name, rdtype)
        self.seen.setdefault((lookup.name, lookup.rdtype), lookup)
        if lookup.is_error:
            self.failed += 1
            self.wrong_type += lookup.wrong_type
        else:
            self.answered += 1
        return lookup

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class LazyCheck:
    """A check function whose module is imported when the runner first starts that check."""

    def __init__(self, module_name: str, function_name: str) -> None:
        self.module_name = module_name
        self.function_name = function_name
        self.function: Callable[..., Any] | None = None

    def load(self) -> Callable[..., Any]:
        if self.function is None:
            self.function = getattr(importlib.import_module(self.module_name), self.function_name)
        return self.function


@functools.cache
def lazy_checks() -> dict[str, Callable[..., Any] | LazyCheck]:
    """The checks whose modules exist, as available_checks, each module imported when its check first
    runs (one dict for the process: once imported, a check starts at once in every later domain)."""
    from importlib.util import find_spec

    return {name: LazyCheck(module_name, function_name) for name, (module_name, function_name) in CHECK_FUNCTIONS.items()
            if find_spec(module_name) is not None}


async def _first_questions_out() -> None:
    # a few turns of the event loop: the check just started opens its socket and sends its first
    # questions (a turn to start, one for the transport to connect, one to send) before the runner
    # imports the next check's module
    for _ in range(4):
        await asyncio.sleep(0)


def available_checks() -> dict[str, Callable[..., Any]]:
    """The check functions whose modules exist now, by check name."""
    found: dict[str, Callable[..., Any]] = {}
    for name, (module_name, function_name) in CHECK_FUNCTIONS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # not written yet: skip; a broken import inside it is a bug
                continue
            raise
        function = getattr(module, function_name, None)
        if function is not None:
            found[name] = function
    return found


def finding_ids(check: str) -> frozenset[str]:
    """Every id a check module declares it can emit (empty when the module does not exist yet)."""
    module_name = CHECK_FUNCTIONS[check][0]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return frozenset()
        raise
    return frozenset(getattr(module, "FINDING_IDS", frozenset()))


def make_resolver(options: CheckOptions, shared: "SharedAnswers | None" = None) -> "Resolver":
    """One domain's resolver: each server listed once, tried in turn, the deadline shared between them.

    A lost UDP packet is sent again by the Resolver itself within each server's share of the time;
    `shared` joins the answers of the run's other domains (see check_domains)."""
    from threer.checks.resolver import Resolver, system_nameservers

    servers = list(options.nameservers or system_nameservers())
    return Resolver(servers, timeout=options.timeout / len(servers), deadline=options.timeout, shared=shared)


def load_choice(options: CheckOptions) -> "ProfileChoice | list[Profile]":
    """The run's profile: a fixed choice, or for `auto` the candidate profiles (BadInput if one will not load)."""
    from threer.checks.profiles import auto_candidates, is_auto, resolve_profile
    from threer.checks.recognise import fixed_choice

    if is_auto(options.profile):
        return auto_candidates(options.auto_profiles)
    return fixed_choice(resolve_profile(options.profile), options.profile_origin)


def _checks_to_run(options: CheckOptions, profile: "Profile | None") -> list[str]:
    if options.checks is not None:  # exactly what was asked for: owa only when named
        return list(options.checks)
    wanted = [name for name in CHECKS if not (options.dns_only and name in CONNECTING)]
    if options.ips:
        wanted.append("spf-ip")
    if options.ips or options.blocklist_mx:
        wanted.append("blocklist")
    # OWA is only worth probing when the profile names a URL, and it connects to a host
    if profile is not None and profile.owa_url and not options.dns_only:
        wanted.append("owa")
    return wanted


async def check_domain(
    domain: str,
    options: CheckOptions,
    *,
    resolver: "Resolver | None" = None,
    now: datetime | None = None,
    profile: "Profile | ProfileChoice | None | Literal[False]" = False,
) -> DomainReport:
    """Run every check of one domain concurrently. Never raises for trouble in the checks.

    `profile=False` loads `options.profile` (`auto`: recognised from the domain's records); a Profile,
    a ProfileChoice or None is used as given (check_domains loads it once for the whole run).
    """
    outcome = await run_domain(domain, options, resolver=resolver, now=now, profile=profile)
    return outcome.report


async def run_domain(
    domain: str,
    options: CheckOptions,
    *,
    resolver: "Resolver | None" = None,
    now: datetime | None = None,
    profile: "Profile | ProfileChoice | list[Profile] | None | Literal[False]" = False,
    shared: "SharedAnswers | None" = None,
    functions: Mapping[str, Callable[..., Any] | LazyCheck] | None = None,
) -> DomainOutcome:
    """check_domain, with the count of answered and failed look-ups (`shared` and `functions`: what
    check_domains works out once for all its domains)."""
    from threer.checks.context import CheckContext
    from threer.checks.recognise import ProfileChoice, fixed_choice, recognise_profile

    started = time.monotonic()
    checked_at = now or datetime.now(timezone.utc)
    if profile is False:
        profile = load_choice(options)
    if resolver is None:
        resolver = make_resolver(options, shared)
    counting = _CountingResolver(resolver)
    if isinstance(profile, list):  # auto: the candidates; the domain's MX/SPF/autodiscover decide
        choice = await recognise_profile(counting, domain, profile)
    elif isinstance(profile, ProfileChoice):
        choice = profile
    else:
        choice = fixed_choice(profile or None, options.profile_origin)
    ctx = CheckContext(
        domain=domain,
        # _CountingResolver wraps the Resolver and hands it every attribute but query (__getattr__)
        resolver=cast("Resolver", counting),
        profile=choice.profile,
        choice=choice,
        dkim_selectors=tuple(options.dkim_selectors),
        dns_only=options.dns_only,
        http_timeout=min(5.0, options.timeout),
        verify=options.verify,
        now=checked_at,
        authoritative_port=options.effective_authoritative_port(),
        smtp_port=options.smtp_port,
        ips=options.ips,
        blocklists=_blocklists(options),
        blocklist_mx=options.blocklist_mx,
    )
    if functions is None:
        functions = lazy_checks()
    names = [name for name in _checks_to_run(options, ctx.profile) if name in functions]
    launched = time.monotonic()
    # Each check starts as soon as its module is imported, and its first questions go out before the
    # next module is imported: in a short run the imports overlap the wait for the first answers.
    tasks: dict[str, asyncio.Future[list[Finding]]] = {}
    for name in names:
        entry = functions[name]
        imported = not isinstance(entry, LazyCheck) or entry.function is not None
        function = entry.load() if isinstance(entry, LazyCheck) else entry
        tasks[name] = asyncio.ensure_future(_run_one(name, function, ctx))
        if not imported:
            await _first_questions_out()
    limit = options.timeout + ctx.http_timeout + _GRACE_SECONDS
    # Whether the domain exists is asked beside the checks (the ns check asks the same, so it costs
    # nothing); once the DNS says it does not, the checks that look inside it stop.
    not_found, skipped = await _domain_not_found(domain, counting, names, limit), []
    if not_found is not None:
        skipped = [name for name in names if name in DEPENDS_ON_DOMAIN]
        for name in skipped:
            tasks.pop(name).cancel()
    remaining = max(0.0, limit - (time.monotonic() - launched))
    done, pending = await asyncio.wait(tasks.values(), timeout=remaining) if tasks else (set(), set())
    for task in pending:
        task.cancel()
    findings: list[Finding] = []
    if not_found is not None:
        from threer.checks.ns import checks_skipped_finding

        findings.append(not_found)
        if skipped:
            findings.append(checks_skipped_finding(domain, skipped))
    for name, task in tasks.items():
        if task in done:
            findings.extend(task.result())
        else:
            findings.append(
                Finding(
                    id=f"{name}.not-finished",
                    check=name,
                    severity=Severity.ERROR,
                    message=f"The {name} check did not finish within {limit:.1f} s, so it could not be checked.",
                )
            )
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)
    if not_found is not None and sum(f.id == "ns.not-found" for f in findings) > 1:
        findings.remove(not_found)  # the ns check said it too
    from threer.checks.resolver import distrust_filtered, judged_filter

    if judged_filter(counting.answered, counting.wrong_type):
        findings = distrust_filtered(findings, counting.wrong_type)
    else:
        from threer.checks.parked import is_parked, parked_findings

        if is_parked(domain, counting.seen):
            findings = parked_findings(domain, findings)
    findings = sort_findings(findings)
    report = DomainReport(
        domain=domain,
        profile=ctx.profile.name if ctx.profile else None,
        profile_reason=choice.reason,
        checked_at=checked_at,
        duration_ms=int((time.monotonic() - started) * 1000),
        summary=DomainReport.summarise(findings),
        findings=findings,
        partial=any(f.severity is Severity.ERROR for f in findings),
    )
    return DomainOutcome(report=report, answered=counting.answered, failed=counting.failed, wrong_type=counting.wrong_type,
                         lookups=list(counting.seen.values()))


def _blocklists(options: CheckOptions) -> tuple[Blocklist, ...]:
    if not (options.ips or options.blocklist_mx):
        return ()
    from threer.checks.blocklist import blocklists_for

    return blocklists_for(list(options.blocklists) if options.blocklists is not None else None)


async def _domain_not_found(domain: str, resolver: Any, names: list[str], limit: float) -> Finding | None:
    """`ns.not-found` when the DNS answered that the domain does not exist, else None (also when the
    answer did not come: a domain whose existence is unknown gets every check)."""
    if not any(name in DEPENDS_ON_DOMAIN for name in names):
        return None
    from threer.checks.ns import domain_not_found

    try:
        return await asyncio.wait_for(domain_not_found(resolver, domain), timeout=limit)
    except asyncio.TimeoutError:
        return None


async def _run_one(name: str, function: Callable[..., Any], ctx: Any) -> list[Finding]:
    """One check; a bug in it becomes one `error` finding instead of sinking the domain."""
    try:
        result = await function(ctx)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a check's bug must not hide the other checks
        return [
            Finding(
                id=f"{name}.unexpected-error",
                check=name,
                severity=Severity.ERROR,
                message=f"The {name} check stopped on an unexpected error ({type(exc).__name__}: {exc}); "
                "its result is unknown. Please report this.",
            )
        ]
    return list(result or [])


def sort_findings(findings: list[Finding]) -> list[Finding]:
    """Grouped by check in the order of CHECKS, each group worst first (stable within a severity)."""
    order = {name: i for i, name in enumerate(CHECK_FUNCTIONS)}
    return sorted(findings, key=lambda f: (order.get(f.check, len(order)), -f.severity.rank))


def check_domains(
    domains: list[str],
    options: CheckOptions,
    *,
    concurrency: int = 20,
    progress: Callable[[DomainReport], None] | None = None,
    now: datetime | None = None,
) -> list[DomainReport]:
    """Check many domains (already normalised), at most `concurrency` at once; reports in input order.

    Raises BadInput only for a bad profile, before any look-up; everything else is in the reports.
    """
    return [o.report for o in run_domains(domains, options, concurrency=concurrency, progress=progress, now=now)]


def run_domains(
    domains: list[str],
    options: CheckOptions,
    *,
    concurrency: int = 20,
    progress: Callable[[DomainReport], None] | None = None,
    now: datetime | None = None,
) -> list[DomainOutcome]:
    """check_domains with each domain's look-up counts (the CLI's exit code needs them)."""
    outcomes: list[DomainOutcome] = []
    each_domain(domains, options, outcomes.append, concurrency=concurrency, progress=progress, now=now)
    return outcomes


# How many domains past the oldest one not yet handed on may be checked or waiting: a domain that
# takes its whole timeout holds back at most this many finished ones in memory.
WINDOW = 200


def each_domain(
    domains: list[str],
    options: CheckOptions,
    each: Callable[[DomainOutcome], None],
    *,
    concurrency: int = 20,
    progress: Callable[[DomainReport], None] | None = None,
    now: datetime | None = None,
    window: int = WINDOW,
) -> None:
    """Check many domains, at most `concurrency` at once, and hand each outcome to `each` in input
    order as soon as it and every domain before it are done, so a caller can print and forget it:
    a run of 100,000 domains holds at most `window` outcomes at a time. `progress` hears of each
    domain as it finishes (in any order). An exception from `each` stops the run and is raised."""
    profile = load_choice(options)
    asyncio.run(_check_all(domains, options, profile, max(1, concurrency), progress, now, each, max(1, window)))


async def _check_all(
    domains: list[str],
    options: CheckOptions,
    profile: "Profile | ProfileChoice | list[Profile] | None",
    concurrency: int,
    progress: Callable[[DomainReport], None] | None,
    now: datetime | None,
    each: Callable[[DomainOutcome], None],
    window: int,
) -> None:
    from threer.checks.resolver import SharedAnswers, system_nameservers

    gate = asyncio.Semaphore(concurrency)
    ahead = asyncio.Semaphore(window)  # started but not yet handed on (at most `window`)
    # each domain keeps its own deadline; answers (the provider's SPF includes, its MX hosts ...) are
    # shared, so a question is asked once per run, not once per domain
    shared = SharedAnswers(list(options.nameservers or system_nameservers())) if len(domains) > 1 else None
    functions = lazy_checks()
    finished: dict[int, DomainOutcome] = {}
    handed = 0

    loop = asyncio.get_running_loop()
    stop: asyncio.Future[None] = loop.create_future()  # set with the exception of `each` or `progress`
    running: set[asyncio.Task[None]] = set()

    async def one(index: int, domain: str) -> None:
        nonlocal handed
        try:
            try:
                outcome = await run_domain(domain, options, profile=profile, now=now, shared=shared, functions=functions)
            finally:
                gate.release()
            if progress is not None:
                progress(outcome.report)
            finished[index] = outcome
            while handed in finished:
                each(finished.pop(handed))
                handed += 1
                ahead.release()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller's trouble (a closed pipe, a full disk) ends the run
            if not stop.done():
                stop.set_exception(exc)

    async def start_all() -> None:
        for index, domain in enumerate(domains):
            await ahead.acquire()
            await gate.acquire()
            task = asyncio.ensure_future(one(index, domain))
            running.add(task)
            task.add_done_callback(running.discard)
        while running:
            await asyncio.wait(set(running))

    starter = asyncio.ensure_future(start_all())
    try:
        await asyncio.wait({starter, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (starter, *running):
            task.cancel()
        await asyncio.gather(starter, *running, return_exceptions=True)
    if stop.done():
        stop.result()  # raises what stopped the run
