"""check_host() (RFC 7208 §4, §5): the SPF result of a domain for one client address.

Macros (§7), include/redirect recursion, the 10 DNS-lookup limit and the 2 void-lookup limit
(§4.6.4), the per-mechanism 10-name limits of mx and ptr, loops, and `temperror` when any DNS
look-up in the tree times out or fails (§4.4, §5).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from threer.checks.resolver import Lookup, LookupStatus

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_PLAIN_LABEL = re.compile(rb"[A-Za-z0-9_-]+")
from threer.checks.spf.macros import MacroString, expand_macros, parse_macro_string
from threer.checks.spf.record import (
    LOOKUP_LIMIT,
    NAME_LIMIT,
    VOID_LIMIT,
    Mechanism,
    SpfRecord,
    SpfSyntaxError,
    is_spf_record,
    parse_record,
)
from threer.errors import BadInput

if TYPE_CHECKING:
    from threer.checks.resolver import Resolver

@dataclass(kw_only=True)
class SpfResult:
    """What check_host() decided for one client address, and what it cost."""

    result: str  # pass fail softfail neutral none permerror temperror
    domain: str
    ip: str
    explanation: str | None = None  # the domain's exp= text, for a fail; None when it has none
    reason: str = ""  # plain words: which term decided, or what went wrong
    matched: str | None = None  # "domain: term" of the mechanism that matched
    lookups: int = 0  # DNS-querying mechanisms and modifiers evaluated (limit 10)
    void_lookups: int = 0  # of those, look-ups that found nothing (limit 2)
    lookup_budget: dict[str, int] = field(default_factory=dict)  # per top-level include/redirect
    # for a permerror: the term of the domain's own record being evaluated when it arose (None: the
    # record itself is broken), and what went wrong: lookup-limit, void-limit, no-record, loop, invalid
    failed_at: str | None = None
    error_kind: str | None = None


class _PermError(Exception):
    def __init__(self, message: str, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


class _TempError(Exception):
    pass


@dataclass
class _Outcome:
    result: str
    reason: str = ""
    matched: str | None = None
    exp: tuple[MacroString, str] | None = None  # exp= of the deciding record and its domain
    kind: str | None = None  # for a permerror: what went wrong (_PermError.kind)


@dataclass
class _State:
    resolver: "Resolver"
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    sender: str
    local_part: str
    sender_domain: str
    helo: str
    receiver: str
    lookups: int = 0
    voids: int = 0
    stack: list[str] = field(default_factory=list)
    budget: dict[str, int] = field(default_factory=dict)
    top_term: str | None = None  # the term of the domain's own record being evaluated
    record_text: str | None = None  # evaluate this text as the domain's record (a proposed fix)

    @property
    def is_ipv4(self) -> bool:
        return self.ip.version == 4

    @property
    def address_type(self) -> str:
        return "A" if self.is_ipv4 else "AAAA"

    async def validated_names(self) -> list[str]:
        """The client's validated PTR names, for the %{p} macro."""
        names, _ = await _validated_names(self)
        return names


def _client_ip(ip: str | IpAddress) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    try:
        address = ipaddress.ip_address(ip.strip() if isinstance(ip, str) else ip)
    except ValueError:
        raise BadInput(f"{ip!r} is not an IP address; give the sending server's address, such as 192.0.2.10.") from None
    # RFC 7208 §5: an IPv4-mapped IPv6 address is an IPv4 address
    if address.version == 6 and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def domain_is_valid(domain: str) -> bool:
    """RFC 7208 §4.3: a multi-label name, no empty label, labels ≤ 63 octets, not a literal."""
    name = domain[:-1] if domain.endswith(".") else domain
    if not name or name.startswith("["):
        return False
    labels = name.split(".")
    if len(labels) < 2:
        return False
    return all(0 < len(label.encode("utf-8", "replace")) <= 63 for label in labels) and len(name) <= 253


