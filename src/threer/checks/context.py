"""What every check receives: the domain, the shared resolver, the profile and the injected edges."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the resolver and profile modules import nothing from here; avoid a cycle anyway
    from threer.checks.profiles import Profile
    from threer.checks.recognise import ProfileChoice
    from threer.checks.blocklist import Blocklist
    from threer.checks.resolver import Lookup, Resolver
    from threer.findings import Finding


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class CheckContext:
    domain: str  # normalised ASCII domain, lower-case, no trailing dot
    resolver: "Resolver"  # one per domain: every check shares its cache and deadline
    profile: "Profile | None" = None  # None: judge the records on their own merits
    choice: "ProfileChoice | None" = None  # how the profile was chosen (None: given directly, as in tests)
    dkim_selectors: tuple[str, ...] = ()  # selectors to look for beyond the profile's
    dns_only: bool = False  # skip anything that opens a connection to a host
    http_timeout: float = 5.0
    verify: "ssl.SSLContext | str | bool" = True  # CA bundle for HTTPS (tests pass trustme's CA)
    now: datetime = field(default_factory=_utc_now)  # injected clock (certificate expiry etc.)
    # the port to ask a domain's own name servers on: 53 in the wild, a test server's port in tests
    authoritative_port: int = 53
    # host -> (ip, port) to connect to instead of the looked-up address: a testing/diagnostic hook
    connect_overrides: dict[str, tuple[str, int]] | None = None
    # the port the smtp check probes MX hosts on: 25 in the wild, a lab's or test server's port otherwise
    smtp_port: int = 25
    smtp_timeout: float | None = None  # each MX host's probe; None: http_timeout
    ips: tuple[str, ...] = ()  # sending addresses to judge (check-dns --ip): SPF verdict, reverse DNS, blocklists
    blocklists: "tuple[Blocklist, ...]" = ()  # the DNS blocklists to ask (threer.checks.blocklist.Blocklist), from the config
    blocklist_mx: bool = False  # also look the MX hosts' addresses up in the blocklists

    @property
    def profile_from_mx(self) -> bool:
        """True unless `auto` chose the profile from something other than the MX (SPF, autodiscover):
        then an MX elsewhere may be a filtering service in front of the provider."""
        return self.choice is None or self.choice.recognised_from_mx

    def expand(self, pattern: str) -> str:
        """A profile pattern such as `{domain_dashed}.mail.protection.outlook.com` for this domain."""
        from threer.checks.profiles import expand_pattern

        return expand_pattern(pattern, self.domain)


def record_fix(host: str, rdtype: str, value: str, ttl: int = 3600) -> str:
    """One DNS record in master-file form, the way a DNS admin pastes it: `host. TTL IN TYPE value`."""
    host = host.rstrip(".") + "."
    return f"{host} {ttl} IN {rdtype} {value}"


def lookup_error(check: str, what: str, lookup: "Lookup", *, so: str = "so it is not known.") -> "Finding":
    """The `<check>.lookup-error` finding: a look-up that got no answer (timeout, SERVFAIL, ...) is
    `error`, never `missing`: nothing is known about the record."""
    from threer.findings import Finding, Severity

    return Finding(
        id=f"{check}.lookup-error",
        check=check,
        severity=Severity.ERROR,
        message=f"{what} could not be looked up ({lookup.detail or lookup.status.value}), {so}",
        observed={"name": lookup.name, "type": lookup.rdtype, "status": lookup.status.value},
    )
