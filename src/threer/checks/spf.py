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


# how a record's final all is judged, by qualifier (-all is the aim and gives no finding)
_WEAK_ALL: dict[str, tuple[str, Severity, str]] = {
    "+": ("spf.all-pass", Severity.FAIL,
          "every server on the internet passes SPF for this domain, which is the same as authorising spoofing."),
    "?": ("spf.all-neutral", Severity.WARN,
          "mail from unlisted servers gets neutral, which protects nothing."),
    "~": ("spf.all-softfail", Severity.INFO,
          "softfail, so unlisted servers are suspicious but not refused. Once every sending service is listed, -all tells "
          "receivers to refuse the rest."),
}

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


# --------------------------------------------------------------------------------------------------
# The include tree, walked without a client address: lookup budget, void look-ups, broken includes
# --------------------------------------------------------------------------------------------------

MAX_TREE_NODES = 60  # an absurd include fan-out stops here rather than flooding the resolver


@dataclass
class SpfNode:
    """One SPF record in a domain's include/redirect tree."""

    domain: str
    via: str | None  # the term that led here; None for the domain itself
    record: SpfRecord | None = None
    text: str | None = None  # the raw record (also when it does not parse)
    problem: str | None = None  # none, multiple, syntax, error, loop, invalid, macro, too-many
    detail: str = ""
    syntax_error: SpfSyntaxError | None = None
    voids: list[str] = field(default_factory=list)  # terms whose target has no records
    children: list["SpfNode"] = field(default_factory=list)
    ttl: int | None = None

    @property
    def lookups(self) -> int:
        if self.record is None:
            return 0
        return self.record.lookup_terms

    @property
    def total_lookups(self) -> int:
        return self.lookups + sum(child.total_lookups for child in self.children)

    @property
    def total_voids(self) -> int:
        return len(self.voids) + sum(child.total_voids for child in self.children)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def budget(self) -> dict[str, int]:
        """Look-ups each term of this record costs, includes and redirect with everything under them."""
        costs: dict[str, int] = {}
        if self.record is None:
            return costs
        by_term = {child.via: child.total_lookups for child in self.children}
        for mechanism in self.record.mechanisms:
            if mechanism.causes_lookup:
                costs[mechanism.text] = costs.get(mechanism.text, 0) + 1 + by_term.get(mechanism.text, 0)
        redirect = self.record.redirect
        if redirect is not None and self.record.all_mechanism is None:
            costs[redirect.text] = 1 + by_term.get(redirect.text, 0)
        return costs


class _TreeWalk:
    def __init__(self, resolver: "Resolver") -> None:
        self.resolver = resolver
        self.nodes = 0

    async def node(self, domain: str, via: str | None, ancestors: tuple[str, ...]) -> SpfNode:
        node = SpfNode(domain=domain, via=via)
        self.nodes += 1
        if self.nodes > MAX_TREE_NODES:
            node.problem, node.detail = "too-many", f"not followed: more than {MAX_TREE_NODES} records in the tree"
            return node
        lookup = await self.resolver.query(domain, "TXT")
        node.ttl = lookup.ttl
        if lookup.is_error:
            node.problem, node.detail = "error", lookup.detail or lookup.status.value
            return node
        records = [r for r in lookup.records if is_spf_record(r)] if lookup.exists else []
        if not records:
            node.problem = "none"
            node.detail = "the domain does not exist" if lookup.status is LookupStatus.NXDOMAIN else "no SPF record"
            return node
        if len(records) > 1:
            node.problem, node.detail, node.text = "multiple", f"{len(records)} SPF records", records[0]
            return node
        node.text = records[0]
        try:
            node.record = parse_record(records[0])
        except SpfSyntaxError as exc:
            node.problem, node.detail, node.syntax_error = "syntax", str(exc), exc
            return node
        await asyncio.gather(self._children(node, ancestors + (domain.lower(),)), self._voids(node))
        return node

    async def _children(self, node: SpfNode, ancestors: tuple[str, ...]) -> None:
        record = node.record
        terms: list[tuple[str, MacroString]] = [
            (m.text, m.domain_spec) for m in record.mechanisms if m.name == "include" and m.domain_spec is not None
        ]
        if record.redirect is not None and record.all_mechanism is None:
            terms.append((record.redirect.text, record.redirect.value))
        pending = []
        for term, spec in terms:
            if spec.has_macros:
                node.children.append(SpfNode(domain=spec.raw, via=term, problem="macro", detail="depends on the sender"))
                continue
            target = _target_name(spec.literal)
            if target is None:
                node.children.append(SpfNode(domain=spec.raw, via=term, problem="invalid", detail="not a valid domain name"))
                continue
            if target.lower() in ancestors:
                node.children.append(
                    SpfNode(domain=target, via=term, problem="loop", detail=f"{target} is already being evaluated")
                )
                continue
            pending.append(self.node(target, term, ancestors))
        node.children.extend(await asyncio.gather(*pending))

    async def _voids(self, node: SpfNode) -> None:
        checks = []
        for mechanism in node.record.mechanisms:
            if mechanism.name not in ("a", "mx", "exists"):
                continue
            if mechanism.domain_spec is not None and mechanism.domain_spec.has_macros:
                continue
            target = node.domain if mechanism.domain_spec is None else _target_name(mechanism.domain_spec.literal)
            if target is None:
                continue
            types = {"a": ("A", "AAAA"), "mx": ("MX",), "exists": ("A",)}[mechanism.name]
            checks.append((mechanism.text, [self.resolver.query(target, t) for t in types]))
        results = await asyncio.gather(*(asyncio.gather(*queries) for _, queries in checks))
        for (term, _), lookups in zip(checks, results):
            if all(lk.status in (LookupStatus.NXDOMAIN, LookupStatus.NODATA) for lk in lookups):
                node.voids.append(term)