def _target_name(expanded: str) -> str | None:
    """Turn an expanded domain-spec into a query name (escaped presentation form), or None if invalid.

    Over-long names lose labels on the left until they fit (RFC 7208 §7.3); an empty label or a
    label over 63 octets cannot be asked for, so the mechanism simply does not match."""
    name = expanded[:-1] if expanded.endswith(".") else expanded
    labels = name.split(".")
    while len(".".join(labels)) > 253 and len(labels) > 1:
        labels = labels[1:]
    if not labels or any(not label or len(label.encode("utf-8", "replace")) > 63 for label in labels):
        return None
    raw = [label.encode("utf-8", "replace") for label in labels]
    if all(_PLAIN_LABEL.fullmatch(label) for label in raw):  # nothing to escape: the name as it is
        return ".".join(labels) if sum(len(label) + 1 for label in raw) + 1 <= 255 else None
    import dns.name  # a label to escape (`\032`, `\.`): dnspython writes the presentation form

    try:
        return dns.name.Name(raw + [b""]).to_text(omit_final_dot=True)
    except dns.name.NameTooLong:
        return None


async def check_host(
    resolver: "Resolver",
    ip: str | IpAddress,
    domain: str,
    sender: str,
    helo: str | None = None,
    *,
    receiver: str = "unknown",
    record: str | None = None,
) -> SpfResult:
    """RFC 7208 check_host(): the SPF result of `domain` for mail from `sender` sent by `ip`.

    `record`: evaluate this text as the domain's SPF record instead of the published one, to check a
    fix before it is proposed (the includes it names are looked up as usual)."""
    address = _client_ip(ip)
    helo = (helo or "").strip() or domain
    sender = (sender or "").strip()
    if not sender:
        sender = f"postmaster@{helo}"
    local_part, at, sender_domain = sender.rpartition("@")
    if not at:
        local_part, sender_domain = "", sender
    if not local_part:
        local_part = "postmaster"
    state = _State(
        resolver=resolver,
        ip=address,
        sender=f"{local_part}@{sender_domain}",
        local_part=local_part,
        sender_domain=sender_domain,
        helo=helo,
        receiver=receiver,
        record_text=record,
    )
    domain = (domain or "").strip()
    if not domain_is_valid(domain):
        outcome = _Outcome("none", f"{domain!r} is not a domain that can have an SPF record")
    else:
        domain = domain.rstrip(".")
        try:
            outcome = await _evaluate(state, domain, via=None)
        except _PermError as exc:
            outcome = _Outcome("permerror", str(exc), kind=exc.kind)
        except _TempError as exc:
            outcome = _Outcome("temperror", str(exc))
    failed_at = kind = None
    if outcome.result == "permerror":
        failed_at, kind = state.top_term, outcome.kind
    explanation = None
    if outcome.result == "fail" and outcome.exp is not None:
        explanation = await _explanation(state, *outcome.exp)
    return SpfResult(
        result=outcome.result,
        domain=domain,
        ip=str(address),
        explanation=explanation,
        reason=outcome.reason,
        matched=outcome.matched,
        lookups=state.lookups,
        void_lookups=state.voids,
        lookup_budget=dict(state.budget),
        failed_at=failed_at,
        error_kind=kind,
    )


def select_spf_record(lookup: Lookup) -> tuple[list[str], str]:
    """The SPF records among a TXT answer, and a word on what else was there."""
    records = [r for r in lookup.records if is_spf_record(r)]
    return records, f"{len(lookup.records)} TXT record(s), {len(records)} SPF"


async def _fetch_record(state: _State, domain: str) -> SpfRecord | None:
    """The domain's parsed SPF record; None when it has none (NXDOMAIN, NODATA, no v=spf1)."""
    if state.record_text is not None and not state.stack[:-1]:
        try:
            return parse_record(state.record_text)
        except SpfSyntaxError as exc:
            raise _PermError(f"the SPF record of {domain} is invalid: {exc}") from None
    lookup = await state.resolver.query(domain, "TXT")
    if lookup.is_error:
        raise _TempError(f"the TXT look-up for {domain} failed: {lookup.detail or lookup.status.value}")
    if not lookup.exists:
        return None
    records, _ = select_spf_record(lookup)
    if not records:
        return None
    if len(records) > 1:
        raise _PermError(f"{domain} has {len(records)} SPF records; it must have exactly one", "multiple")
    try:
        return parse_record(records[0])
    except SpfSyntaxError as exc:
        raise _PermError(f"the SPF record of {domain} is invalid: {exc}") from None


