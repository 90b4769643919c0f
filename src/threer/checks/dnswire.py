"""The resolver's common DNS messages, written and read without dnspython's message machinery.

A `--from` run asks tens of thousands of plain questions, and reading each answer into a
`dns.message.Message` (every section parsed, every name an object, every record set hashed) was the
largest single cost of a run. This module writes a plain query's wire form directly and reads the
answers that make up nearly all traffic: one question, NOERROR or NXDOMAIN, records of the asked
type (perhaps behind a chain of CNAMEs inside the answer), or no records with the zone's SOA. The
records of the common types (A, AAAA, MX, TXT, NS, CNAME, PTR, SOA, SRV) are read here too, into small
records with the attributes and the presentation form (`to_text()`) of dnspython's rdata objects, so
a run whose answers are all plain never imports dnspython; records of other types (TLSA, DS, ...) are
made by dnspython from their wire form, as before.

Anything else (a truncated answer, another rcode, DNSSEC records in the answer, a name with
characters that need escaping, a compression pointer that points forward, a CNAME that loops, a record
whose length does not fit its type, an IPv6 address with an IPv4 address inside, ...) is not read here:
`read_answer` returns None and the resolver reads the message with dnspython as before, so unusual
answers get exactly the old treatment. tests/checks/test_dnswire.py checks that both readings give the
same result, and the same records, for every record in the test zones.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import struct
from dataclasses import dataclass
from typing import Any, ClassVar

_PLAIN_NAME = re.compile(r"(?:[a-z0-9_-]{1,63}\.)*[a-z0-9_-]{1,63}")
_PLAIN_LABEL = re.compile(rb"[A-Za-z0-9_-]{1,63}")
_HEADER = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QUESTION = struct.Struct("!HH")

FLAG_QR, FLAG_TC, FLAG_RD, FLAG_AD = 0x8000, 0x0200, 0x0100, 0x0020
_OPCODE_MASK = 0x7800
_RCODE_MASK = 0x000F
_NOERROR, _NXDOMAIN = 0, 3
_IN = 1
_SOA, _CNAME, _OPT = 6, 5, 41
_DO = 0x8000


@dataclass(frozen=True)
class Query:
    """A query's wire form and what its answer must echo."""

    wire: bytes
    labels: tuple[bytes, ...]  # the question name, lower-case
    rdtype: int


@dataclass(frozen=True)
class Answer:
    """What the resolver needs from an answer read here (see Resolver._classify for the meaning)."""

    negative: bool  # no records of the type: NXDOMAIN or NODATA, per `nxdomain`
    nxdomain: bool
    records: tuple[Any, ...]  # records of the asked type (see below), in the order the server sent them
    ttl: int | None  # the records' TTL (the smallest); for a negative answer min(SOA TTL, SOA minimum)
    cname_chain: tuple[str, ...]
    authenticated: bool


def plain_query(name: str, rdtype: int, *, payload: int, want_dnssec: bool) -> Query | None:
    """A query (RD and AD set, EDNS0 with `payload`) for `name` (lower-case, no trailing dot), or None
    when the name is not plain letters, digits, '-' and '_' (dnspython writes those)."""
    if len(name) > 253 or _PLAIN_NAME.fullmatch(name) is None:
        return None
    labels = tuple(label.encode("ascii") for label in name.split("."))
    qname = b"".join(bytes((len(label),)) + label for label in labels) + b"\x00"
    header = _HEADER.pack(secrets.randbits(16), FLAG_RD | FLAG_AD, 1, 0, 0, 1)
    opt = b"\x00" + _RR.pack(_OPT, payload, _DO if want_dnssec else 0, 0)
    return Query(header + qname + _QUESTION.pack(rdtype, _IN) + opt, labels, rdtype)


class Truncated(Exception):
    """The answer came back truncated (TC): the resolver asks again over TCP."""


class _Unusual(Exception):
    """The message is not one of the plain shapes read here."""


def _name(wire: bytes, at: int, *, keep_case: bool = False) -> tuple[tuple[bytes, ...], int]:
    """The name at `at` as lower-case labels (or as sent), and where the record goes on after it."""
    labels: list[bytes] = []
    resume = -1
    size = len(wire)
    total = 1
    while True:
        if at >= size:
            raise _Unusual
        length = wire[at]
        if length == 0:
            at += 1
            break
        if length & 0xC0 == 0xC0:
            if at + 1 >= size:
                raise _Unusual
            target = ((length & 0x3F) << 8) | wire[at + 1]
            if target >= at:
                raise _Unusual  # only pointers back to earlier names: no loops
            if resume < 0:
                resume = at + 2
            at = target
            continue
        total += 1 + length
        if length > 63 or total > 255:
            raise _Unusual
        label = wire[at + 1 : at + 1 + length]
        if _PLAIN_LABEL.fullmatch(label) is None:
            raise _Unusual  # short, or a character dnspython would escape in the name's text
        labels.append(label if keep_case else label.lower())
        at += 1 + length
    return tuple(labels), (resume if resume >= 0 else at)


