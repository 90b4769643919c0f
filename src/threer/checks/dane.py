"""The `dane` check: TLSA records for each MX host (RFC 7672, SMTP security via DANE).

For each MX host threer asks for `_25._tcp.HOST` TLSA, reads each record's certificate usage,
selector and matching type, and, when the `smtp` check reached the host over STARTTLS, compares each
record with the certificate chain the server presented (the same session: `smtp_probes`). Whether
the answer was DNSSEC-validated comes from the resolver's AD bit (RFC 6840 §5.7): threer does not
check signatures itself, and a TLSA record only counts for senders when it is validated.

RFC 7672 §3.1.3: SMTP senders treat usages PKIX-TA(0) and PKIX-EE(1) as unusable; DANE-TA(2)
matches any certificate of the chain, DANE-EE(3) the server's own certificate (names and expiry do
not matter for DANE-EE).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import TYPE_CHECKING, Any

from threer.checks.context import CheckContext, lookup_error
from threer.findings import Finding, Severity

if TYPE_CHECKING:
    from dns.rdtypes.tlsabase import TLSABase

CHECK = "dane"
FINDING_IDS = frozenset(
    {
        "dane.ok",
        "dane.none",
        "dane.lookup-error",
        "dane.not-validated",
        "dane.unusable",
        "dane.mismatch",
        "dane.no-starttls",
        "dane.not-compared",
    }
)

USAGES = {0: "PKIX-TA", 1: "PKIX-EE", 2: "DANE-TA", 3: "DANE-EE"}
SELECTORS = {0: "Cert", 1: "SPKI"}
MATCHING = {0: "Full", 1: "SHA2-256", 2: "SHA2-512"}


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host.rstrip('.').lower()}"


def _selected(der: bytes, selector: int) -> bytes | None:
    if selector == 0:
        return der
    if selector == 1:
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        try:
            key = x509.load_der_x509_certificate(der).public_key()
        except ValueError:
            return None
        return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return None


def _digest(data: bytes, matching: int) -> bytes | None:
    if matching == 0:
        return data
    if matching == 1:
        return hashlib.sha256(data).digest()
    if matching == 2:
        return hashlib.sha512(data).digest()
    return None


def usable(usage: int, selector: int, matching: int) -> bool:
    """Whether an SMTP sender can use the record (RFC 7672 §3.1.3 and the registries of RFC 6698)."""
    return usage in (2, 3) and selector in SELECTORS and matching in MATCHING


def matches(record: TLSABase, chain: list[bytes]) -> bool:
    """Whether one TLSA rdata matches the presented chain (leaf first): DANE-EE the leaf, DANE-TA any."""
    if not usable(record.usage, record.selector, record.mtype) or not chain:
        return False
    candidates = chain[:1] if record.usage == 3 else chain
    for der in candidates:
        selected = _selected(der, record.selector)
        if selected is not None and _digest(selected, record.mtype) == bytes(record.cert):
            return True
    return False


def describe(record: TLSABase) -> dict[str, str]:
    return {
        "usage": f"{record.usage} {USAGES.get(record.usage, 'unknown')}",
        "selector": f"{record.selector} {SELECTORS.get(record.selector, 'unknown')}",
        "matching": f"{record.mtype} {MATCHING.get(record.mtype, 'unknown')}",
        "data": bytes(record.cert).hex(),
    }


async def _host_findings(ctx: CheckContext, host: str) -> list[Finding]:
    name = tlsa_name(host)
    lookup = await ctx.resolver.query(name, "TLSA")
    if lookup.is_error:
        return [lookup_error(CHECK, f"The TLSA records of {host} ({name})", lookup)]
    if not lookup.exists:
        return []
    records = list(lookup.rdata)
    observed: dict[str, Any] = {"host": host, "name": name, "validated": lookup.authenticated, "records": [describe(r) for r in records]}
    findings: list[Finding] = []
    if not lookup.authenticated:
        findings.append(
            Finding(
                id="dane.not-validated",
                check=CHECK,
                severity=Severity.WARN,
                message=f"{host} has TLSA records, but the answer was not DNSSEC-validated (no AD bit): senders use "
                "TLSA only when validated, and threer does not check signatures itself.",
                fix="Check with a validating resolver (--nameserver); if the records still are not validated, sign the "
                f"zone of {host} and publish its DS at the parent.",
                observed=observed,
            )
        )
    good = [r for r in records if usable(r.usage, r.selector, r.mtype)]
    if not good:
        findings.append(
            Finding(
                id="dane.unusable",
                check=CHECK,
                severity=Severity.WARN,
                message=f"None of the TLSA records of {host} is usable for SMTP: RFC 7672 §3.1.3 has senders ignore "
                "usages 0 and 1 (PKIX-TA, PKIX-EE) and unknown selectors or matching types.",
                fix=f"Publish a DANE-EE record for the server's key, such as {name}. 3600 IN TLSA 3 1 1 <SHA-256 of the "
                "SubjectPublicKeyInfo>, and keep one for the next key before changing it.",
                observed=observed,
            )
        )
        return findings
    if ctx.dns_only:
        findings.append(_not_compared(host, observed, "--dns-only skips the SMTP session"))
        return findings
    from threer.checks.smtp import smtp_probes

    probes, _ = await smtp_probes(ctx)
    host_probes = probes.get(host) or []
    plain = [p for p in host_probes if p.failure is None and not p.starttls_offered]
    if plain:
        findings.append(
            Finding(
                id="dane.no-starttls",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"{host} publishes TLSA records but {_addresses(plain)} does not offer STARTTLS: DANE senders "
                "will not deliver to it (RFC 7672 §2.2).",
                fix=f"Enable STARTTLS on {host} with the key the TLSA records name, or remove the TLSA records at {name}.",
                observed=observed,
            )
        )
        return findings
    compared = [p for p in host_probes if p.chain]
    if not compared:
        why = next((p.detail for p in host_probes if p.detail), "") or "the server was not reached"
        findings.append(_not_compared(host, observed, why))
        return findings
    # each address is its own server: every one must present a certificate a record matches
    hits = {p.address: [matches(r, p.chain) for r in records] for p in compared}
    for i, entry in enumerate(observed["records"]):
        entry["matches"] = any(found[i] for found in hits.values())  # at some address (see "addresses")
    observed["addresses"] = {address: any(found) for address, found in hits.items()}
    unmatched = [p for p in compared if not any(hits[p.address])]
    if unmatched:
        findings.append(
            Finding(
                id="dane.mismatch",
                check=CHECK,
                severity=Severity.FAIL,
                message=f"No TLSA record of {host} matches the certificate {_addresses(unmatched)} presented: DANE "
                "senders will not deliver to it there.",
                fix=f"Publish a TLSA record for the key the server uses now ({_suggested(unmatched[0].chain[0], name)}), "
                "and remove the stale one once the new one has been out for two TTLs.",
                observed=observed,
            )
        )
    elif lookup.authenticated:
        if len(compared) == 1:
            matched = sum(hits[compared[0].address])
            said = (f"{matched} of {len(records)} TLSA records match the certificate the server presented at "
                    f"{_addresses(compared)}")
        else:
            said = f"the certificate each of {_addresses(compared)} presented matches one of its {len(records)} TLSA records"
        findings.append(
            Finding(
                id="dane.ok",
                check=CHECK,
                severity=Severity.OK,
                message=f"{host}: {said}, and the answer was DNSSEC-validated.",
                observed=observed,
            )
        )
    return findings


def _addresses(probes: list[Any]) -> str:
    """"its address 127.0.11.1" or "its addresses 127.0.11.1 and 127.0.11.9", for a finding's text."""
    shown = [p.address or "?" for p in probes]
    if len(shown) == 1:
        return f"its address {shown[0]}"
    return f"its addresses {', '.join(shown[:-1])} and {shown[-1]}"