def _count_lookup(state: _State, domain: str, term: str) -> None:
    state.lookups += 1
    if state.lookups > LOOKUP_LIMIT:
        raise _PermError(
            f"more than {LOOKUP_LIMIT} DNS-querying mechanisms and modifiers (at {term} in {domain}); "
            "RFC 7208 §4.6.4 makes this a permanent error",
            "lookup-limit",
        )


def _count_void(state: _State, domain: str, term: str, lookup: Lookup) -> None:
    if lookup.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA):
        state.voids += 1
        if state.voids > VOID_LIMIT:
            raise _PermError(
                f"more than {VOID_LIMIT} look-ups found nothing (the last at {term} in {domain}); "
                "RFC 7208 §4.6.4 makes this a permanent error",
                "void-limit",
            )


async def _evaluate(state: _State, domain: str, via: str | None) -> _Outcome:
    state.stack.append(domain.lower())
    try:
        record = await _fetch_record(state, domain)
        if record is None:
            return _Outcome("none", f"{domain} has no SPF record")
        for mechanism in record.mechanisms:
            if via is None:
                state.top_term = mechanism.text
            if mechanism.causes_lookup:
                _count_lookup(state, domain, mechanism.text)
            top_level = via is None and mechanism.name == "include"
            before = state.lookups
            try:
                matched = await _matches(state, domain, mechanism)
            finally:
                if top_level:
                    state.budget[mechanism.text] = state.budget.get(mechanism.text, 0) + 1 + state.lookups - before
            if matched:
                return _Outcome(
                    mechanism.result,
                    f"{mechanism.text} in {domain} matched",
                    matched=f"{domain}: {mechanism.text}",
                    exp=(record.exp.value, domain) if record.exp else None,
                )
        if record.redirect is not None and record.all_mechanism is None:
            term = record.redirect.text
            if via is None:
                state.top_term = term
            _count_lookup(state, domain, term)
            before = state.lookups
            try:
                target = _target_name(await expand_macros(state, record.redirect.value, domain))
                if target is None:
                    raise _PermError(f"{term} in {domain} does not name a valid domain")
                if target.lower() in state.stack:
                    raise _PermError(f"{term} in {domain} loops back to {target}", "loop")
                outcome = await _evaluate(state, target, via=term)
            finally:
                if via is None:
                    state.budget[term] = 1 + state.lookups - before
            if outcome.result == "none":
                raise _PermError(f"{term} in {domain} points at {target}, which has no SPF record", "no-record")
            return outcome
        return _Outcome("neutral", f"nothing in the SPF record of {domain} matched, so the result is neutral")
    finally:
        state.stack.pop()


async def _target(state: _State, domain: str, mechanism: Mechanism) -> str | None:
    if mechanism.domain_spec is None:
        return domain
    return _target_name(await expand_macros(state, mechanism.domain_spec, domain))


def _in_network(state: _State, addresses: tuple[str, ...], mechanism: Mechanism) -> bool:
    prefix = (mechanism.cidr4 if state.is_ipv4 else mechanism.cidr6)
    prefix = prefix if prefix is not None else (32 if state.is_ipv4 else 128)
    for text in addresses:
        try:
            network = ipaddress.ip_network(f"{text}/{prefix}", strict=False)
        except ValueError:
            continue
        if network.version == state.ip.version and state.ip in network:
            return True
    return False


