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
    from threer.checks.spf import SpfResult

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


# what repairs a permerror, by its cause (RFC 7208 §4.6.4 limits, §5.2 include without a record), and
# the spf finding that says more
_REPAIR = {
    "lookup-limit": ("cut it to 10 DNS look-ups or fewer by removing the includes of services that no longer send "
                     "its mail", "spf.lookup-limit"),
    "void-limit": ("remove the terms that point at names with no records", "spf.void-limit"),
    "no-record": ("remove {term} or correct the name in it (RFC 7208 §5.2: an include whose target has no SPF "
                  "record is a permanent error)", "spf.include-missing"),
    "loop": ("remove the include or redirect that leads back", "spf.include-loop"),
}


async def _permerror_fix(resolver: Resolver, verdict: SpfResult, domain: str, sender: str) -> str:
    """The fix for a permerror: what breaks the record, and where a sender's own ip4:/ip6: must go.

    A term added before the all comes after the one that fails, so it is never reached (RFC 7208 §4.6:
    terms are evaluated left to right): the advice is checked by evaluating the record with the address
    placed first, as a receiver would once it is published."""
    from threer.checks.spf import SpfSyntaxError, check_host, is_spf_record, parse_record
    from threer.checks.spf.findings import _split_strings

    ip, term = verdict.ip, verdict.failed_at
    net = "ip4" if ipaddress.ip_address(ip).version == 4 else "ip6"
    if term is None:
        return (
            f"The SPF record of {domain} itself cannot be evaluated ({verdict.reason}), so no term in it counts for any "
            f"sender: repair it first as the spf findings for {domain} say (spf.syntax, spf.multiple); then, if {ip} really "
            f"sends mail for {domain}, make sure {net}:{ip} (or the include: of the service that owns it) is in it."
        )
    how, finding_id = _REPAIR.get(verdict.error_kind or "", ("correct the term named above", "the spf findings"))
    lookup = await resolver.query(domain, "TXT")
    published = [r for r in lookup.records if is_spf_record(r)] if lookup.exists else []
    split = await _split_strings(resolver, domain, lookup, published[0]) if len(published) == 1 else None
    if split is not None and term in split.observed["glued_terms"]:
        how, finding_id = ("publish it with a space where its strings meet, as the DNS panel shows it (RFC 7208 §3.3 "
                           "joins them with nothing in between)", "spf.split-strings")
    try:
        record = parse_record(published[0]) if len(published) == 1 else None
    except SpfSyntaxError:
        record = None
    address = ipaddress.ip_address(ip)
    mechanisms = record.mechanisms if record is not None else ()
    stop = next((t.index for t in mechanisms if t.text == term), len(mechanisms))
    later = [m.text for m in mechanisms if m.name in ("ip4", "ip6") and m.network is not None
             and m.network.version == address.version and address in m.network and m.index > stop]
    added = (f"{later[0]} is already in it, but after that term, so it is never reached"
             if later else f"Adding {net}:{ip} before the all term therefore does not help")
    fix = (
        f"Receivers stop at {term} in the SPF record of {domain}: the record gives a permanent error for every sender "
        f"not matched before that term. {added}. Repair the record ({finding_id}): {how.format(term=term)}."
    )
    if record is None:
        return fix
    terms = [t for t in record.terms_text() if t not in later]
    placed = " ".join(["v=spf1", f"{net}:{ip}", *terms])
    check = await check_host(resolver, ip, domain, sender, record=placed)
    if check.result == "pass":
        fix += (f" If {ip} really sends mail for {domain} and must pass until then, put {net}:{ip} before {term}, "
                f"for example straight after v=spf1.")
    return fix


async def _one(ctx: CheckContext, ip: str) -> Finding:
    from threer.checks.spf import check_host

    sender = f"postmaster@{ctx.domain}"
    verdict = await check_host(ctx.resolver, ip, ctx.domain, sender)
    chain = await decision_chain(ctx.resolver, ip, ctx.domain, sender, verdict.matched) if verdict.matched else []
    decided = f" Decided by {' → '.join(chain)}." if chain else f" Reason: {verdict.reason}." if verdict.reason else ""
    fix = (await _permerror_fix(ctx.resolver, verdict, ctx.domain, sender) if verdict.result == "permerror"
           else _fix(verdict.ip, ctx.domain, verdict.result))
    return Finding(
        id=f"spf-ip.{verdict.result}",
        check=CHECK,
        severity=_SEVERITY.get(verdict.result, Severity.ERROR),
        message=f"SPF for mail from {ctx.domain} sent by {verdict.ip}: {verdict.result} ({_MEANING.get(verdict.result, '')}).{decided}",
        fix=fix,
        observed={
            "ip": verdict.ip,
            "result": verdict.result,
            "mechanism": verdict.matched,
            "chain": chain,
            "reason": verdict.reason,
            "lookups": verdict.lookups,
            "failed_at": verdict.failed_at,
        },
    )


async def check_spf_ip(ctx: CheckContext) -> list[Finding]:
    if not ctx.ips:
        return []
    return list(await asyncio.gather(*(_one(ctx, ip) for ip in ctx.ips)))