def _suggested(leaf: bytes, name: str) -> str:
    spki = _selected(leaf, 1)
    digest = hashlib.sha256(spki).hexdigest() if spki else "<SHA-256 of the SubjectPublicKeyInfo>"
    return f"{name}. 3600 IN TLSA 3 1 1 {digest}"


def _not_compared(host: str, observed: dict[str, Any], why: str) -> Finding:
    return Finding(
        id="dane.not-compared",
        check=CHECK,
        severity=Severity.INFO,
        message=f"{host} has TLSA records; they were not compared with its certificate ({why}).",
        observed=observed,
    )


async def check_dane(ctx: CheckContext) -> list[Finding]:
    from threer.checks.smtp import _is_literal, _mx_hosts

    hosts, failed = await _mx_hosts(ctx)
    if failed is not None:
        return [lookup_error(CHECK, f"The MX records of {ctx.domain}", failed, so="so no TLSA record was looked up.")]
    hosts = [h for h in hosts if h and h != "." and not _is_literal(h)]
    if not hosts:
        return []
    results = await asyncio.gather(*(_host_findings(ctx, host) for host in hosts))
    findings = [f for group in results for f in group]
    if not findings:
        return [
            Finding(
                id="dane.none",
                check=CHECK,
                severity=Severity.INFO,
                message=f"No MX host of {ctx.domain} publishes TLSA records: DANE is not in use (senders use opportunistic "
                "TLS or MTA-STS).",
                observed={"hosts": hosts},
            )
        ]
    return findings
