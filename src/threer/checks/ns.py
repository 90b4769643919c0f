"""The `ns` check: the domain exists and is delegated, and every name server answers and agrees.

The domain's NS records and their addresses come from the run's resolver; then each name server
is asked for the SOA directly (at its own address), all at once, and the serials are compared.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from threer.checks.context import CheckContext, lookup_error
from threer.checks.resolver import Lookup, LookupStatus, Resolver
from threer.findings import Finding, Severity

CHECK = "ns"
FINDING_IDS = frozenset(
    {
        "ns.ok",
        "ns.not-found",
        "ns.not-delegated",
        "ns.lookup-error",
        "ns.single-server",
        "ns.host-unresolvable",
        "ns.server-no-answer",
        "ns.lame",
        "ns.serial-mismatch",
        "ns.checks-skipped",
    }
)


@dataclass
class NameServer:
    """One of the domain's name servers, with the addresses it was found at."""

    host: str
    addresses: list[str] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)  # its A and AAAA look-ups

    @property
    def address(self) -> str | None:
        """The address to ask: IPv4 first, as it works on more networks."""
        v4 = [a for a in self.addresses if ":" not in a]
        if v4:
            return v4[0]
        return self.addresses[0] if self.addresses else None


@dataclass
class Delegation:
    soa: Lookup
    ns: Lookup
    servers: list[NameServer]


async def find_name_servers(resolver: Resolver, domain: str) -> Delegation:
    """The domain's SOA and NS answers, and each NS host's addresses, looked up concurrently."""
    soa, ns = await asyncio.gather(resolver.query(domain, "SOA"), resolver.query(domain, "NS"))
    hosts = sorted({r.rstrip(".").lower() for r in ns.records}) if ns.exists else []
    servers = [NameServer(host) for host in hosts]

    async def addresses(server: NameServer) -> None:
        a, aaaa = await asyncio.gather(resolver.query(server.host, "A"), resolver.query(server.host, "AAAA"))
        server.lookups = [a, aaaa]
        server.addresses = list(a.records if a.exists else ()) + list(aaaa.records if aaaa.exists else ())

    await asyncio.gather(*(addresses(s) for s in servers))
    return Delegation(soa=soa, ns=ns, servers=servers)


def soa_serial(lookup: Lookup) -> int | None:
    if not lookup.exists or not lookup.rdata:
        return None
    return int(lookup.rdata[0].serial)


def direct_resolver(ctx_resolver: Resolver, address: str, port: int) -> Resolver:
    """A resolver that asks one server directly within what is left of the run's deadline (the resolver
    itself resends a lost UDP packet)."""
    remaining = ctx_resolver.remaining()
    budget = ctx_resolver.timeout if remaining is None else remaining
    return Resolver([(address, port)], timeout=max(0.05, budget), deadline=remaining)


def _error(message: str, lookup: Lookup) -> Finding:
    return lookup_error(CHECK, message, lookup)

def _does_not_exist(soa: Lookup, ns: Lookup) -> bool:
    """The DNS answered that the domain does not exist; a failed look-up never counts as that."""
    return LookupStatus.NXDOMAIN in (soa.status, ns.status) and not (soa.exists or ns.exists)


def not_found_finding(domain: str) -> Finding:
    return Finding(
        id="ns.not-found",
        check=CHECK,
        severity=Severity.FAIL,
        message=f"The domain {domain} does not exist in DNS (NXDOMAIN): no mail can reach it. "
        "Is it spelt right?",
        fix="Check the spelling of the domain with the customer. If it is right, the domain is not registered "
        "or has expired: renew it at the registrar. No record needs to be added until it exists.",
        observed={"status": "nxdomain"},
    )


async def domain_not_found(resolver: Resolver, domain: str) -> Finding | None:
    """`ns.not-found` when the DNS says the domain does not exist; None when it exists or nobody could say.

    Asks the same two questions as the ns check, so within one run they are asked once."""
    soa, ns = await asyncio.gather(resolver.query(domain, "SOA"), resolver.query(domain, "NS"))
    return not_found_finding(domain) if _does_not_exist(soa, ns) else None


def checks_skipped_finding(domain: str, skipped: list[str]) -> Finding:
    """The one finding that stands for the checks not judged because the domain does not exist."""
    names = ", ".join(skipped[:-1]) + f" and {skipped[-1]}" if len(skipped) > 1 else skipped[0]
    plural = "checks were" if len(skipped) > 1 else "check was"
    return Finding(
        id="ns.checks-skipped",
        check=CHECK,
        severity=Severity.INFO,
        message=f"The {names} {plural} not judged: they look at records of {domain}, which does not exist, "
        "so every record would be reported missing. Check again once the domain name is right.",
        observed={"skipped": list(skipped)},
    )


