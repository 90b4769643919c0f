"""SPF (RFC 7208): a record parser, the check_host() evaluator, and the `spf` check.

- `parse_record(text)` turns a `v=spf1 ...` record into mechanisms and modifiers, or raises
  `SpfSyntaxError` naming the failing term and where it starts.
- `check_host(resolver, ip, domain, sender)` evaluates a domain's policy for one client address as
  RFC 7208 §4 says: macros (§7), include/redirect recursion, the 10 DNS-lookup limit and the
  2 void-lookup limit (§4.6.4), the per-mechanism 10-name limits of mx and ptr, loops, and
  `temperror` when any DNS look-up in the tree times out or fails (§4.4, §5).
- `check_spf(ctx)` reports on a domain's record: exactly one record, syntax, lookup budget per
  include, void look-ups, the `all` qualifier, `ptr`, and whether the profile's include is there
  and its sending addresses pass.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Union
from urllib.parse import quote

import dns.name
import dns.reversename
from pydantic import BaseModel, Field

from threer.checks.resolver import Lookup, LookupStatus
from threer.errors import BadInput
from threer.findings import Finding, Severity

if TYPE_CHECKING:
    from threer.checks.context import CheckContext
    from threer.checks.resolver import Resolver

CHECK = "spf"
FINDING_IDS = frozenset(
    {
        "spf.ok",
        "spf.lookup-error",
        "spf.missing",
        "spf.multiple",
        "spf.syntax",
        "spf.lookup-limit",
        "spf.void-limit",
        "spf.include-loop",
        "spf.include-missing",
        "spf.include-error",
        "spf.all-pass",
        "spf.all-neutral",
        "spf.all-softfail",
        "spf.all-missing",
        "spf.redirect-ignored",
        "spf.ptr",
        "spf.profile-include-missing",
        "spf.profile-ip-fails",
        "spf.profile-ip-error",
    }
)

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")
LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4: mechanisms and modifiers that cause DNS look-ups
VOID_LIMIT = 2  # RFC 7208 §4.6.4: look-ups that return no records
NAME_LIMIT = 10  # RFC 7208 §4.6.4: MX names per mx mechanism, PTR names per ptr mechanism / %{p}
DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
QUALIFIER_RESULT = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
DEFAULT_TTL = 3600

_MACRO_LETTERS = frozenset("slodiphv")
_EXP_ONLY_LETTERS = frozenset("crt")
_ESCAPES = {"%": "%", "_": " ", "-": "%20"}  # %% %_ %- (RFC 7208 §7.1)
_MACRO_BODY = re.compile(r"([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)")
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9._-]*)=(.*)", re.S)
_TOPLABEL = r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_END = re.compile(r".*\." + _TOPLABEL + r"\.?", re.S)
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4_NETWORK = re.compile(rf"({_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM})(?:/(0|[1-9][0-9]?))?")
_IP6_NETWORK = re.compile(r"([0-9A-Fa-f:.]+)(?:/(0|[1-9][0-9]{0,2}))?")
_DUAL_CIDR = re.compile(r"(?:/(0|[1-9][0-9]?))?(?://(0|[1-9][0-9]{0,2}))?")
_DOMAIN_AND_CIDR = re.compile(r"(.*?)((?:/[0-9]+)?(?://[0-9]+)?)", re.S)


# --------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------


class SpfSyntaxError(ValueError):
    """A record that breaks RFC 7208 §4.6.1/§12: says which term is wrong, where, and why."""

    def __init__(self, reason: str, term: str | None = None, index: int | None = None, position: int | None = None):
        self.reason = reason
        self.term = term
        self.index = index  # 1-based term number after v=spf1
        self.position = position  # 0-based character offset of the term in the record
        if term is None:
            message = reason
        else:
            message = f"term {index} {_show(term)} (character {position + 1 if position is not None else '?'}): {reason}"
        super().__init__(message)

    @property
    def message(self) -> str:
        return str(self)


def _show(text: str) -> str:
    """A term as the technician should see it, with control and non-ASCII characters made visible."""
    shown = "".join(c if 0x20 <= ord(c) < 0x7F else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}" for c in text)
    return f"'{shown}'"


@dataclass(frozen=True)
class Macro:
    letter: str  # lower-case macro letter
    digits: int | None  # keep this many right-hand parts
    reverse: bool
    delimiters: str  # split on these (default ".")
    url_escape: bool  # the letter was upper-case


Token = Union[str, Macro]


@dataclass(frozen=True)
class MacroString:
    raw: str
    tokens: tuple[Token, ...]

    @property
    def has_macros(self) -> bool:
        return any(isinstance(t, Macro) for t in self.tokens)

    @property
    def literal(self) -> str:
        """The text with escapes resolved, when it has no macros."""
        return "".join(t for t in self.tokens if isinstance(t, str))


@dataclass(frozen=True)
class Mechanism:
    qualifier: str  # one of + - ~ ?
    name: str  # lower-case mechanism name
    text: str  # the term as written
    index: int
    position: int
    domain_spec: MacroString | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    cidr4: int | None = None
    cidr6: int | None = None

    @property
    def causes_lookup(self) -> bool:
        return self.name in DNS_MECHANISMS

    @property
    def result(self) -> str:
        return QUALIFIER_RESULT[self.qualifier]


@dataclass(frozen=True)
class Modifier:
    name: str  # lower-case
    value: MacroString
    text: str
    index: int
    position: int


@dataclass(frozen=True)
class SpfRecord:
    text: str
    mechanisms: tuple[Mechanism, ...]
    modifiers: tuple[Modifier, ...]
    redirect: Modifier | None = None
    exp: Modifier | None = None

    @property
    def all_mechanism(self) -> Mechanism | None:
        return next((m for m in self.mechanisms if m.name == "all"), None)

    @property
    def lookup_terms(self) -> int:
        """Terms of this record that cost a DNS look-up (redirect only counts when it can take effect)."""
        count = sum(1 for m in self.mechanisms if m.causes_lookup)
        if self.redirect is not None and self.all_mechanism is None:
            count += 1
        return count

    def terms_text(self) -> list[str]:
        ordered = sorted([*self.mechanisms, *self.modifiers], key=lambda t: t.index)
        return [t.text for t in ordered]


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: the record starts with `v=spf1` (any case) followed by a space or its end."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def parse_macro_string(text: str, *, exp_letters: bool = False, allow_space: bool = False) -> MacroString:
    """Parse a macro-string (RFC 7208 §7.1); raise ValueError with the reason when it is not one."""
    tokens: list[Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt in _ESCAPES:
                literal.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt != "{":
                shown = repr(nxt) if nxt else "the end"
                raise ValueError(f"a '%' must be followed by '{{', '%', '_' or '-', not {shown}")
            end = text.find("}", i + 2)
            if end < 0:
                raise ValueError("a macro '%{' is never closed with '}'")
            body = text[i + 2 : end]
            match = _MACRO_BODY.fullmatch(body)
            if not match:
                raise ValueError(f"'%{{{body}}}' is not a macro: a letter, optional digits, optional r, optional delimiters")
            letter, digits, reverse, delimiters = match.groups()
            lower = letter.lower()
            if lower not in _MACRO_LETTERS and not (exp_letters and lower in _EXP_ONLY_LETTERS):
                if lower in _EXP_ONLY_LETTERS:
                    raise ValueError(f"the macro letter '{letter}' is only allowed in explanation text")
                raise ValueError(f"'{letter}' is not a macro letter (use s, l, o, d, i, p, h or v)")
            if digits and int(digits) == 0:
                raise ValueError(f"'%{{{body}}}' keeps zero parts; the number must be 1 or more")
            flush()
            tokens.append(
                Macro(
                    letter=lower,
                    digits=int(digits) if digits else None,
                    reverse=bool(reverse),
                    delimiters=delimiters or ".",
                    url_escape=letter.isupper(),
                )
            )
            i = end + 1
            continue
        code = ord(ch)
        if not (0x21 <= code <= 0x7E or (allow_space and ch == " ")):
            if code < 0x20 or code == 0x7F:
                raise ValueError(f"it contains the control character U+{code:04X}; terms are separated by single spaces")
            if ch == " ":
                raise ValueError("it contains a space")
            raise ValueError(f"it contains the non-ASCII character U+{code:04X}; SPF records are 7-bit ASCII")
        literal.append(ch)
        i += 1
    flush()
    return MacroString(text, tuple(tokens))


def _parse_domain_spec(text: str, what: str) -> MacroString:
    if text == "":
        raise ValueError(f"{what} needs a domain after it")
    spec = parse_macro_string(text)
    # domain-end: a macro, or "." toplabel ["."] in the literal text after the last macro or escape
    tail_start = 0
    for match in re.finditer(r"%\{[^}]*\}|%[%_-]", text):
        tail_start = match.end()
    tail = text[tail_start:]
    ends_in_macro = tail == "" and tail_start > 0  # macro-expand includes %% %_ %- (§7.1)
    if not ends_in_macro and not _DOMAIN_END.fullmatch(tail):
        raise ValueError(
            f"{text!r} is not a domain: it must end in a dot and a top-level label such as .com "
            "(not all digits, not starting with a hyphen)"
        )
    return spec


def _split_terms(text: str) -> list[tuple[int, str]]:
    """(offset, term) for each space-separated term; only the space character separates terms."""
    return [(m.start(), m.group(0)) for m in re.finditer(r"[^ ]+", text)]


def parse_record(text: str) -> SpfRecord:
    """Parse one SPF record; raise SpfSyntaxError pointing at the first term that is wrong."""
    if not isinstance(text, str):
        raise SpfSyntaxError("the record is not text")
    if not is_spf_record(text):
        raise SpfSyntaxError("the record does not start with 'v=spf1' followed by a space")
    mechanisms: list[Mechanism] = []
    modifiers: list[Modifier] = []
    redirect = exp = None
    for index, (position, term) in enumerate(_split_terms(text)[1:], start=1):
        try:
            parsed = _parse_term(term, index, position)
        except ValueError as exc:
            raise SpfSyntaxError(str(exc), term, index, position) from None
        if isinstance(parsed, Modifier):
            if parsed.name == "redirect":
                if redirect is not None:
                    raise SpfSyntaxError("redirect= may appear only once", term, index, position)
                redirect = parsed
            elif parsed.name == "exp":
                if exp is not None:
                    raise SpfSyntaxError("exp= may appear only once", term, index, position)
                exp = parsed
            modifiers.append(parsed)
        else:
            mechanisms.append(parsed)
    return SpfRecord(text, tuple(mechanisms), tuple(modifiers), redirect, exp)


def _parse_term(term: str, index: int, position: int) -> Mechanism | Modifier:
    modifier = _MODIFIER.fullmatch(term)
    if modifier:
        name, value = modifier.group(1).lower(), modifier.group(2)
        if name in ("redirect", "exp"):
            return Modifier(name, _parse_domain_spec(value, f"{name}="), term, index, position)
        # unknown modifiers are ignored, but their value must still be a macro-string (§6)
        return Modifier(name, parse_macro_string(value, exp_letters=True), term, index, position)
    qualifier = "+"
    body = term
    if body[:1] in QUALIFIER_RESULT:
        qualifier, body = body[0], body[1:]
    name_match = re.match(r"[A-Za-z0-9]*", body)
    name = name_match.group(0).lower()
    rest = body[len(name_match.group(0)) :]
    if name not in MECHANISMS:
        if "=" in term:
            raise ValueError("this is neither a mechanism nor a valid modifier (a modifier is name=value, the name starting with a letter)")
        if name in ("redirect", "exp"):
            raise ValueError(f"{name} is a modifier: write {name}=domain")
        shown = name or body[:1] or "nothing"
        raise ValueError(f"unknown mechanism {shown!r}; use all, include, a, mx, ptr, ip4, ip6 or exists")
    if name == "all":
        if rest:
            raise ValueError("'all' takes no argument")
        return Mechanism(qualifier, name, term, index, position)
    if name in ("include", "exists"):
        if not rest.startswith(":"):
            raise ValueError(f"'{name}' needs a domain: {name}:example.com")
        return Mechanism(qualifier, name, term, index, position, domain_spec=_parse_domain_spec(rest[1:], name))
    if name == "ptr":
        if rest == "":
            return Mechanism(qualifier, name, term, index, position)
        if not rest.startswith(":"):
            raise ValueError("'ptr' takes only an optional domain (ptr:example.com), no prefix length")
        return Mechanism(qualifier, name, term, index, position, domain_spec=_parse_domain_spec(rest[1:], name))
    if name in ("a", "mx"):
        domain_spec = None
        cidr_text = rest
        if rest.startswith(":"):
            split = _DOMAIN_AND_CIDR.fullmatch(rest[1:])
            domain_text, cidr_text = split.group(1), split.group(2)
            domain_spec = _parse_domain_spec(domain_text, name)
        elif rest and not rest.startswith("/"):
            raise ValueError(f"'{name}' is followed by {rest[:1]!r}; write {name}, {name}:domain or {name}/24")
        cidr = _DUAL_CIDR.fullmatch(cidr_text)
        if cidr is None:
            raise ValueError(f"{cidr_text!r} is not a prefix length: use /N for IPv4 (0-32) and //N for IPv6 (0-128)")
        cidr4 = int(cidr.group(1)) if cidr.group(1) else None
        cidr6 = int(cidr.group(2)) if cidr.group(2) else None
        if cidr4 is not None and cidr4 > 32:
            raise ValueError(f"the IPv4 prefix length /{cidr4} is larger than 32")
        if cidr6 is not None and cidr6 > 128:
            raise ValueError(f"the IPv6 prefix length //{cidr6} is larger than 128")
        return Mechanism(qualifier, name, term, index, position, domain_spec=domain_spec, cidr4=cidr4, cidr6=cidr6)
    if name == "ip4":
        match = _IP4_NETWORK.fullmatch(rest[1:]) if rest.startswith(":") else None
        if match is None:
            raise ValueError("'ip4' needs an IPv4 address or network, such as ip4:192.0.2.0/24 (four numbers, no leading zeros, prefix 0-32)")
        prefix = int(match.group(2)) if match.group(2) else 32
        network = ipaddress.IPv4Network(f"{match.group(1)}/{prefix}", strict=False)
        return Mechanism(qualifier, name, term, index, position, network=network)
    # ip6
    match = _IP6_NETWORK.fullmatch(rest[1:]) if rest.startswith(":") else None
    address = None
    if match is not None:
        try:
            address = ipaddress.IPv6Address(match.group(1))
        except ValueError:
            address = None
    if address is None:
        raise ValueError("'ip6' needs an IPv6 address or network, such as ip6:2001:db8::/32 (prefix 0-128)")
    prefix = int(match.group(2)) if match.group(2) else 128
    if prefix > 128:
        raise ValueError(f"the IPv6 prefix length /{prefix} is larger than 128")
    network = ipaddress.IPv6Network(f"{address}/{prefix}", strict=False)
    return Mechanism(qualifier, name, term, index, position, network=network)


# --------------------------------------------------------------------------------------------------
# Evaluation: check_host()
# --------------------------------------------------------------------------------------------------


class SpfResult(BaseModel):
    """What check_host() decided for one client address, and what it cost."""

    result: str  # pass fail softfail neutral none permerror temperror
    domain: str
    ip: str
    explanation: str | None = None  # the domain's exp= text, for a fail; None when it has none
    reason: str = ""  # plain words: which term decided, or what went wrong
    matched: str | None = None  # "domain: term" of the mechanism that matched
    lookups: int = 0  # DNS-querying mechanisms and modifiers evaluated (limit 10)
    void_lookups: int = 0  # of those, look-ups that found nothing (limit 2)
    lookup_budget: dict[str, int] = Field(default_factory=dict)  # per top-level include/redirect


class _PermError(Exception):
    pass


class _TempError(Exception):
    pass


@dataclass
class _Outcome:
    result: str
    reason: str = ""
    matched: str | None = None
    exp: tuple[MacroString, str] | None = None  # exp= of the deciding record and its domain


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

    @property
    def is_ipv4(self) -> bool:
        return self.ip.version == 4

    @property
    def address_type(self) -> str:
        return "A" if self.is_ipv4 else "AAAA"


def _client_ip(ip) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
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
    try:
        return dns.name.Name([label.encode("utf-8", "replace") for label in labels] + [b""]).to_text(omit_final_dot=True)
    except dns.name.NameTooLong:
        return None


async def check_host(
    resolver: "Resolver",
    ip,
    domain: str,
    sender: str,
    helo: str | None = None,
    *,
    receiver: str = "unknown",
) -> SpfResult:
    """RFC 7208 check_host(): the SPF result of `domain` for mail from `sender` sent by `ip`."""
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
    )
    domain = (domain or "").strip()
    if not domain_is_valid(domain):
        outcome = _Outcome("none", f"{domain!r} is not a domain that can have an SPF record")
    else:
        domain = domain.rstrip(".")
        try:
            outcome = await _evaluate(state, domain, via=None)
        except _PermError as exc:
            outcome = _Outcome("permerror", str(exc))
        except _TempError as exc:
            outcome = _Outcome("temperror", str(exc))
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
    )


def select_spf_record(lookup: Lookup) -> tuple[list[str], str]:
    """The SPF records among a TXT answer, and a word on what else was there."""
    records = [r for r in lookup.records if is_spf_record(r)]
    return records, f"{len(lookup.records)} TXT record(s), {len(records)} SPF"


async def _fetch_record(state: _State, domain: str) -> SpfRecord | None:
    """The domain's parsed SPF record; None when it has none (NXDOMAIN, NODATA, no v=spf1)."""
    lookup = await state.resolver.query(domain, "TXT")
    if lookup.is_error:
        raise _TempError(f"the TXT look-up for {domain} failed: {lookup.detail or lookup.status.value}")
    if not lookup.exists:
        return None
    records, _ = select_spf_record(lookup)
    if not records:
        return None
    if len(records) > 1:
        raise _PermError(f"{domain} has {len(records)} SPF records; it must have exactly one")
    try:
        return parse_record(records[0])
    except SpfSyntaxError as exc:
        raise _PermError(f"the SPF record of {domain} is invalid: {exc}") from None


