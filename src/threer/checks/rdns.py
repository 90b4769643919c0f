"""The `rdns` check: reverse DNS of the MX hosts' addresses and of the sending addresses given with --ip.

For each address threer asks for the PTR record at its reverse name (in-addr.arpa / ip6.arpa), then
asks each PTR name's A (or AAAA) records: the address is forward-confirmed when one of them is the
address itself ("FCrDNS"). Large receivers refuse or junk mail from a sending address without a
forward-confirmed PTR (Google's and Microsoft's sender requirements), so for an --ip address a
missing or unconfirmed PTR is `fail`; for an MX host, which receives mail, it is `info` (it matters
when the same server also sends).
"""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from threer.checks.context import CheckContext, lookup_error
from threer.checks.resolver import Lookup, Resolver
from threer.findings import Finding, Severity

CHECK = "rdns"
MAX_ADDRESSES_PER_HOST = 4  # a provider's MX host can have dozens of addresses; a sample says enough
MAX_PTR_NAMES = 4
FINDING_IDS = frozenset({"rdns.ok", "rdns.missing", "rdns.not-confirmed", "rdns.lookup-error"})


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer


@dataclass
class ReverseDns:
    address: str
    ptr_names: list[str] = field(default_factory=list)
    confirmed: str | None = None  # the PTR name that resolves back to the address
    failed: Lookup | None = None  # a look-up that got no answer: nothing is known
    ttl: int | None = None

    def summary(self) -> dict[str, Any]:
        return {"address": self.address, "ptr": self.ptr_names, "forward_confirmed": self.confirmed, "ttl": self.ttl}


async def reverse_dns(resolver: Resolver, address: str) -> ReverseDns:
    """The PTR names of `address` and whether one of them resolves back to it."""
    result = ReverseDns(address=address)
    ptr = await resolver.query(reverse_name(address), "PTR")
    if ptr.is_error:
        result.failed = ptr
        return result
    result.ttl = ptr.ttl
    result.ptr_names = [r.rstrip(".").lower() for r in ptr.records][:MAX_PTR_NAMES]
    rdtype = "A" if ipaddress.ip_address(address).version == 4 else "AAAA"
    forwards = await asyncio.gather(*(resolver.query(name, rdtype) for name in result.ptr_names))
    wanted = ipaddress.ip_address(address)
    for name, forward in zip(result.ptr_names, forwards):
        if any(_same(record, wanted) for record in forward.records):
            result.confirmed = name
            return result
    errors = [f for f in forwards if f.is_error]
    if errors:
        result.failed = errors[0]
    return result


def _same(record: str, wanted: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    try:
        return ipaddress.ip_address(record) == wanted
    except ValueError:
        return False


async def mx_addresses(ctx: CheckContext) -> tuple[list[tuple[str, str]], Lookup | None]:
    """(host, address) for each MX host's addresses (a few a host), and the MX look-up if it failed."""
    from threer.checks.smtp import _is_literal, _mx_hosts

    hosts, failed = await _mx_hosts(ctx)
    hosts = [h for h in hosts if h and h != "." and not _is_literal(h)]

    async def addresses(host: str) -> list[tuple[str, str]]:
        a, aaaa = await asyncio.gather(ctx.resolver.query(host, "A"), ctx.resolver.query(host, "AAAA"))
        found = list(a.records[:MAX_ADDRESSES_PER_HOST]) + list(aaaa.records[:MAX_ADDRESSES_PER_HOST])
        return [(host, address) for address in found]

    groups = await asyncio.gather(*(addresses(h) for h in hosts))
    return [pair for group in groups for pair in group], failed


def _findings(label: str, result: ReverseDns, sender: bool) -> list[Finding]:
    bad = Severity.FAIL if sender else Severity.INFO
    why = (
        "large receivers (Gmail, Outlook.com) refuse or junk mail from a sending address without a forward-confirmed PTR"
        if sender
        else "this matters when the same server also sends mail"
    )
    observed = result.summary()
    if sender:
        observed["sending_address"] = result.address  # an --ip address (the check history compares by it)
    if result.failed is not None and result.confirmed is None:
        error = lookup_error(CHECK, f"The reverse DNS of {label} ({result.failed.name} {result.failed.rdtype})", result.failed)
        if sender:
            error.observed["sending_address"] = result.address
        return [error]
    if not result.ptr_names:
        return [
            Finding(
                id="rdns.missing",
                check=CHECK,
                severity=bad,
                message=f"{label} has no PTR record (reverse DNS); {why}.",
                fix=f"Ask whoever owns the address {result.address} (the ISP or hosting provider) to set its PTR record "
                "to the server's host name, and give that name an A/AAAA record with this address.",
                observed=observed,
            )
        ]
    if result.confirmed is None:
        names = ", ".join(result.ptr_names)
        return [
            Finding(
                id="rdns.not-confirmed",
                check=CHECK,
                severity=bad,
                message=f"{label} has the PTR name {names}, but that name does not resolve back to {result.address} "
                f"(not forward-confirmed); {why}.",
                fix=f"Give {result.ptr_names[0]} an A/AAAA record with {result.address}, or have the owner of "
                f"{result.address} set its PTR to a name that has one.",
                observed=observed,
            )
        ]
    return [
        Finding(
            id="rdns.ok",
            check=CHECK,
            severity=Severity.OK,
            message=f"{label} has the PTR name {result.confirmed}, which resolves back to it (forward-confirmed).",
            observed=observed,
        )
    ]


async def check_rdns(ctx: CheckContext) -> list[Finding]:
    pairs, failed = await mx_addresses(ctx)
    findings: list[Finding] = []
    if failed is not None:
        findings.append(lookup_error(CHECK, f"The MX records of {ctx.domain}", failed, so="so their addresses were not checked."))
    targets = [(f"MX host {host} ({address})", address, False) for host, address in pairs]
    targets += [(f"Sending address {address}", address, True) for address in ctx.ips]
    results = await asyncio.gather(*(reverse_dns(ctx.resolver, address) for _, address, _ in targets))
    for (label, _, sender), result in zip(targets, results):
        findings.extend(_findings(label, result, sender))
    return findings