async def _matches(state: _State, domain: str, mechanism: Mechanism) -> bool:
    name = mechanism.name
    if name == "all":
        return True
    if name in ("ip4", "ip6"):
        network = mechanism.network  # set on every ip4 and ip6 mechanism
        return network is not None and network.version == state.ip.version and state.ip in network
    if name == "include":
        target = await _target(state, domain, mechanism)
        if target is None:
            raise _PermError(f"{mechanism.text} in {domain} does not name a valid domain")
        if target.lower() in state.stack:
            raise _PermError(f"{mechanism.text} in {domain} loops back to {target}", "loop")
        outcome = await _evaluate(state, target, via=mechanism.text)
        if outcome.result == "pass":
            return True
        if outcome.result in ("fail", "softfail", "neutral"):
            return False
        if outcome.result == "temperror":
            raise _TempError(outcome.reason)
        if outcome.result == "none":
            raise _PermError(f"{mechanism.text} in {domain} points at {target}, which has no SPF record", "no-record")
        raise _PermError(outcome.reason, outcome.kind or "invalid")
    if name == "exists":
        target = await _target(state, domain, mechanism)
        if target is None:
            return False
        lookup = await state.resolver.query(target, "A")  # always A, even for IPv6 clients (§5.7)
        if lookup.is_error:
            raise _TempError(f"{mechanism.text} in {domain}: the look-up for {target} failed ({lookup.detail})")
        _count_void(state, domain, mechanism.text, lookup)
        return lookup.exists
    if name == "a":
        target = await _target(state, domain, mechanism)
        if target is None:
            return False
        lookup = await state.resolver.query(target, state.address_type)
        if lookup.is_error:
            raise _TempError(f"{mechanism.text} in {domain}: the look-up for {target} failed ({lookup.detail})")
        _count_void(state, domain, mechanism.text, lookup)
        return _in_network(state, lookup.records, mechanism)
    if name == "mx":
        target = await _target(state, domain, mechanism)
        if target is None:
            return False
        lookup = await state.resolver.query(target, "MX")
        if lookup.is_error:
            raise _TempError(f"{mechanism.text} in {domain}: the MX look-up for {target} failed ({lookup.detail})")
        _count_void(state, domain, mechanism.text, lookup)
        hosts = [rd.exchange.to_text(omit_final_dot=True) for rd in lookup.rdata]
        if len(hosts) > NAME_LIMIT:
            raise _PermError(f"{mechanism.text} in {domain}: {target} has {len(hosts)} MX records, more than the {NAME_LIMIT} allowed")
        hosts = [h for h in hosts if h]  # a null MX (RFC 7505) names no host
        answers = await asyncio.gather(*(state.resolver.query(h, state.address_type) for h in hosts))
        for host, answer in zip(hosts, answers):
            if answer.is_error:
                raise _TempError(f"{mechanism.text} in {domain}: the look-up for MX host {host} failed ({answer.detail})")
            if _in_network(state, answer.records, mechanism):
                return True
        return False
    if name == "ptr":
        target = await _target(state, domain, mechanism)
        if target is None:
            return False
        names, ptr_lookup = await _validated_names(state)
        if ptr_lookup is not None:
            _count_void(state, domain, mechanism.text, ptr_lookup)
        target = target.lower()
        return any(n == target or n.endswith("." + target) for n in names)
    raise _PermError(f"unknown mechanism {mechanism.text}")  # pragma: no cover - the parser refuses these


async def _validated_names(state: _State) -> tuple[list[str], Lookup | None]:
    """RFC 7208 §5.5: the client's PTR names (first 10) whose A/AAAA records lead back to it."""
    reverse = state.ip.reverse_pointer  # d.c.b.a.in-addr.arpa, or the 32 nibbles of an IPv6 address
    lookup = await state.resolver.query(reverse, "PTR")
    if not lookup.exists:
        return [], (None if lookup.is_error else lookup)  # a PTR failure only means no match
    names = [rd.target.to_text(omit_final_dot=True).lower() for rd in lookup.rdata][:NAME_LIMIT]
    answers = await asyncio.gather(*(state.resolver.query(n, state.address_type) for n in names))
    validated = []
    for name, answer in zip(names, answers):
        # a failed look-up only skips that name (§5.5)
        if answer.exists and any(_same_ip(r, state.ip) for r in answer.records):
            validated.append(name)
    return validated, lookup


def _same_ip(text: str, ip: IpAddress) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


async def _explanation(state: _State, spec: MacroString, domain: str) -> str | None:
    """The exp= text for a fail (RFC 7208 §6.2); None whenever anything about it is wrong."""
    try:
        target = _target_name(await expand_macros(state, spec, domain))
    except (_PermError, _TempError):
        return None
    if target is None:
        return None
    lookup = await state.resolver.query(target, "TXT")
    if not lookup.exists or len(lookup.records) != 1:
        return None
    text = lookup.records[0]
    try:
        if not text.isascii():
            return None
        explain = parse_macro_string(text, exp_letters=True, allow_space=True)
        return await expand_macros(state, explain, domain)
    except (ValueError, _PermError, _TempError):
        return None
