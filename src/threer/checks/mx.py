"""The `mx` check: where mail for the domain goes, and whether that is where the profile expects.

Each MX host's A and AAAA are asked concurrently; a CNAME on the way shows in the answer's CNAME
chain, so no separate CNAME look-up is needed. A null MX (RFC 7505) is recognised as a statement
that the domain takes no mail.
"""

from __future__ import annotations

import asyncio
import ipaddress

from threer.checks.context import CheckContext, record_fix, lookup_error
from threer.checks.profiles import has_wildcards, pattern_matches, shown_pattern
from threer.checks.resolver import Lookup, LookupStatus
from threer.findings import Finding, RecordChange, Severity, add, remove

CHECK = "mx"
FINDING_IDS = frozenset(
    {
        "mx.ok",
        "mx.missing",
        "mx.lookup-error",
        "mx.null-mx",
        "mx.null-mx-mixed",
        "mx.ip-literal",
        "mx.cname",
        "mx.host-unresolvable",
        "mx.profile-mismatch",
        "mx.extra",
    }
)


def _is_ip_literal(host: str) -> bool:
    candidate = host.strip("[]")
    try:
        ipaddress.ip_address(candidate)
        return True
    except ValueError:
        return False


def expected_mx_change(ctx: CheckContext) -> RecordChange | None:
    """The MX record the profile asks for; `<...>` marks a part only the provider's admin centre knows."""
    if ctx.profile is None or not ctx.profile.mx:
        return None
    pasteable = [p for p in ctx.profile.mx if not has_wildcards(p)]
    pattern = pasteable[0] if pasteable else ctx.profile.mx[0]
    host = shown_pattern(pattern, ctx.domain)
    return add(ctx.domain, "MX", f"0 {host}.")


def expected_mx_fix(ctx: CheckContext) -> str | None:
    """The MX record to paste for the profile, or where its exact value is shown and its form."""
    change = expected_mx_change(ctx)
    if change is None:
        return None
    if change.needs_value:
        assert ctx.profile is not None  # expected_mx_change gives a change only for a profile
        return (f"Add the MX record {ctx.profile.where_values_are()} shows for {ctx.domain}; it has the form "
                f"{change.line} (copy the <...> part from there).")
    return f"Add: {change.line}"


def _changes(*items: RecordChange | None) -> list[RecordChange]:
    return [item for item in items if item is not None]