async def spf_tree(resolver: "Resolver", domain: str) -> SpfNode:
    """Walk a domain's SPF record and everything it includes or redirects to, all levels at once."""
    return await _TreeWalk(resolver).node(domain.lower().rstrip("."), None, ())


# --------------------------------------------------------------------------------------------------
# The check
# --------------------------------------------------------------------------------------------------


def txt_value(text: str) -> str:
    """A TXT value as a DNS admin pastes it: quoted, split into 255-character strings."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [escaped[i : i + 255] for i in range(0, len(escaped), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


def _fix_record(domain: str, record_text: str, ttl: int | None) -> str:
    from threer.checks.context import record_fix

    return record_fix(domain, "TXT", txt_value(record_text), ttl or DEFAULT_TTL)


def _finding(id_: str, severity: Severity, message: str, **kwargs) -> Finding:
    return Finding(id=id_, check=CHECK, severity=severity, message=message, **kwargs)


def _with_terms(record: SpfRecord, add: list[str] | None = None, all_term: str | None = None) -> str:
    """The record rebuilt: extra terms before `all`/redirect, and `all` replaced when asked."""
    add = [t for t in (add or []) if t.lower() not in {x.lower() for x in record.terms_text()}]
    mechanisms = [m.text for m in record.mechanisms if m.name != "all"]
    modifiers = [m.text for m in record.modifiers]
    current_all = record.all_mechanism.text if record.all_mechanism else None
    final_all = all_term or current_all
    terms = ["v=spf1", *mechanisms, *add]
    if final_all:
        terms.append(final_all)
    terms.extend(m for m in modifiers if not (final_all and m.lower().startswith("redirect=")))
    return " ".join(terms)


def _without_terms(record: SpfRecord, drop: list[str]) -> str:
    return " ".join(["v=spf1", *(t for t in record.terms_text() if t not in drop)])


def _effective_all(node: SpfNode) -> tuple[SpfNode, Mechanism | None]:
    """The record whose `all` decides for unlisted senders (following redirect=), and that `all`."""
    current = node
    for _ in range(LOOKUP_LIMIT + 1):
        record = current.record
        if record is None:
            return current, None
        if record.all_mechanism is not None or record.redirect is None:
            return current, record.all_mechanism
        follow = next((c for c in current.children if c.via == record.redirect.text), None)
        if follow is None or follow.record is None:
            return current, None
        current = follow
    return current, None


def _redirect_chain(node: SpfNode) -> list[SpfNode]:
    """The records from `node` along redirect= (as _effective_all follows them), `node` first."""
    chain = [node]
    for _ in range(LOOKUP_LIMIT):
        record = chain[-1].record
        if record is None or record.all_mechanism is not None or record.redirect is None:
            break
        follow = next((c for c in chain[-1].children if c.via == record.redirect.text), None)
        if follow is None or follow.record is None:
            break
        chain.append(follow)
    return chain


def _is_own(name: str, domain: str) -> bool:
    """Whether an SPF record at `name` is the customer's to change: the domain itself or a name under it."""
    name, domain = name.rstrip(".").lower(), domain.rstrip(".").lower()
    return name == domain or name.endswith("." + domain)


