"""The `blocklist` check: sending addresses (--ip, and the MX hosts' when asked) in DNS blocklists.

An address is looked up in each list the config names (`blocklists`; documented defaults in
`blocklists.toml`) by its reversed form under the list's zone (RFC 5782 §2.1: `4.3.2.1.list` for
1.2.3.4, nibbles for IPv6). NXDOMAIN is "not listed"; an A record in 127.0.0.0/8 is "listed", with
the list's explanation of the code; a code in 127.255.255.0/24 is the list's own error (Spamhaus
answers 127.255.255.254 to queries through public resolvers) and is `error` ("this list does not
answer your resolver"), never "listed"; a timeout or SERVFAIL is `error` too.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from typing import TYPE_CHECKING

from threer.checks.context import CheckContext
from threer.findings import Finding, Severity

if TYPE_CHECKING:
    from threer.checks.resolver import Resolver

CHECK = "blocklist"
FINDING_IDS = frozenset({"blocklist.clean", "blocklist.listed", "blocklist.refused", "blocklist.lookup-error"})
_ERROR_RANGE = ipaddress.ip_network("127.255.255.0/24")
_LOOPBACK = ipaddress.ip_network("127.0.0.0/8")


@dataclass(frozen=True)
class Blocklist:
    zone: str  # e.g. zen.spamhaus.org
    name: str = ""
    codes: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    delist: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} ({self.zone})" if self.name and self.name != self.zone else self.zone


@lru_cache(maxsize=1)
def known_lists() -> dict[str, Blocklist]:
    """The lists described in blocklists.toml, by zone."""
    text = resources.files("threer.checks").joinpath("blocklists.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    return {
        zone: Blocklist(zone=zone, name=entry.get("name", zone), codes=dict(entry.get("codes", {})), delist=entry.get("delist"))
        for zone, entry in data.get("lists", {}).items()
    }


def default_zones() -> list[str]:
    text = resources.files("threer.checks").joinpath("blocklists.toml").read_text(encoding="utf-8")
    return [zone for zone, entry in tomllib.loads(text).get("lists", {}).items() if entry.get("default")]


def blocklists_for(zones: list[str] | None) -> tuple[Blocklist, ...]:
    """The Blocklist of each configured zone (None: the defaults), described when threer knows it."""
    known = known_lists()
    chosen = default_zones() if zones is None else zones
    return tuple(known.get(z.strip().rstrip(".").lower()) or Blocklist(zone=z.strip().rstrip(".").lower()) for z in chosen if z.strip())


def query_name(address: str, zone: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        return ".".join(reversed(str(ip).split("."))) + "." + zone
    return ".".join(reversed(ip.exploded.replace(":", ""))) + "." + zone


@dataclass
class Listing:
    blocklist: Blocklist
    address: str
    state: str  # clean, listed, refused, error
    codes: list[str] = field(default_factory=list)
    detail: str = ""
    reason: str = ""  # the list's own TXT record at the same name (RFC 5782 §2.1), when it has one

    def page(self) -> str | None:
        """The web page the list's reason names, if it names one."""
        found = re.search(r"https?://[^\s\"'<>]+", self.reason)
        return found.group(0).rstrip(".,;)") if found else None

    def explained(self) -> list[str]:
        unknown = "(code not described; the list’s reason follows)" if self.reason else "(code not described; see the list’s website)"
        return [f"{code} {self.blocklist.codes.get(code, unknown)}" for code in self.codes]