async def check_ns(ctx: CheckContext) -> list[Finding]:
    delegation = await find_name_servers(ctx.resolver, ctx.domain)
    soa, ns = delegation.soa, delegation.ns
    findings: list[Finding] = []

    if _does_not_exist(soa, ns):
        return [not_found_finding(ctx.domain)]
    if ns.is_error:
        return [_error(f"The name servers of {ctx.domain}", ns)]
    if not ns.exists:
        if soa.is_error:
            return [_error(f"Whether {ctx.domain} is a zone of its own", soa)]
        # the name exists but is not a zone apex: its records live in the parent's zone
        return [
            Finding(
                id="ns.not-delegated",
                check=CHECK,
                severity=Severity.INFO,
                message=f"{ctx.domain} has no NS records of its own: it is served as part of its parent's zone.",
                observed={"ns": []},
            )
        ]

    servers = delegation.servers
    if len(servers) < 2:
        findings.append(
            Finding(
                id="ns.single-server",
                check=CHECK,
                severity=Severity.WARN,
                message=f"{ctx.domain} has only one name server ({servers[0].host}); if it is down, the whole domain "
                "disappears. RFC 1034 §4.1 requires at least two, and RFC 2182 recommends three, on different networks.",
                fix="Add a second name server at the DNS host and list it at the registrar.",
                observed=[s.host for s in servers],
            )
        )

    askable: list[NameServer] = []
    for server in servers:
        if server.addresses:
            askable.append(server)
            continue
        errors = [lk for lk in server.lookups if lk.is_error]
        if errors:
            findings.append(_error(f"The address of the name server {server.host}", errors[0]))
        else:
            findings.append(
                Finding(
                    id="ns.host-unresolvable",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"The name server {server.host} has no address (no A or AAAA record), so it cannot answer for {ctx.domain}.",
                    fix=f"Remove {server.host} from the NS records at the registrar and the DNS host, or give it an address.",
                    observed={"host": server.host, "addresses": []},
                )
            )

    async def ask(server: NameServer) -> Lookup:
        address = server.address
        assert address is not None  # only servers with an address are askable
        return await direct_resolver(ctx.resolver, address, ctx.authoritative_port).query(ctx.domain, "SOA")

    answers = await asyncio.gather(*(ask(s) for s in askable))
    serials: dict[str, int] = {}
    for server, answer in zip(askable, answers):
        where = f"{server.host} ({server.address})"
        serial = soa_serial(answer)
        if answer.exists and serial is not None:
            serials[server.host] = serial
        elif answer.status is LookupStatus.REFUSED or answer.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA):
            findings.append(
                Finding(
                    id="ns.lame",
                    check=CHECK,
                    severity=Severity.FAIL,
                    message=f"The name server {where} is listed for {ctx.domain} but does not serve its zone "
                    f"(it answered {answer.status.value.upper()}): a lame delegation, so some look-ups fail.",
                    fix=f"Set up the zone {ctx.domain} on {server.host}, or remove it from the NS records at the registrar.",
                    observed={"server": server.host, "address": server.address, "status": answer.status.value},
                )
            )
        else:
            findings.append(
                Finding(
                    id="ns.server-no-answer",
                    check=CHECK,
                    severity=Severity.ERROR,
                    message=f"The name server {where} could not be asked for the SOA of {ctx.domain} "
                    f"({answer.detail or answer.status.value}); whether it serves the zone is not known.",
                    observed={"server": server.host, "address": server.address, "status": answer.status.value},
                )
            )

    if len(set(serials.values())) > 1:
        newest = max(serials.values())
        behind = sorted(host for host, serial in serials.items() if serial != newest)
        findings.append(
            Finding(
                id="ns.serial-mismatch",
                check=CHECK,
                severity=Severity.WARN,
                message=f"The name servers of {ctx.domain} disagree on the zone's SOA serial: {', '.join(behind)} "
                f"still serve{'s' if len(behind) == 1 else ''} an older copy than serial {newest}, so answers depend on which server is asked.",
                fix="Check zone transfers (NOTIFY / AXFR) from the primary to the listed servers, or wait for the SOA refresh.",
                observed=serials,
                expected=newest,
            )
        )

    if not findings:
        findings.append(
            Finding(
                id="ns.ok",
                check=CHECK,
                severity=Severity.OK,
                message=f"{ctx.domain} is delegated to {len(servers)} name servers; all answer and agree on serial "
                f"{next(iter(serials.values()))}.",
                observed=serials,
            )
        )
    return findings