def _not_theirs(holder: str, term: str, domain: str, top: str | None) -> str:
    """The fix for a term in someone else's record (a provider's include): theirs to correct, not the customer's."""
    fix = (
        f"{term} is in the SPF record of {holder}, which is not in {domain}: that record is its owner's to correct "
        "(the provider's side), so report it to them; nothing in the customer's DNS fixes it."
    )
    if top:
        fix += f" Remove {top} from the SPF record of {domain} only if that service no longer sends its mail."
    return fix


def _test_addresses(item: str) -> list[str]:
    """The addresses to evaluate for a profile IP or network: its first and last address."""
    network = ipaddress.ip_network(item, strict=False)
    if network.num_addresses == 1:
        return [str(network.network_address)]
    return [str(network.network_address), str(network.broadcast_address)]


async def check_spf(ctx: "CheckContext") -> list[Finding]:
    """Judge the domain's SPF record: presence, syntax, limits, policy, and the profile's senders."""
    domain = ctx.domain
    resolver = ctx.resolver
    profile = ctx.profile
    lookup = await resolver.query(domain, "TXT")
    if lookup.is_error:
        return [
            _finding(
                "spf.lookup-error",
                Severity.ERROR,
                f"Could not look up the TXT records of {domain}, so SPF was not checked: {lookup.detail}.",
                observed={"status": lookup.status.value, "detail": lookup.detail},
            )
        ]
    expected_includes = [profile.expand(p, domain) for p in (getattr(profile, "spf_includes", None) or [])]
    records = [r for r in lookup.records if is_spf_record(r)] if lookup.exists else []
    if not records:
        suggestion = "v=spf1 " + " ".join(f"include:{inc}" for inc in expected_includes) + " -all" if expected_includes else "v=spf1 mx -all"
        where = "does not exist" if lookup.status is LookupStatus.NXDOMAIN else "has no SPF record"
        return [
            _finding(
                "spf.missing",
                Severity.FAIL,
                f"{domain} {where}: receivers cannot tell which servers may send its mail, so spoofing is easy "
                "and DMARC cannot pass on SPF.",
                fix=_fix_record(domain, suggestion, None)
                + ("" if expected_includes else "  (list every service that sends mail for the domain)"),
                observed={"txt_records": list(lookup.records)},
                expected=suggestion,
            )
        ]
    if len(records) > 1:
        return [_multiple(domain, records, lookup.ttl)]

    try:
        root_record = parse_record(records[0])
    except SpfSyntaxError as exc:
        return [
            _finding(
                "spf.syntax",
                Severity.FAIL,
                f"The SPF record of {domain} is invalid at {exc}. Receivers treat the whole record as a "
                "permanent error (permerror).",
                fix=f"Correct or remove the term {_show(exc.term) if exc.term else ''} in the TXT record of {domain}."
                if exc.term
                else f"Publish a record that starts with v=spf1 at {domain}.",
                observed={"record": records[0], "term": exc.term, "term_number": exc.index, "position": exc.position, "reason": exc.reason},
            )
        ]

    sending_ips = list(getattr(profile, "sending_ips", None) or [])
    probes = [(item, address) for item in sending_ips for address in _test_addresses(item)]
    tree, *evaluations = await asyncio.gather(
        spf_tree(resolver, domain),
        *(check_host(resolver, address, domain, f"postmaster@{domain}", domain) for _, address in probes),
    )
    findings: list[Finding] = []
    findings += _tree_findings(domain, tree, records[0], lookup.ttl)
    findings += _policy_findings(domain, tree, root_record, lookup.ttl)
    findings += _profile_findings(domain, tree, root_record, lookup.ttl, expected_includes, probes, evaluations)
    if not any(f.severity in (Severity.FAIL, Severity.ERROR, Severity.WARN) for f in findings):
        findings.insert(
            0,
            _finding(
                "spf.ok",
                Severity.OK,
                f"{domain} has one valid SPF record using {tree.total_lookups} of the {LOOKUP_LIMIT} DNS look-ups allowed.",
                observed={"record": records[0], "lookups": tree.total_lookups, "lookup_budget": tree.budget()},
            ),
        )
    return findings