# -- records ---------------------------------------------------------------------------------------
# Each has dnspython's attribute names and presentation form (the checks read `exchange`, `target`,
# `serial` ...; the resolver shows `to_text()`), and `rdtype`, the type's number.


@dataclass(frozen=True, slots=True)
class Name:
    """A domain name inside a record, its labels as sent (case kept)."""

    labels: tuple[bytes, ...]  # without the root label

    def to_text(self, omit_final_dot: bool = False) -> str:
        if not self.labels:
            return "."
        text = b".".join(self.labels).decode("ascii")
        return text if omit_final_dot else text + "."

    def __str__(self) -> str:
        return self.to_text()


@dataclass(frozen=True, slots=True)
class A:
    rdtype: ClassVar[int] = 1
    address: str

    def to_text(self) -> str:
        return self.address


@dataclass(frozen=True, slots=True)
class AAAA:
    rdtype: ClassVar[int] = 28
    address: str

    def to_text(self) -> str:
        return self.address


@dataclass(frozen=True, slots=True)
class MX:
    rdtype: ClassVar[int] = 15
    preference: int
    exchange: Name

    def to_text(self) -> str:
        return f"{self.preference} {self.exchange}"


@dataclass(frozen=True, slots=True)
class NS:
    rdtype: ClassVar[int] = 2
    target: Name

    def to_text(self) -> str:
        return str(self.target)


@dataclass(frozen=True, slots=True)
class CNAME:
    rdtype: ClassVar[int] = 5
    target: Name

    def to_text(self) -> str:
        return str(self.target)


@dataclass(frozen=True, slots=True)
class PTR:
    rdtype: ClassVar[int] = 12
    target: Name

    def to_text(self) -> str:
        return str(self.target)


@dataclass(frozen=True, slots=True)
class SRV:
    rdtype: ClassVar[int] = 33
    priority: int
    weight: int
    port: int
    target: Name

    def to_text(self) -> str:
        return f"{self.priority} {self.weight} {self.port} {self.target}"


@dataclass(frozen=True, slots=True)
class SOA:
    rdtype: ClassVar[int] = 6
    mname: Name
    rname: Name
    serial: int
    refresh: int
    retry: int
    expire: int
    minimum: int

    def to_text(self) -> str:
        return f"{self.mname} {self.rname} {self.serial} {self.refresh} {self.retry} {self.expire} {self.minimum}"


@dataclass(frozen=True, slots=True)
class TXT:
    rdtype: ClassVar[int] = 16
    strings: tuple[bytes, ...]

    def to_text(self) -> str:
        return " ".join(f'"{_quoted(s)}"' for s in self.strings)


def _quoted(string: bytes) -> str:
    """A character-string as a zone file writes it between quotes: `"` and `\\` escaped, other bytes
    outside printable ASCII as \\DDD."""
    out = []
    for byte in string:
        if byte in (0x22, 0x5C):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return "".join(out)


_UINT16 = struct.Struct("!H")
_SRV = struct.Struct("!HHH")
_SOA_TIMES = struct.Struct("!IIIII")


def _rdata_name(wire: bytes, at: int, end: int) -> tuple[Name, int]:
    labels, after = _name(wire, at, keep_case=True)
    if after > end:
        raise _Unusual
    return Name(labels), after


def _rdata(wire: bytes, rdtype: int, at: int, length: int) -> Any:
    """One record's data: read here for the common types, by dnspython for any other. Raises _Unusual
    when the data does not fit its type exactly (dnspython's reading then reports it as before)."""
    end = at + length
    if rdtype == 1:
        if length != 4:
            raise _Unusual
        return A(".".join(str(b) for b in wire[at:end]))
    if rdtype == 28:
        if length != 16 or wire[at : at + 10] == bytes(10):
            raise _Unusual  # an IPv4 address inside (::ffff:a.b.c.d): dnspython writes those its own way
        # any other is written as dnspython writes it (RFC 5952: lower case, the first longest run of
        # zeros as ::), checked for 300,000 random addresses when this was written
        return AAAA(str(ipaddress.IPv6Address(wire[at:end])))
    if rdtype == 16:
        strings = []
        while at < end:
            size = wire[at]
            if at + 1 + size > end:
                raise _Unusual
            strings.append(wire[at + 1 : at + 1 + size])
            at += 1 + size
        if not strings:
            raise _Unusual  # no character-string at all: dnspython refuses the message
        return TXT(tuple(strings))
    if rdtype in (2, 5, 12):
        target, after = _rdata_name(wire, at, end)
        if after != end:
            raise _Unusual
        return NS(target) if rdtype == 2 else CNAME(target) if rdtype == 5 else PTR(target)
    if rdtype == 15:
        if length < 3:
            raise _Unusual
        (preference,) = _UINT16.unpack_from(wire, at)
        exchange, after = _rdata_name(wire, at + 2, end)
        if after != end:
            raise _Unusual
        return MX(preference, exchange)
    if rdtype == 33:
        if length < 7:
            raise _Unusual
        priority, weight, port = _SRV.unpack_from(wire, at)
        target, after = _rdata_name(wire, at + 6, end)
        if after != end:
            raise _Unusual
        return SRV(priority, weight, port, target)
    if rdtype == 6:
        mname, after = _rdata_name(wire, at, end)
        rname, after = _rdata_name(wire, after, end)
        if after + 20 != end:
            raise _Unusual
        return SOA(mname, rname, *_SOA_TIMES.unpack_from(wire, after))
    return _dnspython_rdata(wire, rdtype, at, length)


