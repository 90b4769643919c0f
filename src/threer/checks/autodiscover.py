"""The `autodiscover` check: can Outlook find the mail settings of the domain by itself?

DNS: `autodiscover.<domain>` against the profile's `autodiscover_cname` (an A record where the
provider needs a CNAME is a finding), and the `_autodiscover._tcp.<domain>` SRV record against the
profile's `autodiscover_srv`. HTTPS (skipped with --dns-only): the two endpoints Outlook tries first,
`https://<domain>/autodiscover/autodiscover.xml` and `https://autodiscover.<domain>/autodiscover/
autodiscover.xml`: reachable, certificate valid for that name and not about to expire. A 401 is fine:
the service is there and wants a sign-in.
"""

from __future__ import annotations

from dataclasses import replace

import asyncio
from typing import TYPE_CHECKING, Any

from threer.checks.context import CheckContext, lookup_error, record_fix
from threer.checks.https import ENDPOINT_SLUGS, ProbeFailure, ProbeResult, endpoint_findings, probe
from threer.checks.profiles import has_wildcards
from threer.checks.resolver import Lookup, LookupStatus
from threer.findings import Finding, RecordChange, Severity, add, remove

if TYPE_CHECKING:
    from dns.rdtypes.IN.SRV import SRV

CHECK = "autodiscover"
ENDPOINT_PATH = "/autodiscover/autodiscover.xml"
_MAX_BODY = 64 * 1024  # an autodiscover answer is a small XML document; nothing larger is needed
_SERVICE_THERE = {200, 401, 403, 405}  # 401/403: wants a sign-in; 405: wants the POST Outlook sends

FINDING_IDS: frozenset[str] = frozenset(
    {
        "autodiscover.lookup-error",
        "autodiscover.cname-ok",
        "autodiscover.cname-wrong",
        "autodiscover.cname-missing",
        "autodiscover.cname-dangling",
        "autodiscover.a-instead-of-cname",
        "autodiscover.record-present",
        "autodiscover.missing",
        "autodiscover.srv-ok",
        "autodiscover.srv-wrong",
        "autodiscover.srv-missing",
        "autodiscover.srv-present",
        "autodiscover.https-ok",
        "autodiscover.https-redirect",
        "autodiscover.https-status",
        "autodiscover.https-skipped",
    }
    | {f"autodiscover.https-{slug}" for slug in ENDPOINT_SLUGS}
)


def _finding(id: str, severity: Severity, message: str, **fields: Any) -> Finding:
    return Finding(id=f"{CHECK}.{id}", check=CHECK, severity=severity, message=message, **fields)


async def check_autodiscover(ctx: CheckContext) -> list[Finding]:
    host = f"autodiscover.{ctx.domain}"
    srv_name = f"_autodiscover._tcp.{ctx.domain}"
    lookups = asyncio.gather(
        ctx.resolver.query(host, "A"), ctx.resolver.query(host, "AAAA"), ctx.resolver.query(srv_name, "SRV")
    )
    if ctx.dns_only:
        ipv4, ipv6, srv = await lookups
        probes = None
    else:
        # the probes look the same names up through the same resolver, so they share its answers
        (ipv4, ipv6, srv), probes = await asyncio.gather(lookups, _probe_endpoints(ctx))
    expected_cname = ctx.profile.autodiscover_cname if ctx.profile is not None else None
    findings = _judge_host(ctx, host, ipv4, ipv6, expected_cname, srv_found=srv.exists, srv_unknown=srv.is_error)
    findings += _judge_srv(ctx, srv_name, srv)
    if probes is None:
        findings.append(
            _finding(
                "https-skipped",
                Severity.INFO,
                "The autodiscover HTTPS endpoints were not checked: --dns-only skips connections to hosts.",
            )
        )
        return findings
    provider_cname = bool(
        expected_cname and ipv4.cname_chain and ctx.profile is not None  # an expected CNAME comes from the profile
        and ctx.profile.matches(expected_cname, ctx.domain, ipv4.cname_chain[0])
    )
    domain_result, autodiscover_result = probes
    findings += _judge_endpoint(ctx, domain_result, at_domain=True, provider_cname=None)
    findings += _judge_endpoint(
        ctx, autodiscover_result, at_domain=False, provider_cname=ipv4.cname_chain[0] if provider_cname else None
    )
    return findings


