"""SPF records (RFC 7208 §4.6, §5, §6, §12): the parser, the parsed terms, and the TXT form of a record.

`parse_record(text)` turns a `v=spf1 ...` record into mechanisms and modifiers, or raises
`SpfSyntaxError` naming the failing term and where it starts.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from threer.checks.spf.macros import MacroString, parse_macro_string

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")
LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4: mechanisms and modifiers that cause DNS look-ups
VOID_LIMIT = 2  # RFC 7208 §4.6.4: look-ups that return no records
NAME_LIMIT = 10  # RFC 7208 §4.6.4: MX names per mx mechanism, PTR names per ptr mechanism / %{p}
DNS_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})
MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
QUALIFIER_RESULT = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
DEFAULT_TTL = 3600

_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9._-]*)=(.*)", re.S)
_TOPLABEL = r"(?:[A-Za-z0-9]*[A-Za-z][A-Za-z0-9]*|[A-Za-z0-9]+-[A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_END = re.compile(r".*\." + _TOPLABEL + r"\.?", re.S)
_QNUM = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9][0-9]|[0-9])"
_IP4_NETWORK = re.compile(rf"({_QNUM}\.{_QNUM}\.{_QNUM}\.{_QNUM})(?:/(0|[1-9][0-9]?))?")
_IP6_NETWORK = re.compile(r"([0-9A-Fa-f:.]+)(?:/(0|[1-9][0-9]{0,2}))?")
_DUAL_CIDR = re.compile(r"(?:/(0|[1-9][0-9]?))?(?://(0|[1-9][0-9]{0,2}))?")
_DOMAIN_AND_CIDR = re.compile(r"(.*?)((?:/[0-9]+)?(?://[0-9]+)?)", re.S)



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
    def evaluated(self) -> tuple[Mechanism, ...]:
        """The mechanisms receivers can reach: up to and including the first `all`, which always matches
        (RFC 7208 §5.1: mechanisms after it are never tested and MUST be ignored)."""
        first_all = self.all_mechanism
        if first_all is None:
            return self.mechanisms
        return tuple(m for m in self.mechanisms if m.index <= first_all.index)

    @property
    def after_all(self) -> tuple[Mechanism, ...]:
        """The mechanisms written after the first `all`: receivers ignore them (RFC 7208 §5.1)."""
        first_all = self.all_mechanism
        if first_all is None:
            return ()
        return tuple(m for m in self.mechanisms if m.index > first_all.index)

    @property
    def lookup_terms(self) -> int:
        """Terms of this record that cost a DNS look-up (redirect only counts when it can take effect;
        mechanisms after `all` are never evaluated, so they cost nothing)."""
        count = sum(1 for m in self.evaluated if m.causes_lookup)
        if self.redirect is not None and self.all_mechanism is None:
            count += 1
        return count

    def terms_text(self) -> list[str]:
        terms: list[Mechanism | Modifier] = [*self.mechanisms, *self.modifiers]
        ordered = sorted(terms, key=lambda t: t.index)
        return [t.text for t in ordered]


def is_spf_record(text: str) -> bool:
    """RFC 7208 §4.5: the record starts with `v=spf1` (any case) followed by a space or its end."""
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


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
    assert name_match is not None  # a run of zero or more characters matches every string
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
            assert split is not None  # (.*?) with optional prefix lengths matches any text
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
    if address is None or match is None:  # no address without a match
        raise ValueError("'ip6' needs an IPv6 address or network, such as ip6:2001:db8::/32 (prefix 0-128)")
    prefix = int(match.group(2)) if match.group(2) else 128
    if prefix > 128:
        raise ValueError(f"the IPv6 prefix length /{prefix} is larger than 128")
    network6 = ipaddress.IPv6Network(f"{address}/{prefix}", strict=False)
    return Mechanism(qualifier, name, term, index, position, network=network6)


def txt_value(text: str) -> str:
    """A TXT value as a DNS admin pastes it: quoted, split into 255-character strings."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    chunks = [escaped[i : i + 255] for i in range(0, len(escaped), 255)] or [""]
    return " ".join(f'"{chunk}"' for chunk in chunks)


