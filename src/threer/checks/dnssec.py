"""The `dnssec` check: is the zone signed (DNSKEY) and securely delegated (DS at the parent)?

threer does not validate signatures itself; it reports whether the resolver it asked validated the
answers (the AD bit, RFC 6840 §5.7), and says which of the two it is relying on.
"""

from __future__ import annotations

import asyncio

from threer.checks.context import CheckContext, lookup_error
from threer.checks.resolver import Lookup
from threer.findings import Finding, Severity

CHECK = "dnssec"
FINDING_IDS = frozenset(
    {"dnssec.ok", "dnssec.unsigned", "dnssec.not-validated", "dnssec.no-ds", "dnssec.broken", "dnssec.lookup-error"}
)


def _error(ctx: CheckContext, lookup: Lookup) -> Finding:
    # a validating resolver says SERVFAIL when signatures do not verify: worth saying here
    hint = " A validating resolver answers SERVFAIL when signatures do not verify." if lookup.status.value == "servfail" else ""
    return lookup_error(CHECK, f"The {lookup.rdtype} record of {ctx.domain}", lookup,
                        so="so whether the zone is signed is not known." + hint)

async def check_dnssec(ctx: CheckContext) -> list[Finding]:
    ds, dnskey = await asyncio.gather(ctx.resolver.query(ctx.domain, "DS"), ctx.resolver.query(ctx.domain, "DNSKEY"))
    errors = [lk for lk in (ds, dnskey) if lk.is_error]
    if errors:
        return [_error(ctx, errors[0])]
    observed = {"ds": len(ds.records), "dnskey": len(dnskey.records), "ad": ds.authenticated or dnskey.authenticated}
    if not ds.exists and not dnskey.exists:
        return [
            Finding(
                id="dnssec.unsigned",
                check=CHECK,
                severity=Severity.INFO,
                message=f"{ctx.domain} is not signed with DNSSEC (no DS at the parent, no DNSKEY). Mail works without it; "
                "it is needed for DANE.",
                observed=observed,
            )
        ]
    if ds.exists and not dnskey.exists:
        return [
            Finding(
                id="dnssec.broken",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"The parent zone has a DS record for {ctx.domain}, but the zone publishes no DNSKEY: validating "
                "resolvers treat every answer for the domain as bogus, so mail to it may fail.",
                fix="Sign the zone at the DNS host again, or remove the DS record at the registrar.",
                observed=observed,
            )
        ]
    if not ds.exists:
        return [
            Finding(
                id="dnssec.no-ds",
                check=CHECK,
                severity=Severity.WARN,
                message=f"{ctx.domain} has DNSKEY records but no DS at the parent, so nobody can validate the signatures.",
                fix="Add the DS record the DNS host shows (from its DNSKEY) at the registrar.",
                observed=observed,
            )
        ]
    if ds.authenticated and dnskey.authenticated:
        return [
            Finding(
                id="dnssec.ok",
                check=CHECK,
                severity=Severity.OK,
                message=f"{ctx.domain} is signed (DS at the parent, DNSKEY in the zone) and the resolver validated it "
                "(AD bit set; threer relies on the resolver, it does not check signatures itself).",
                observed=observed,
            )
        ]
    return [
        Finding(
            id="dnssec.not-validated",
            check=CHECK,
            severity=Severity.INFO,
            message=f"{ctx.domain} is signed (DS at the parent, DNSKEY in the zone), but the resolver asked did not "
            "mark the answers as validated (no AD bit): it may not validate. threer does not check signatures itself.",
            observed=observed,
        )
    ]