def _multiple(domain: str, records: list[str], ttl: int | None) -> Finding:
    terms: list[str] = []
    qualifiers: set[str] = set()
    for text in sorted(records):
        for _, term in _split_terms(text)[1:]:
            low = term.lower()
            if low.lstrip("+-~?") == "all":
                qualifiers.add(low[0] if low[0] in QUALIFIER_RESULT else "+")
            elif low not in {t.lower() for t in terms}:
                terms.append(term)
    # keep the strictest all that was published; -all when none was
    all_term = next((q + "all" for q in "-~?+" if q in qualifiers), "-all")
    merged = " ".join(["v=spf1", *terms, all_term])
    return _finding(
        "spf.multiple",
        Severity.FAIL,
        f"{domain} has {len(records)} SPF records; there must be exactly one, or receivers give a permanent "
        "error (permerror) and SPF fails for all its mail.",
        fix=f"Delete all {len(records)} SPF TXT records of {domain} and publish one that merges them: "
        + _fix_record(domain, merged, ttl),
        observed=records,
        expected=merged,
    )


def _tree_findings(domain: str, tree: SpfNode, record_text: str, ttl: int | None) -> list[Finding]:
    findings: list[Finding] = []
    parents = {id(child): parent for parent in tree.walk() for child in parent.children}

    def top_term(node: SpfNode) -> str | None:
        """The term of the domain's own record through which `node` is reached."""
        while parents.get(id(node)) is not None and parents[id(node)] is not tree:
            node = parents[id(node)]
        return node.via

    for node in tree.walk():
        if node is tree or node.problem is None:
            continue
        parent_hint = f"{node.via}"
        holder = parents.get(id(node), tree).domain  # whose record holds the term that led here
        holder_is_own = _is_own(holder, domain)
        if node.problem == "error":
            findings.append(
                _finding(
                    "spf.include-error",
                    Severity.ERROR,
                    f"Could not look up the SPF record of {node.domain} (reached through {parent_hint}): {node.detail}. "
                    "Receivers get a temporary error (temperror) for as long as this lasts; the record itself "
                    "may be fine.",
                    observed={"domain": node.domain, "via": node.via, "detail": node.detail},
                )
            )
        elif node.problem in ("none", "multiple", "invalid"):
            findings.append(
                _finding(
                    "spf.include-missing",
                    Severity.FAIL,
                    f"{parent_hint} points at {node.domain}, which has {'no usable' if node.problem != 'multiple' else 'more than one'} "
                    f"SPF record ({node.detail}); receivers give a permanent error (permerror).",
                    fix=f"Remove {parent_hint} from the SPF record of {holder}, or correct the domain name in it."
                    if holder_is_own
                    else _not_theirs(holder, parent_hint, domain, top_term(node)),
                    observed={"domain": node.domain, "via": node.via, "detail": node.detail},
                )
            )
        elif node.problem == "syntax":
            findings.append(
                _finding(
                    "spf.syntax",
                    Severity.FAIL,
                    f"The SPF record of {node.domain} (reached through {parent_hint}) is invalid at {node.detail}; "
                    "receivers give a permanent error (permerror).",
                    fix=(
                        f"Correct the SPF record of {node.domain} at the term named above."
                        if _is_own(node.domain, domain)
                        else f"The record of {node.domain} is not in {domain}: ask its owner to correct it, or "
                        f"remove {parent_hint} from the SPF record of {holder}."
                        if holder_is_own
                        else _not_theirs(holder, parent_hint, domain, top_term(node))
                    ),
                    observed={"domain": node.domain, "record": node.text, "term": node.syntax_error.term if node.syntax_error else None},
                )
            )
        elif node.problem == "loop":
            findings.append(
                _finding(
                    "spf.include-loop",
                    Severity.FAIL,
                    f"{parent_hint} leads back to {node.domain}, which is already being evaluated: an endless loop "
                    "that receivers stop with a permanent error (permerror).",
                    fix=f"Remove {parent_hint} from the SPF record of {holder}."
                    if holder_is_own
                    else _not_theirs(holder, parent_hint, domain, top_term(node)),
                    observed={"domain": node.domain, "via": node.via},
                )
            )
    total = tree.total_lookups
    budget = tree.budget()
    partial = any(n.problem in ("error", "too-many", "macro") for n in tree.walk())
    if total > LOOKUP_LIMIT or total >= LOOKUP_LIMIT - 1:
        biggest = sorted(budget.items(), key=lambda kv: -kv[1])[:3]
        listing = ", ".join(f"{term} ({count})" for term, count in biggest)
        over = total > LOOKUP_LIMIT
        findings.append(
            _finding(
                "spf.lookup-limit",
                Severity.FAIL if over else Severity.WARN,
                (
                    f"The SPF record of {domain} needs {'at least ' if partial else ''}{total} DNS look-ups; RFC 7208 allows "
                    f"{LOOKUP_LIMIT}, and receivers give a permanent error (permerror) past that. Biggest: {listing}."
                    if over
                    else f"The SPF record of {domain} needs {total} of the {LOOKUP_LIMIT} DNS look-ups allowed; one "
                    f"more include will break it. Biggest: {listing}."
                ),
                fix=(
                    "Remove includes and mechanisms for services that no longer send mail for the domain, replace "
                    "a/mx with ip4:/ip6: where the addresses are stable, and keep the total at 10 or fewer."
                ),
                observed={"lookups": total, "lookup_budget": budget, "partial": partial},
                expected=f"at most {LOOKUP_LIMIT}",
            )
        )
    voids = [f"{n.domain}: {term}" for n in tree.walk() for term in n.voids]
    if len(voids) > VOID_LIMIT:
        own_voids = [f"{n.domain}: {term}" for n in tree.walk() if _is_own(n.domain, domain) for term in n.voids]
        others = [v for v in voids if v not in own_voids]
        void_fix = ("Remove the terms that point at names that no longer exist: " + ", ".join(own_voids) + ".") if own_voids else ""
        if others:
            void_fix += (
                f" {', '.join(others)} {'is' if len(others) == 1 else 'are'} in records outside {domain}: "
                "their owners' to correct (the provider's side), so report them."
            )
        findings.append(
            _finding(
                "spf.void-limit",
                Severity.FAIL,
                f"{len(voids)} terms in the SPF tree of {domain} point at names with no records; RFC 7208 allows "
                f"{VOID_LIMIT} such void look-ups before receivers give a permanent error (permerror).",
                fix=void_fix.strip(),
                observed=voids,
                expected=f"at most {VOID_LIMIT}",
            )
        )
    return findings