def _in_domain(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _unresolvable_fix(ctx: CheckContext, pref: int, host: str) -> str:
    """Only a host inside the customer's domain gets "add an A record"; another's host is theirs to publish."""
    if _in_domain(host, ctx.domain):
        return f"Correct the MX record \"{pref} {host}\" (a typo?), or add an A record for {host}."
    if ctx.profile is not None and any(pattern_matches(p, ctx.domain, host) for p in ctx.profile.mx):
        return (
            f"{host} is the {ctx.profile.name} provider's host, named as the profile expects; its address is the "
            "provider's to publish, not a record in the customer's DNS. Check that the domain is added (and verified) "
            "in the provider's admin centre; if it is, escalate to the provider."
        )
    return (
        f"Correct the MX record \"{pref} {host}\" (a typo?). {host} is not in {ctx.domain}: if the name is right, "
        "its address is for whoever runs that mail server to publish, not a record in the customer's DNS."
    )


def _lookup_error(what: str, lookup: Lookup) -> Finding:
    return lookup_error(CHECK, what, lookup)

async def check_mx(ctx: CheckContext) -> list[Finding]:
    answer = await ctx.resolver.query(ctx.domain, "MX")
    if answer.is_error:
        return [_lookup_error(f"The MX records of {ctx.domain}", answer)]
    expected = [ctx.expand(p) for p in ctx.profile.mx] if ctx.profile else []
    if not answer.exists:
        return [
            Finding(
                id="mx.missing",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"{ctx.domain} has no MX record"
                + (" (the domain does not exist)" if answer.status is LookupStatus.NXDOMAIN else "")
                + ", so senders fall back to its A record or give up: mail is unlikely to arrive.",
                fix=expected_mx_fix(ctx) or f"Add an MX record for {ctx.domain} pointing at the mail service's host.",
                observed=[],
                expected=expected or None,
                changes=_changes(expected_mx_change(ctx)),
            )
        ]

    records = sorted(
        ((int(rd.preference), rd.exchange.to_text().rstrip(".").lower()) for rd in answer.rdata),
        key=lambda r: (r[0], r[1]),
    )
    observed = [f"{pref} {host or '.'}" for pref, host in records]
    ttl = answer.ttl or 3600  # what a remove line names is the record as published
    null = [r for r in records if r[1] == ""]
    if null:
        if len(records) > 1:
            return [
                Finding(
                    id="mx.null-mx-mixed",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"{ctx.domain} has a null MX (\"0 .\", no mail accepted) next to other MX records; "
                    "RFC 7505 says a null MX must be the only one, so senders may treat the domain as taking no mail.",
                    fix="Remove the record " + record_fix(ctx.domain, "MX", "0 .", ttl) + " (or remove the others if the domain should take no mail).",
                    observed=observed,
                    changes=[remove(ctx.domain, "MX", "0 .", ttl)],
                )
            ]
        return [
            Finding(
                id="mx.null-mx",
                check=CHECK,
                severity=Severity.FAIL if expected else Severity.INFO,
                message=f"{ctx.domain} publishes a null MX (RFC 7505): it says it accepts no mail"
                + (f", but the {ctx.profile.name} profile expects mail to be delivered to it." if expected and ctx.profile
                   else "."),
                fix=("Replace the null MX with the service's MX. Remove: " + record_fix(ctx.domain, "MX", "0 .", ttl)
                     + ". " + (expected_mx_fix(ctx) or "")).strip() if expected else None,
                observed=observed,
                expected=expected or None,
                changes=[remove(ctx.domain, "MX", "0 .", ttl), *_changes(expected_mx_change(ctx))] if expected else [],
            )
        ]

    findings: list[Finding] = []
    hosts = []
    for pref, host in records:
        if _is_ip_literal(host) or all(label.isdigit() for label in host.split(".")):
            findings.append(
                Finding(
                    id="mx.ip-literal",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"The MX record \"{pref} {host}\" names an IP address; an MX must name a host (RFC 5321 §5.1), "
                    "so most senders ignore it.",
                    fix=f"Give the server a host name with an A record (e.g. mail.{ctx.domain}) and point the MX at that name.",
                    observed=f"{pref} {host}",
                )
            )
        else:
            hosts.append((pref, host))

    async def resolve(host: str) -> tuple[Lookup, Lookup]:
        a, aaaa = await asyncio.gather(ctx.resolver.query(host, "A"), ctx.resolver.query(host, "AAAA"))
        return a, aaaa

    # hosts the profile finding asks to remove get no advice of their own (one finding per root cause,
    # never "point the MX straight at X" beside "remove X")
    leaving: set[str] = set()
    if ctx.profile is not None and ctx.profile.mx:
        on_profile = [h for _, h in hosts if any(pattern_matches(pt, ctx.domain, h) for pt in ctx.profile.mx)]
        if ctx.profile_from_mx or on_profile:
            leaving = {h for _, h in hosts if h not in on_profile}
    replaced_by = "mx.extra" if leaving and on_profile else "mx.profile-mismatch"
    resolved = await asyncio.gather(*(resolve(host) for _, host in hosts))
    named = {host for _, host in hosts}
    for (pref, host), (a, aaaa) in zip(hosts, resolved):
        chain = a.cname_chain or aaaa.cname_chain
        if chain and host not in leaving:
            target = chain[-1]
            old_record = remove(ctx.domain, "MX", f"{pref} {host}.", ttl)
            if target in named:
                # another MX already names the host the CNAME leads to: this one only repeats it, and the
                # simplest fix is to delete it (replacing it would give two MX records for one host)
                other = min(p for p, h in hosts if h == target)
                fix = (f"Delete the MX record that names {host} (the MX {other} {target} already delivers to the "
                       f"same server): {old_record.line}")
                changes = [old_record]
            else:
                new_record = add(ctx.domain, "MX", f"{pref} {target}.", ttl)
                fix = f"Point the MX straight at {target}, replacing {old_record.line} with {new_record.line}"
                changes = [old_record, new_record]
            findings.append(
                Finding(
                    id="mx.cname",
                    check=CHECK,
                    severity=Severity.WARN,
                    message=f"The MX host {host} is a CNAME (to {target}); RFC 2181 §10.3 forbids that and some senders refuse it.",
                    fix=fix,
                    observed={"host": host, "cname_chain": list(chain)},
                    expected=target,
                    changes=changes,
                )
            )
        if a.exists or aaaa.exists:
            continue
        if a.is_error or aaaa.is_error:
            findings.append(_lookup_error(f"The address of the MX host {host}", a if a.is_error else aaaa))
        else:
            findings.append(
                Finding(
                    id="mx.host-unresolvable",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"The MX host {host} has no address (no A or AAAA record"
                    + (", the name does not exist" if a.status is LookupStatus.NXDOMAIN else "")
                    + "), so mail for it cannot be delivered.",
                    # a host the profile finding asks to replace gets that advice only: it is the same change
                    fix=(f"Remove this MX record: {replaced_by} below gives the records that replace it." if host in leaving
                         else _unresolvable_fix(ctx, pref, host)),
                    observed={"host": host, "a": a.status.value, "aaaa": aaaa.status.value},
                )
            )

    if ctx.profile is not None and ctx.profile.mx:
        matched = [(p, h) for p, h in hosts if any(pattern_matches(pt, ctx.domain, h) for pt in ctx.profile.mx)]
        extra = [(p, h) for p, h in hosts if (p, h) not in matched]
        if not matched and not ctx.profile_from_mx:
            # auto chose the profile from the SPF include or autodiscover: an MX elsewhere is most often a
            # filtering service in front of the provider, not a mistake to undo blindly
            findings.append(
                Finding(
                    id="mx.profile-mismatch",
                    check=CHECK,
                    severity=Severity.WARN,
                    message=f"The domain sends through {ctx.profile.description or ctx.profile.name} "
                    f"({ctx.choice.reason if ctx.choice else 'the profile'}), but its MX records point elsewhere: "
                    + ", ".join(f"\"{p} {h}\"" for p, h in records)
                    + ". That is right when a filtering service sits in front of the provider; otherwise mail goes to the old server.",
                    fix="Ask the customer whether mail should be delivered through that server. If not: "
                    + (expected_mx_fix(ctx) or "")
                    # nothing is changed without asking (no changes), so the old server is named in words, never
                    # as a zone line: a block copied from this fix must not add it back
                    + " Then remove the MX record" + ("s " if len(extra) > 1 else " ")
                    + " and ".join(f"\"{p} {h}\"" for p, h in extra) + f" of {ctx.domain}.",
                    observed=observed,
                    expected=expected,
                )
            )
        elif not matched:
            findings.append(
                Finding(
                    id="mx.profile-mismatch",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"None of the MX records of {ctx.domain} points at {ctx.profile.description or ctx.profile.name}: "
                    "mail goes to another server.",
                    fix=(expected_mx_fix(ctx) or "")
                    + (" Then remove: " + "; ".join(record_fix(ctx.domain, "MX", f"{p} {h}.", ttl) for p, h in extra) if extra else ""),
                    observed=observed,
                    expected=expected,
                    changes=[*_changes(expected_mx_change(ctx)), *(remove(ctx.domain, "MX", f"{p} {h}.", ttl) for p, h in extra)],
                )
            )
        elif extra:
            best = min(p for p, _ in matched)
            ahead = [(p, h) for p, h in extra if p <= best]
            findings.append(
                Finding(
                    id="mx.extra",
                    check=CHECK,
                    severity=Severity.FAIL if ahead else Severity.WARN,
                    message=f"{ctx.domain} has MX records besides {ctx.profile.name}'s: "
                    + ", ".join(f"\"{p} {h}\"" for p, h in extra)
                    + (
                        "; they have the same or a higher priority, so part of the mail goes to them."
                        if ahead
                        else "; senders use them when the main host is busy, so some mail may go astray."
                    ),
                    fix="Remove the leftover records: " + "; ".join(record_fix(ctx.domain, "MX", f"{p} {h}.", ttl) for p, h in extra),
                    observed=observed,
                    expected=expected,
                    changes=[remove(ctx.domain, "MX", f"{p} {h}.", ttl) for p, h in extra],
                )
            )

    if not findings:
        message = f"{ctx.domain} has {len(records)} MX record{'s' if len(records) != 1 else ''} and every host resolves"
        message += f", matching the {ctx.profile.name} profile." if ctx.profile and ctx.profile.mx else "."
        findings.append(
            Finding(id="mx.ok", check=CHECK, severity=Severity.OK, message=message, observed=observed, expected=expected or None)
        )
    return findings