def _count_lookup(state: _State, domain: str, term: str) -> None:
    state.lookups += 1
    if state.lookups > LOOKUP_LIMIT:
        raise _PermError(
            f"more than {LOOKUP_LIMIT} DNS-querying mechanisms and modifiers (at {term} in {domain}); "
            "RFC 7208 §4.6.4 makes this a permanent error"
        )


def _count_void(state: _State, domain: str, term: str, lookup: Lookup) -> None:
    if lookup.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA):
        state.voids += 1
        if state.voids > VOID_LIMIT:
            raise _PermError(
                f"more than {VOID_LIMIT} look-ups found nothing (the last at {term} in {domain}); "
                "RFC 7208 §4.6.4 makes this a permanent error"
            )


async def _evaluate(state: _State, domain: str, via: str | None) -> _Outcome:
    state.stack.append(domain.lower())
    try:
        record = await _fetch_record(state, domain)
        if record is None:
            return _Outcome("none", f"{domain} has no SPF record")
        for mechanism in record.mechanisms:
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
            _count_lookup(state, domain, term)
            before = state.lookups
            try:
                target = _target_name(await _expand(state, record.redirect.value, domain))
                if target is None:
                    raise _PermError(f"{term} in {domain} does not name a valid domain")
                if target.lower() in state.stack:
                    raise _PermError(f"{term} in {domain} loops back to {target}")
                outcome = await _evaluate(state, target, via=term)
            finally:
                if via is None:
                    state.budget[term] = 1 + state.lookups - before
            if outcome.result == "none":
                raise _PermError(f"{term} in {domain} points at {target}, which has no SPF record")
            return outcome
        return _Outcome("neutral", f"nothing in the SPF record of {domain} matched, so the result is neutral")
    finally:
        state.stack.pop()