def _policy_findings(domain: str, tree: SpfNode, record: SpfRecord, ttl: int | None) -> list[Finding]:
    findings: list[Finding] = []
    owner, all_mechanism = _effective_all(tree)
    owner_domain = owner.domain
    owner_record = owner.record or record
    strict = _with_terms(owner_record, all_term="-all")
    policy_fix = _fix_record(owner_domain, strict, ttl)
    if not _is_own(owner_domain, domain):
        # the deciding all is in a record reached by redirect= that the customer cannot change: the fix
        # is in their own last record of the chain: include the other record and end in -all themselves
        chain = _redirect_chain(tree)
        last_own = max((i for i, n in enumerate(chain) if _is_own(n.domain, domain)), default=0)
        mine, theirs = chain[last_own], chain[min(last_own + 1, len(chain) - 1)]
        policy_fix = (
            f"The all that decides is in the SPF record of {owner_domain}, reached through redirect=; that record "
            "is not the customer's to change. End the customer's own record in -all instead: "
            + _fix_record(mine.domain, _with_terms(mine.record, add=[f"include:{theirs.domain}"], all_term="-all"), ttl)
        )
        if all_mechanism is not None and all_mechanism.qualifier == "+":
            policy_fix = (
                f"The {all_mechanism.text} is in the SPF record of {owner_domain}, reached through redirect=; that "
                "record is not the customer's to change: report it to its owner, and stop using it: replace the "
                f"redirect in the SPF record of {mine.domain} with the ip4:/ip6:/include: terms of the services that "
                "really send the mail, ending in -all."
            )
    if all_mechanism is None:
        if owner.record is not None and owner.record.redirect is None:
            findings.append(
                _finding(
                    "spf.all-missing",
                    Severity.WARN,
                    f"The SPF record of {owner_domain} does not end in an all mechanism, so mail from servers it does not "
                    "list gets neutral: receivers treat it as if there were no SPF.",
                    fix=policy_fix,
                    observed=owner.text,
                    expected="-all",
                )
            )
    elif all_mechanism.qualifier in _WEAK_ALL:
        finding_id, severity, says = _WEAK_ALL[all_mechanism.qualifier]
        findings.append(
            _finding(
                finding_id,
                severity,
                f"The SPF record of {owner_domain} ends in {all_mechanism.text}: {says}",
                fix=policy_fix,
                observed=all_mechanism.text,
                expected="-all",
            )
        )
    if record.redirect is not None and record.all_mechanism is not None:
        findings.append(
            _finding(
                "spf.redirect-ignored",
                Severity.INFO,
                f"The SPF record of {domain} has both {record.all_mechanism.text} and {record.redirect.text}; the redirect "
                "is never used because all always matches first.",
                fix=_fix_record(domain, _without_terms(record, [record.redirect.text]), ttl),
                observed=record.text,
            )
        )
    own = [n for n in ([tree] if owner is tree else [tree, owner]) if n.record is not None]
    for node in own:
        ptr_terms = [m.text for m in node.record.mechanisms if m.name == "ptr"]
        if ptr_terms:
            findings.append(
                _finding(
                    "spf.ptr",
                    Severity.WARN,
                    f"The SPF record of {node.domain} uses {', '.join(ptr_terms)}: RFC 7208 §5.5 says not to, because it is "
                    "slow, unreliable, and some receivers skip it.",
                    fix="Replace ptr with ip4:/ip6: ranges or a: for the sending hosts: "
                    + _fix_record(node.domain, _without_terms(node.record, ptr_terms), ttl)
                    if _is_own(node.domain, domain)
                    else f"{', '.join(ptr_terms)} is in the SPF record of {node.domain}, reached through redirect=; that "
                    "record is not the customer's to change: report it to its owner (the provider's side).",
                    observed=ptr_terms,
                )
            )
    return findings