async def _probe_endpoints(ctx: CheckContext) -> tuple[ProbeResult, ProbeResult]:
    async def one(url: str) -> ProbeResult:
        return await probe(url, timeout=ctx.http_timeout, verify=ctx.verify, max_bytes=_MAX_BODY,
                           connect_overrides=getattr(ctx, "connect_overrides", None), resolver=ctx.resolver)

    return await asyncio.gather(
        one(f"https://{ctx.domain}{ENDPOINT_PATH}"),
        one(f"https://autodiscover.{ctx.domain}{ENDPOINT_PATH}"),
    )


# -- DNS ---------------------------------------------------------------------------------------


def _cname_fix(host: str, target: str, *, first: str = "Add") -> str:
    if has_wildcards(target):
        return f"{first} a CNAME for {host} pointing at your provider's host {target} (the {{...}} part is specific to your account)."
    return f"{first} this record: {record_fix(host, 'CNAME', target.rstrip('.') + '.')}"


def _cname_changes(host: str, target: str) -> list[RecordChange]:
    return [] if has_wildcards(target) else [add(host, "CNAME", target.rstrip(".") + ".")]


def _judge_host(ctx: CheckContext, host: str, ipv4: Lookup, ipv6: Lookup, expected: str | None, *, srv_found: bool,
                srv_unknown: bool = False) -> list[Finding]:
    if ipv4.is_error and not ipv4.cname_chain:
        return [lookup_error(CHECK, host, ipv4, so="so its autodiscover record is unknown.")]
    cname = ipv4.cname_chain[0] if ipv4.cname_chain else (ipv6.cname_chain[0] if ipv6.cname_chain else None)
    addresses = [*(ipv4.records if ipv4.exists else ()), *(ipv6.records if ipv6.exists else ())]
    target_missing = cname is not None and not addresses and ipv4.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA)
    if expected:
        assert ctx.profile is not None  # an expected autodiscover host comes from the profile
        expected_host = ctx.expand(expected)
        if cname is None and addresses:
            return [
                _finding(
                    "a-instead-of-cname",
                    Severity.FAIL,
                    f"{host} has address records ({', '.join(addresses)}) where the provider needs a CNAME to "
                    f"{expected_host}; Outlook finds an old or wrong server.",
                    fix=f"Delete the A/AAAA records of {host}. {_cname_fix(host, expected_host, first='Then add')}",
                    observed={"A": list(ipv4.records), "AAAA": list(ipv6.records if ipv6.exists else ())},
                    changes=[*(remove(host, "A", a) for a in (ipv4.records if ipv4.exists else ())),
                             *(remove(host, "AAAA", a) for a in (ipv6.records if ipv6.exists else ())),
                             *_cname_changes(host, expected_host)] if not has_wildcards(expected_host) else [],
                    expected={"CNAME": expected_host},
                )
            ]
        if cname is None:
            return [
                _finding(
                    "cname-missing",
                    Severity.FAIL,
                    f"{host} does not exist, so Outlook cannot find the mail settings by itself.",
                    fix=_cname_fix(host, expected_host),
                    observed=None,
                    changes=_cname_changes(host, expected_host),
                    expected={"CNAME": expected_host},
                )
            ]
        if not ctx.profile.matches(expected, ctx.domain, cname):
            return [
                _finding(
                    "cname-wrong",
                    Severity.FAIL,
                    f"{host} is a CNAME to {cname}, not to {expected_host}; Outlook looks for the mail settings in the wrong place.",
                    fix=_cname_fix(host, expected_host, first="Replace the CNAME with"),
                    observed={"CNAME": cname},
                    changes=[remove(host, "CNAME", cname.rstrip(".") + "."), *_cname_changes(host, expected_host)]
                    if not has_wildcards(expected_host) else [],
                    expected={"CNAME": expected_host},
                )
            ]
        return [
            _finding(
                "cname-ok",
                Severity.OK,
                f"{host} is a CNAME to {cname}, as the profile expects.",
                observed={"CNAME": cname},
                expected={"CNAME": expected_host},
            )
        ]
    # no profile expectation: judge what is there on its own merits
    if target_missing:
        return [
            _finding(
                "cname-dangling",
                Severity.FAIL,
                f"{host} is a CNAME to {cname}, which does not exist; Outlook's autodiscover look-up ends nowhere.",
                fix=f"Point the CNAME of {host} at your provider's autodiscover host, or delete it.",
                observed={"CNAME": cname, "target": ipv4.status.value},
            )
        ]
    if cname is not None or addresses:
        what = f"is a CNAME to {cname}" if cname else f"has the address {', '.join(addresses)}"
        return [
            _finding(
                "record-present",
                Severity.OK,
                f"{host} {what}.",
                observed={"CNAME": cname, "addresses": addresses},
            )
        ]
    if srv_found or srv_unknown:
        # the SRV record is how Outlook finds the service; its finding says so (found, or not known:
        # a timed-out SRV look-up is its lookup-error, and the two together are not "missing")
        return []
    if ctx.profile is not None and not ctx.profile.autodiscover_srv:
        # the provider's profile names no autodiscover host (Google Workspace has no Exchange
        # autodiscover): there is nothing for the technician to add
        return [
            _finding(
                "missing",
                Severity.INFO,
                f"Neither {host} nor an _autodiscover._tcp SRV record exists; {ctx.profile.name}'s profile names no "
                "autodiscover host, so none is needed: Outlook is set up with the provider's own settings or tool.",
            )
        ]
    return [
        _finding(
            "missing",
            Severity.WARN,
            f"Neither {host} nor an _autodiscover._tcp SRV record exists, so Outlook cannot find the mail settings by itself.",
            fix=f"Add a CNAME for {host} pointing at your provider's autodiscover host (the provider's set-up guide names it).",
        )
    ]