async def _target(state: _State, domain: str, mechanism: Mechanism) -> str | None:
    if mechanism.domain_spec is None:
        return domain
    return _target_name(await _expand(state, mechanism.domain_spec, domain))


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
        return mechanism.network.version == state.ip.version and state.ip in mechanism.network
    if name == "include":
        target = await _target(state, domain, mechanism)
        if target is None:
            raise _PermError(f"{mechanism.text} in {domain} does not name a valid domain")
        if target.lower() in state.stack:
            raise _PermError(f"{mechanism.text} in {domain} loops back to {target}")
        outcome = await _evaluate(state, target, via=mechanism.text)
        if outcome.result == "pass":
            return True
        if outcome.result in ("fail", "softfail", "neutral"):
            return False
        if outcome.result == "temperror":
            raise _TempError(outcome.reason)
        if outcome.result == "none":
            raise _PermError(f"{mechanism.text} in {domain} points at {target}, which has no SPF record")
        raise _PermError(outcome.reason)
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
        names, lookup = await _validated_names(state)
        if lookup is not None:
            _count_void(state, domain, mechanism.text, lookup)
        target = target.lower()
        return any(n == target or n.endswith("." + target) for n in names)
    raise _PermError(f"unknown mechanism {mechanism.text}")  # pragma: no cover - the parser refuses these