def _dnspython_rdata(wire: bytes, rdtype: int, at: int, length: int) -> Any:
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype
    import dns.wire

    parser = dns.wire.Parser(wire, at)
    with parser.restrict_to(length):
        return dns.rdata.from_wire_parser(dns.rdataclass.IN, dns.rdatatype.RdataType.make(rdtype), parser, None)


def _text(labels: tuple[bytes, ...]) -> str:
    return b".".join(labels).decode("ascii")


def read_answer(query: Query, wire: bytes, max_cname_hops: int) -> Answer | None:
    """The answer to `query` in `wire`, or None when it is not one of the plain shapes (the caller
    then reads it with dnspython). Raises nothing for any bytes."""
    try:
        return _read(query, wire, max_cname_hops)
    except (_Unusual, struct.error, IndexError):
        return None
    except Exception:  # noqa: BLE001 - dnspython refusing a record: its own reading reports it
        return None


def _read(query: Query, wire: bytes, max_cname_hops: int) -> Answer | None:
    ident, flags, qdcount, ancount, nscount, arcount = _HEADER.unpack_from(wire)
    if wire[:2] != query.wire[:2] or not flags & FLAG_QR or flags & (_OPCODE_MASK | FLAG_TC) or qdcount != 1:
        return None
    rcode = flags & _RCODE_MASK
    if rcode not in (_NOERROR, _NXDOMAIN):
        return None
    labels, at = _name(wire, 12)
    qtype, qclass = _QUESTION.unpack_from(wire, at)
    at += 4
    if labels != query.labels or qtype != query.rdtype or qclass != _IN or qtype == _CNAME:
        return None
    answer: list[tuple[tuple[bytes, ...], int, int, int, int]] = []  # owner, type, ttl, rdata at, length
    soa: list[tuple[int, int]] = []  # ttl, minimum
    edns = False
    for section, count in ((0, ancount), (1, nscount), (2, arcount)):
        for _ in range(count):
            owner, at = _name(wire, at)
            rdtype, rdclass, ttl, length = _RR.unpack_from(wire, at)
            at += 10
            if at + length > len(wire):
                return None
            if section == 2 and rdtype == _OPT:
                if edns or owner or ttl & 0xFF000000 or length:
                    return None  # a second OPT, an extended rcode, options: dnspython's reading
                edns = True
            elif rdclass != _IN:
                return None
            elif section == 0:
                answer.append((owner, rdtype, ttl, at, length))
            else:
                # read as dnspython would, so a broken record there makes the answer unreadable as before
                record = _rdata(wire, rdtype, at, length)
                if section == 1 and rdtype == _SOA:
                    soa.append((ttl, int(record.minimum)))
            at += length
    if at != len(wire):
        return None
    # follow the CNAME chain inside the answer, as Resolver._classify does
    current = query.labels
    chain: list[str] = []
    found: list[tuple[int, int, int]] = []
    for _ in range(max_cname_hops + 1):
        found = [(ttl, a, n) for owner, t, ttl, a, n in answer if owner == current and t == qtype]
        if found:
            break
        cnames = [(a, n) for owner, t, _, a, n in answer if owner == current and t == _CNAME]
        if not cnames:
            break
        if len(cnames) > 1:
            return None
        target, end = _name(wire, cnames[0][0])
        if end != cnames[0][0] + cnames[0][1]:
            return None
        text = _text(target)
        if text in chain or target == query.labels:
            return None  # a loop: dnspython's reading says so
        chain.append(text)
        current = target
    else:
        return None
    used = {(owner, t) for owner, t, *_ in answer}
    if any(t not in (qtype, _CNAME) for _, t in used):
        return None  # records of other types (DNSSEC signatures, a DNAME, a wrong type): the full reading
    authenticated = bool(flags & FLAG_AD)
    if found:
        records: list[Any] = []
        seen: set[bytes] = set()
        for _, a, n in found:
            raw = wire[a : a + n]
            if raw in seen:
                return None  # dnspython merges a repeated record: leave that to it
            seen.add(raw)
            records.append(_rdata(wire, qtype, a, n))
        return Answer(False, False, tuple(records), min(ttl for ttl, _, _ in found), tuple(chain), authenticated)
    if any(owner == current and t != _CNAME for owner, t, *_ in answer):
        return None
    if len(soa) != 1:
        return None  # no SOA (an empty answer, or a CNAME whose target must be asked), or several
    ttl, minimum = soa[0]
    return Answer(True, rcode == _NXDOMAIN, (), min(ttl, minimum), tuple(chain), authenticated)