def _srv_text(rdata: SRV) -> str:
    return f"{rdata.priority} {rdata.weight} {rdata.port} {rdata.target.to_text().rstrip('.').lower()}"


def _judge_srv(ctx: CheckContext, srv_name: str, srv: Lookup) -> list[Finding]:
    expected = ctx.profile.autodiscover_srv if ctx.profile is not None else None
    expected_host = ctx.expand(expected) if expected else None
    fix = f"Add this record: {record_fix(srv_name, 'SRV', f'0 0 443 {expected_host}.')}" if expected_host else None
    if srv.is_error:
        return [lookup_error(CHECK, f"{srv_name} SRV", srv, so="so whether Outlook finds the service that way is unknown.")]
    records = [rd for rd in srv.rdata if hasattr(rd, "target")]
    shown = [_srv_text(rd) for rd in records]
    if not records:
        if not expected_host:
            return []  # optional, and Outlook tries it last
        return [
            _finding(
                "srv-missing",
                Severity.WARN,
                f"{srv_name} has no SRV record; the profile expects one pointing at {expected_host}.",
                fix=fix,
                expected=f"0 0 443 {expected_host}",
                changes=[add(srv_name, "SRV", f"0 0 443 {expected_host}.")],
            )
        ]
    if not expected_host:
        return [
            _finding(
                "srv-present",
                Severity.INFO,
                f"{srv_name} points Outlook at {', '.join(shown)} (priority weight port host).",
                observed=shown,
            )
        ]
    assert ctx.profile is not None and expected is not None  # expected_host is only set from the profile's SRV
    good = [rd for rd in records if rd.port == 443 and ctx.profile.matches(expected, ctx.domain, rd.target.to_text())]
    if not good:
        return [
            _finding(
                "srv-wrong",
                Severity.FAIL,
                f"{srv_name} points at {', '.join(shown)}, not at {expected_host} port 443.",
                fix=f"Replace the SRV record(s) of {srv_name}. {fix}",
                observed=shown,
                changes=[*(remove(srv_name, "SRV", s + ".") for s in shown), add(srv_name, "SRV", f"0 0 443 {expected_host}.")],
                expected=f"0 0 443 {expected_host}",
            )
        ]
    return [
        _finding("srv-ok", Severity.OK, f"{srv_name} points at {expected_host} port 443, as the profile expects.", observed=shown)
    ]