def _profile_findings(
    domain: str,
    tree: SpfNode,
    record: SpfRecord,
    ttl: int | None,
    expected_includes: list[str],
    probes: list[tuple[str, str]],
    evaluations: list[SpfResult],
) -> list[Finding]:
    findings: list[Finding] = []
    # an include anywhere in the tree will do, and so will a redirect= to the provider's record
    included = {n.domain.lower() for n in tree.walk() if n is not tree and n.problem != "macro"}
    missing = [inc for inc in expected_includes if inc.lower() not in included]
    if missing:
        fixed = _with_terms(record, add=[f"include:{inc}" for inc in missing])
        findings.append(
            _finding(
                "spf.profile-include-missing",
                Severity.FAIL,
                f"The SPF record of {domain} does not include {', '.join(missing)}, which the provider's mail servers "
                "need to pass SPF.",
                fix=_fix_record(domain, fixed, ttl),
                observed=record.text,
                expected=[f"include:{inc}" for inc in missing],
            )
        )
    failing: dict[str, dict] = {}
    errors: dict[str, dict] = {}
    for (item, address), result in zip(probes, evaluations):
        if result.result == "pass":
            continue
        entry = {"address": address, "result": result.result, "reason": result.reason}
        if result.result == "temperror":
            errors.setdefault(item, entry)
        else:
            failing.setdefault(item, entry)
    if errors:
        findings.append(
            _finding(
                "spf.profile-ip-error",
                Severity.ERROR,
                f"Could not finish evaluating SPF for the provider's sending addresses ({', '.join(errors)}): a look-up "
                "timed out or failed, so receivers would get a temporary error (temperror) right now.",
                observed=errors,
            )
        )
    if failing:
        add = [f"include:{inc}" for inc in expected_includes] or [
            ("ip6:" if ":" in item else "ip4:") + item for item in failing
        ]
        findings.append(
            _finding(
                "spf.profile-ip-fails",
                Severity.FAIL,
                f"Mail from the provider's servers ({', '.join(failing)}) does not pass SPF for {domain}: "
                + "; ".join(
                    f"{item} gets {v['result']}" + (f" ({v['reason']})" if v["result"] == "permerror" else "")
                    for item, v in failing.items()
                )
                + ".",
                fix=_fix_record(domain, _with_terms(record, add=add), ttl),
                observed=failing,
                expected="pass",
            )
        )
    return findings
