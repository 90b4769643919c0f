"""The `spf-ip` check: the SPF verdict for one sending address (`check-dns DOMAIN --ip ADDRESS`).

For each --ip address threer runs RFC 7208 check_host() for the domain, as a receiver would for mail
from postmaster@DOMAIN sent by that address, and says the result (pass, fail, softfail, neutral,
none, temperror, permerror), the mechanism that decided it, and the chain of include:/redirect= that
led to that mechanism (each include evaluated again on its own, from the run's cached answers).
"""

from __future__ import annotations

import asyncio
import ipaddress

from typing import TYPE_CHECKING

from threer.checks.context import CheckContext
from threer.findings import Finding, Severity

if TYPE_CHECKING:
    from threer.checks.resolver import Resolver

CHECK = "spf-ip"
RESULTS = ("pass", "fail", "softfail", "neutral", "none", "temperror", "permerror")
FINDING_IDS = frozenset(f"spf-ip.{r}" for r in RESULTS)
_SEVERITY = {
    "pass": Severity.OK,
    "fail": Severity.FAIL,
    "softfail": Severity.WARN,
    "neutral": Severity.WARN,
    "none": Severity.WARN,
    "temperror": Severity.ERROR,  # a look-up failed: the verdict is not known
    "permerror": Severity.FAIL,
}
_MEANING = {
    "pass": "receivers accept it as a sender for the domain",
    "fail": "receivers that enforce SPF reject it or send it to junk, and DMARC fails unless DKIM passes",
    "softfail": "receivers usually accept it but mark it suspicious, and it does not count for DMARC",
    "neutral": "the record makes no statement about it, so it does not count for DMARC",
    "none": "the domain has no SPF record, so nothing vouches for any sender",
    "temperror": "a DNS look-up failed on the way, so the verdict is not known; receivers defer the mail",
    "permerror": "the record cannot be evaluated, which receivers treat like a fail",
}


async def decision_chain(resolver: Resolver, ip: str, domain: str, sender: str, matched: str | None) -> list[str]:
    """The terms from the domain down to the mechanism that decided, e.g. ["contoso.com",
    "include:spf.provider.example", "spf.provider.example", "ip4:203.0.113.0/24"].

    check_host() names the top-level term that matched (an include: matches as a whole), so each
    include on the way is evaluated again on its own (answers come from the run's cache)."""
    from threer.checks.spf import check_host

    chain = [domain]
    current = domain
    for _ in range(10):  # RFC 7208's look-up limit bounds the depth anyway
        if not matched:
            break
        holder, _, term = matched.partition(": ")
        if holder.rstrip(".").lower() != current.rstrip(".").lower():
            chain += [f"redirect={holder}", holder]  # the verdict came from a redirect= target
            current = holder
        chain.append(term)
        if not term.lower().lstrip("+-~?").startswith("include:") or "%" in term:
            break
        target = term.split(":", 1)[1]
        chain.append(target)
        inner = await check_host(resolver, ip, target, sender)
        current, matched = target, inner.matched
    return chain


def _fix(ip: str, domain: str, result: str) -> str | None:
    if result in ("pass", "temperror"):
        return None if result == "pass" else "Run the check again; if it persists, the DNS servers behind the SPF includes are failing."
    net = "ip4" if ipaddress.ip_address(ip).version == 4 else "ip6"
    return (
        f"If {ip} really sends mail for {domain}, add {net}:{ip} (or the include: of the service that owns it) to "
        f"the SPF record of {domain}, before its all term; if it does not, the verdict is right and the mail is not "
        f"from {domain}."
    )


async def _one(ctx: CheckContext, ip: str) -> Finding:
    from threer.checks.spf import check_host

    sender = f"postmaster@{ctx.domain}"
    verdict = await check_host(ctx.resolver, ip, ctx.domain, sender)
    chain = await decision_chain(ctx.resolver, ip, ctx.domain, sender, verdict.matched) if verdict.matched else []
    decided = f" Decided by {' → '.join(chain)}." if chain else f" {verdict.reason[:1].upper()}{verdict.reason[1:]}." if verdict.reason else ""
    return Finding(
        id=f"spf-ip.{verdict.result}",
        check=CHECK,
        severity=_SEVERITY.get(verdict.result, Severity.ERROR),
        message=f"SPF for mail from {ctx.domain} sent by {verdict.ip}: {verdict.result} ({_MEANING.get(verdict.result, '')}).{decided}",
        fix=_fix(verdict.ip, ctx.domain, verdict.result),
        observed={
            "ip": verdict.ip,
            "result": verdict.result,
            "mechanism": verdict.matched,
            "chain": chain,
            "reason": verdict.reason,
            "lookups": verdict.lookups,
        },
    )


async def check_spf_ip(ctx: CheckContext) -> list[Finding]:
    if not ctx.ips:
        return []
    return list(await asyncio.gather(*(_one(ctx, ip) for ip in ctx.ips)))