# -- HTTPS -------------------------------------------------------------------------------------


def _judge_endpoint(ctx: CheckContext, result: ProbeResult, *, at_domain: bool, provider_cname: str | None) -> list[Finding]:
    """One endpoint. The domain's own web site is tried first by Outlook but is optional; the
    autodiscover host is where the service should be. `provider_cname`: the provider's host that
    autodiscover.<domain> is a CNAME to, as the profile expects (then the server is the provider's)."""
    url = result.url
    label = f"Autodiscover at {url}"
    if result.failure is ProbeFailure.DNS:
        return []  # the name does not exist: Outlook moves on, and the DNS findings already say so
    if at_domain and result.failure in (ProbeFailure.REFUSED, ProbeFailure.NETWORK, ProbeFailure.PROTOCOL):
        return [
            _finding(
                "https-unreachable",
                Severity.INFO,
                f"{label}: {result.detail} Outlook moves on to autodiscover.{ctx.domain}.",
                observed={"url": url, "failure": result.failure.value},
            )
        ]
    # problems at the domain's web site only slow Outlook down or make it warn: at most `warn`
    severity = Severity.WARN if at_domain else Severity.FAIL
    if provider_cname and result.failure is ProbeFailure.NAME_MISMATCH:
        return [
            _finding(
                "https-cert-name",
                Severity.INFO,
                f"{label}: {result.detail} This is expected while autodiscover.{ctx.domain} is a CNAME to the provider: "
                "Outlook then finds the service through the provider's own address.",
                observed={"url": url, "certificate": result.certificate.summary() if result.certificate else None},
            )
        ]
    problems = endpoint_findings(result, check=CHECK, id_prefix="https-", label=label, now=ctx.now, severity=severity)
    if provider_cname and result.failure is not ProbeFailure.LOOKUP_ERROR:
        # the customer's record is right; the server that answers (or does not) is the provider's
        provider_fix = (
            f"autodiscover.{ctx.domain} is a CNAME to the provider's {provider_cname}, as it should be, so the server "
            "is the provider's: nothing to change in the customer's DNS. Check from another network that no proxy "
            "or firewall here is in the way; if it fails everywhere, escalate to the provider."
        )
        problems = [replace(f, fix=provider_fix) for f in problems]
    if at_domain and result.failure is ProbeFailure.TIMEOUT:
        # a silent web site is observed, not unknown: Outlook waits for it before trying the next address
        problems = [
            replace(f, severity=Severity.WARN, message=f"{f.message} Outlook waits for this before it tries autodiscover.{ctx.domain}.")
            for f in problems
        ]
    if result.failure is not None:
        return problems
    status = result.status_code or 0
    observed = {"url": url, "status": status}
    if result.certificate is not None:
        observed["certificate"] = result.certificate.summary()
    if result.location is not None:
        return problems + [
            _finding(
                "https-redirect",
                Severity.INFO,
                f"{label} redirects (HTTP {status}) to {result.location}.",
                observed={**observed, "location": result.location},
            )
        ]
    if status in _SERVICE_THERE:
        meaning = "the service is there and asks for a sign-in" if status in (401, 403) else "the service answers"
        return problems + [
            _finding("https-ok", Severity.OK, f"{label} answers HTTP {status} with a valid certificate: {meaning}.", observed=observed)
        ]
    if at_domain:
        sev = Severity.WARN if status >= 500 else Severity.INFO
        note = f"there is no autodiscover service at the domain's web site; Outlook moves on to autodiscover.{ctx.domain}"
    else:
        sev = Severity.FAIL
        note = "the autodiscover service is not there"
    return problems + [
        _finding(
            "https-status",
            sev,
            f"{label} answers HTTP {status}: {note}.",
            fix=None
            if at_domain
            else f"autodiscover.{ctx.domain} already points at the provider's {provider_cname}: the provider's service "
            "is failing, escalate to the provider."
            if provider_cname
            else f"Check that autodiscover.{ctx.domain} points at your provider's autodiscover service.",
            observed=observed,
            expected="HTTP 200, or 401 asking for a sign-in",
        )
    ]