async def look_up(resolver: Resolver, blocklist: Blocklist, address: str) -> Listing:
    lookup = await resolver.query(query_name(address, blocklist.zone), "A")
    if lookup.is_error:
        return Listing(blocklist, address, "error", detail=lookup.detail or lookup.status.value)
    if not lookup.exists:
        return Listing(blocklist, address, "clean")
    codes = sorted(set(lookup.records), key=lambda c: ipaddress.ip_address(c))
    addresses = [ipaddress.ip_address(c) for c in codes]
    if any(a in _ERROR_RANGE for a in addresses) or not all(a in _LOOPBACK for a in addresses):
        return Listing(blocklist, address, "refused", codes=codes)
    # a listing's TXT record says why, often with the page to ask for removal (RFC 5782 §2.1); asked only
    # once the address is known to be listed, so a clean address costs one question a list
    txt = await resolver.query(query_name(address, blocklist.zone), "TXT")
    reason = "; ".join(sorted(set(txt.records)))[:300] if not txt.is_error else ""
    return Listing(blocklist, address, "listed", codes=codes, reason=reason)


async def check_blocklist(ctx: CheckContext) -> list[Finding]:
    targets = [(f"Sending address {a}", a) for a in ctx.ips]
    if ctx.blocklist_mx:
        from threer.checks.rdns import mx_addresses

        pairs, _ = await mx_addresses(ctx)  # a failed MX look-up is the mx check's finding
        targets += [(f"MX host {host} ({address})", address) for host, address in pairs]
    if not targets or not ctx.blocklists:
        return []
    jobs = [(label, bl) for label, _ in targets for bl in ctx.blocklists]
    results = await asyncio.gather(*(look_up(ctx.resolver, bl, address) for _, address in targets for bl in ctx.blocklists))
    findings: list[Finding] = []
    by_target: dict[str, list[Listing]] = {}
    for (label, _), listing in zip(jobs, results):
        by_target.setdefault(label, []).append(listing)
    for label, listings in by_target.items():
        for listing in listings:
            observed = {"address": listing.address, "list": listing.blocklist.zone, "codes": listing.explained()}
            if listing.reason:
                observed["reason"] = listing.reason
            if label.startswith("Sending address"):
                observed["sending_address"] = listing.address  # an --ip address (the check history compares by it)
            if listing.state == "listed":
                findings.append(
                    Finding(
                        id="blocklist.listed",
                        check=CHECK,
                        severity=Severity.FAIL,
                        message=f"{label} is listed in {listing.blocklist.label}: {'; '.join(listing.explained())}."
                        + (f" The list says: {listing.reason}" if listing.reason else ""),
                        fix=f"Find and stop what sent the spam from {listing.address}, then ask for removal"
                        + (f" at {listing.blocklist.delist}." if listing.blocklist.delist
                           else f" at {page}." if (page := listing.page()) else " on the list's website."),
                        observed=observed,
                    )
                )
            elif listing.state == "refused":
                findings.append(
                    Finding(
                        id="blocklist.refused",
                        check=CHECK,
                        severity=Severity.ERROR,
                        message=f"{listing.blocklist.label} answered {', '.join(listing.explained())} for {listing.address}: "
                        "this list does not answer your resolver, so whether the address is listed is not known.",
                        fix="Run the check with --nameserver set to a resolver of your own network (not a public one "
                        "such as 8.8.8.8 or 1.1.1.1), or look the address up on the list's website.",
                        observed=observed,
                    )
                )
            elif listing.state == "error":
                findings.append(
                    Finding(
                        id="blocklist.lookup-error",
                        check=CHECK,
                        severity=Severity.ERROR,
                        message=f"{listing.blocklist.label} could not be asked about {listing.address} ({listing.detail}), "
                        "so it is not known whether the address is listed.",
                        observed=observed,
                    )
                )
        clean = [listing for listing in listings if listing.state == "clean"]
        if clean and len(clean) == len(listings):
            findings.append(
                Finding(
                    id="blocklist.clean",
                    check=CHECK,
                    severity=Severity.OK,
                    message=f"{label} is in none of the {len(clean)} blocklists asked ({', '.join(l.blocklist.zone for l in clean)}).",
                    observed={"address": clean[0].address, "lists": [l.blocklist.zone for l in clean]}
                    | ({"sending_address": clean[0].address} if label.startswith("Sending address") else {}),
                )
            )
    return findings