async def _validated_names(state: _State) -> tuple[list[str], Lookup | None]:
    """RFC 7208 §5.5: the client's PTR names (first 10) whose A/AAAA records lead back to it."""
    reverse = dns.reversename.from_address(str(state.ip)).to_text(omit_final_dot=True)
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


def _same_ip(text: str, ip) -> bool:
    try:
        return ipaddress.ip_address(text) == ip
    except ValueError:
        return False


async def _macro_value(state: _State, macro: Macro, domain: str) -> str:
    letter = macro.letter
    if letter == "s":
        return state.sender
    if letter == "l":
        return state.local_part
    if letter == "o":
        return state.sender_domain
    if letter == "d":
        return domain
    if letter == "i":
        if state.is_ipv4:
            return str(state.ip)
        return ".".join(state.ip.exploded.replace(":", ""))
    if letter == "c":
        return str(state.ip)
    if letter == "v":
        return "in-addr" if state.is_ipv4 else "ip6"
    if letter == "h":
        return state.helo
    if letter == "r":
        return state.receiver
    if letter == "t":
        return str(int(time.time()))
    if letter == "p":
        names, _ = await _validated_names(state)
        lowered = domain.lower()
        for name in names:
            if name == lowered or name.endswith("." + lowered):
                return name
        return names[0] if names else "unknown"
    raise _PermError(f"unknown macro letter {letter}")  # pragma: no cover - the parser refuses these


async def _expand(state: _State, spec: MacroString, domain: str) -> str:
    """Expand a macro-string (RFC 7208 §7.3) for the record of `domain`."""
    parts: list[str] = []
    for token in spec.tokens:
        if isinstance(token, str):
            parts.append(token)
            continue
        value = await _macro_value(state, token, domain)
        if token.delimiters != "." or token.reverse or token.digits is not None:
            pieces = re.split("[" + re.escape(token.delimiters) + "]", value)
            if token.reverse:
                pieces.reverse()
            if token.digits is not None:
                pieces = pieces[-token.digits :]
            value = ".".join(pieces)
        if token.url_escape:
            value = quote(value, safe="")
        parts.append(value)
    return "".join(parts)


async def _explanation(state: _State, spec: MacroString, domain: str) -> str | None:
    """The exp= text for a fail (RFC 7208 §6.2); None whenever anything about it is wrong."""
    try:
        target = _target_name(await _expand(state, spec, domain))
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
        return await _expand(state, explain, domain)
    except (ValueError, _PermError, _TempError):
        return None
