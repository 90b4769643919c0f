"""The `owa` check: does the profile's Outlook Web Access URL answer over HTTPS with a valid certificate?

Redirects are followed (a web mail URL normally sends the browser to a sign-in page) and reported;
each hop must present a valid certificate. Whether the user can sign in, send and receive stays the
technician's to confirm: threer only says whether the service is there. `check_owa(ctx)` is the async
check for check-dns; `check_owa_url(url)` is the synchronous form the triage's review.owa step calls.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import datetime, timezone

import httpx

from threer.checks.https import ENDPOINT_SLUGS, ConnectOverrides, ProbeResult, Verify, endpoint_findings, probe
from threer.findings import Finding, Severity

CHECK = "owa"
FINDING_IDS: frozenset[str] = frozenset(
    {
        "owa.ok",
        "owa.redirect",
        "owa.insecure-redirect",
        "owa.status",
        "owa.not-configured",
        "owa.skipped",
        "owa.invalid-url",
    }
    | {f"owa.{slug}" for slug in ENDPOINT_SLUGS}
)

_SERVICE_THERE = {200, 401, 403}  # 401/403: the server wants a sign-in, so the service answers
_SIGN_IN_NOTE = "Whether the user can sign in, send and receive there is yours to confirm with them."


async def check_owa(ctx) -> list[Finding]:
    """The profile's OWA URL over HTTPS (skipped with --dns-only, not run without a URL)."""
    url = ctx.profile.owa_url if ctx.profile is not None else None
    if not url:
        return [
            Finding(
                id="owa.not-configured",
                check=CHECK,
                severity=Severity.INFO,
                message="No OWA address to check: the profile does not name one.",
                fix="Add owa_url to the partner profile to have threer check it.",
            )
        ]
    url = ctx.expand(url)
    if ctx.dns_only:
        return [
            Finding(
                id="owa.skipped",
                check=CHECK,
                severity=Severity.INFO,
                message=f"Not checked: --dns-only skips the HTTPS check of {url}.",
                observed={"url": url},
            )
        ]
    return await check_owa_url_async(
        url,
        timeout=ctx.http_timeout,
        verify=ctx.verify,
        connect_overrides=getattr(ctx, "connect_overrides", None),
        now=ctx.now,
        resolver=ctx.resolver,
    )


def check_owa_url(
    url: str,
    *,
    timeout: float = 5.0,
    verify: Verify = True,
    connect_overrides: ConnectOverrides | None = None,
    now: datetime | None = None,
    nameservers: list[tuple[str, int]] | None = None,
) -> list[Finding]:
    """Synchronous form for the triage: never raises for network trouble, only returns findings.

    Host names are resolved by the system, or by `nameservers` when given (as `--nameserver` does).
    """

    async def run() -> list[Finding]:
        resolver = None
        if nameservers:
            from threer.checks.resolver import Resolver

            resolver = Resolver(nameservers, timeout=timeout, deadline=timeout)
        return await check_owa_url_async(
            url, timeout=timeout, verify=verify, connect_overrides=connect_overrides, now=now, resolver=resolver
        )

    coroutine = run()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    # called from inside an event loop (an async caller): run on a thread of its own
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


async def check_owa_url_async(
    url: str,
    *,
    timeout: float = 5.0,
    verify: Verify = True,
    connect_overrides: ConnectOverrides | None = None,
    now: datetime | None = None,
    resolver=None,
) -> list[Finding]:
    now = now or datetime.now(timezone.utc)
    url = (url or "").strip()
    problem = _url_problem(url)
    if problem:
        return [
            Finding(
                id="owa.invalid-url",
                check=CHECK,
                severity=Severity.ERROR,
                message=f"The OWA address {url!r} cannot be checked: {problem}",
                fix="Correct owa_url in the profile to the https:// address users open, such as https://outlook.office.com/owa/.",
                observed=url,
            )
        ]
    result = await probe(
        url, timeout=timeout, verify=verify, follow_redirects=True, connect_overrides=connect_overrides, resolver=resolver
    )
    return judge_owa(result, now)


def _url_problem(url: str) -> str | None:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return "it is not a URL."
    if parsed.scheme != "https":
        return "it must start with https://."
    if not parsed.host:
        return "it has no host name."
    return None


def judge_owa(result: ProbeResult, now: datetime) -> list[Finding]:
    """Findings for one OWA probe (redirects followed)."""
    label = f"OWA at {result.url}"
    findings = endpoint_findings(result, check=CHECK, id_prefix="", label=label, now=now, severity=Severity.FAIL)
    if result.failure is not None:
        return findings
    chain = [hop.url for hop in result.hops]
    observed = {"url": result.url, "status": result.status_code, "redirects": chain[1:]}
    first_certificate = result.hops[0].certificate if result.hops else None
    if first_certificate is not None:
        observed["certificate"] = first_certificate.summary()
    insecure = [hop for hop in result.hops if hop.url.startswith("http://")]
    if insecure:
        findings.append(
            Finding(
                id="owa.insecure-redirect",
                check=CHECK,
                severity=Severity.WARN,
                message=f"{label} redirects to a plain http:// address ({insecure[0].url}), so the sign-in is not protected.",
                fix="Make every redirect of the OWA address go to https:// addresses.",
                observed=observed,
            )
        )
    if result.location is not None:  # still a redirect after the hops allowed
        findings.append(
            Finding(
                id="owa.status",
                check=CHECK,
                severity=Severity.WARN,
                message=f"{label} keeps redirecting ({len(result.hops)} redirects, last to {result.location}); "
                "a browser would give up.",
                fix="Fix the redirect loop on the web server (often a load balancer or sign-in rule).",
                observed=observed,
            )
        )
        return findings
    status = result.status_code or 0
    if status not in _SERVICE_THERE and not 200 <= status < 300:
        findings.append(
            Finding(
                id="owa.status",
                check=CHECK,
                severity=Severity.FAIL if status == 404 or status >= 500 else Severity.WARN,
                message=f"{label} answers HTTP {status} at {result.final_url}, not a sign-in page.",
                fix="Check the OWA address in the profile and the web mail service behind it.",
                observed=observed,
                expected="HTTP 200, or 401/403 asking for a sign-in",
            )
        )
        return findings
    if len(result.hops) > 1:
        findings.append(
            Finding(
                id="owa.redirect",
                check=CHECK,
                severity=Severity.INFO,
                message=f"{label} redirects to {result.final_url} (normally the sign-in page); "
                "every step has a valid certificate.",
                observed=observed,
            )
        )
    findings.append(
        Finding(
            id="owa.ok",
            check=CHECK,
            severity=Severity.OK,
            message=f"{label} answers over HTTPS with a valid certificate (HTTP {status}). {_SIGN_IN_NOTE}",
            observed=observed,
        )
    )
    return findings
