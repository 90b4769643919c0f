"""The `owa` check: does the profile's Outlook Web Access URL answer over HTTPS with a valid certificate?

Redirects are followed (a web mail URL normally sends the browser to a sign-in page) and reported;
each hop must present a valid certificate. Whether the user can sign in, send and receive stays the
technician's to confirm: threer only says whether the service is there. `check_owa(ctx)` is the async
check for check-dns; `check_owa_url(url)` is the synchronous form the triage's review.owa step calls.
"""

from __future__ import annotations

from dataclasses import replace

import asyncio
import concurrent.futures
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from threer.checks.https import (
    ENDPOINT_SLUGS,
    ConnectOverrides,
    ProbeFailure,
    ProbeResult,
    Verify,
    endpoint_findings,
    probe,
)
from threer.findings import Finding, Severity
from threer.lazy import LazyModule

if TYPE_CHECKING:
    from threer.checks.context import CheckContext
    from threer.checks.resolver import Resolver

httpx = LazyModule("httpx")  # loaded when an OWA address is probed, not when the module is imported

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
_ESCALATE = "If it fails for everyone, it is the provider's outage: escalate to the provider."

# The OWA address is the provider's web mail, not a name in the customer's domain: its fixes are for
# the network threer ran on or for the provider, never a record for the customer's DNS admin to add.
_PROVIDER_FIXES = {
    ProbeFailure.DNS: "{host} is the provider's web mail host, not a name in the customer's domain: there is nothing "
    "to add to the customer's DNS. Check that the profile's owa_url is right and that this network's DNS resolves "
    "{host} (try again with --nameserver and a public resolver). If it resolves nowhere, it is the provider's "
    "outage: escalate to the provider.",
    ProbeFailure.REFUSED: "Check that this network can reach {host} on port {port} (firewall, proxy, VPN): open the "
    "address from another network or a phone. " + _ESCALATE,
    ProbeFailure.TIMEOUT: "Try again, and from another network or a phone: a firewall or proxy here may drop the "
    "traffic to {host}. " + _ESCALATE,
    ProbeFailure.NAME_MISMATCH: "The certificate of {host} is the provider's. First check that this network does not "
    "put its own in its place (a TLS-inspecting proxy or a captive portal: open the address from another network). "
    "If the provider's own certificate is wrong, escalate to the provider.",
    ProbeFailure.TLS: "The TLS set-up of {host} is the provider's. First check that no proxy on this network "
    "interferes (open the address from another network). If it fails everywhere, escalate to the provider.",
}
_PROVIDER_FIXES[ProbeFailure.NETWORK] = _PROVIDER_FIXES[ProbeFailure.REFUSED]
_PROVIDER_FIXES[ProbeFailure.PROTOCOL] = _PROVIDER_FIXES[ProbeFailure.REFUSED]
_PROVIDER_FIXES[ProbeFailure.UNTRUSTED] = (
    _PROVIDER_FIXES[ProbeFailure.NAME_MISMATCH]
    + " Behind a proxy that inspects TLS, give threer its CA with --ca-bundle."
)
_PROVIDER_FIXES[ProbeFailure.EXPIRED] = _PROVIDER_FIXES[ProbeFailure.NAME_MISMATCH]
_EXPIRING_FIX = (
    "The certificate of {host} is the provider's, and the provider renews it: nothing for the customer to change. "
    "If it is still not renewed a few days before that date, tell the provider."
)


async def check_owa(ctx: CheckContext) -> list[Finding]:
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
        customer_domain=ctx.domain,
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
    resolver: Resolver | None = None,
    customer_domain: str | None = None,
) -> list[Finding]:
    """`customer_domain`: when the OWA host is a name inside it (a profile's `https://mail.{domain}/`),
    the fixes may name records there; otherwise they are for this network or the provider."""
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
    return judge_owa(result, now, customer_domain=customer_domain)


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


def _in_domain(host: str, domain: str | None) -> bool:
    host, domain = host.rstrip(".").lower(), (domain or "").rstrip(".").lower()
    return bool(domain) and (host == domain or host.endswith("." + domain))


def _provider_side(findings: list[Finding], result: ProbeResult, customer_domain: str | None) -> list[Finding]:
    """The reaching and certificate findings with fixes for the network or the provider, unless the host
    is the customer's own (then the shared fixes, which name its records, are right)."""
    rewritten = []
    for finding in findings:
        url = (finding.observed or {}).get("url") or result.final_url
        try:
            parsed = httpx.URL(url)
            host, port = parsed.host or url, parsed.port or 443
        except (httpx.InvalidURL, TypeError, ValueError):
            host, port = url, 443
        if _in_domain(host, customer_domain):
            rewritten.append(finding)
            continue
        fix: str | None
        if finding.id == f"{CHECK}.cert-expiring":
            fix = _EXPIRING_FIX.format(host=host)
        else:
            problems = result.cert_problems or ((result.failure,) if result.failure else (ProbeFailure.EXPIRED,))
            template = next((_PROVIDER_FIXES[p] for p in problems if p in _PROVIDER_FIXES), None)
            fix = template.format(host=host, port=port) if template else finding.fix
        rewritten.append(replace(finding, fix=fix))
    return rewritten


def judge_owa(result: ProbeResult, now: datetime, *, customer_domain: str | None = None) -> list[Finding]:
    """Findings for one OWA probe (redirects followed). The fixes never ask the customer's DNS admin for
    a record under the provider's host (see _PROVIDER_FIXES)."""
    label = f"OWA at {result.url}"
    findings = endpoint_findings(result, check=CHECK, id_prefix="", label=label, now=now, severity=Severity.FAIL)
    findings = _provider_side(findings, result, customer_domain)
    if result.failure is not None:
        return findings
    chain = [hop.url for hop in result.hops]
    observed: dict[str, Any] = {"url": result.url, "status": result.status_code, "redirects": chain[1:]}
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
                fix="The redirects are made by the provider's web mail servers (or by a proxy on this network): "
                "report it to the provider. Nothing in the customer's DNS changes this.",
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
                fix="Open the address in a browser from another network: if it loops there too, the provider's "
                "sign-in is broken: escalate to the provider. A proxy or old cookies on this network can also cause it.",
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
                fix="Check that owa_url in the profile is the address users really open. If it is, the provider's "
                "web mail service is failing: escalate to the provider.",
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
