"""threer.checks.dnswire reads the plain answers without dnspython: for every record in the test zones
(and names and types that are not there), its reading gives the same Lookup as dnspython's, with
records that show and read as dnspython's rdata do, and what it does not read it leaves to dnspython."""

from __future__ import annotations

import asyncio
import dataclasses
import socket

import dns.flags
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import pytest

from support_dnsserver import DnsTestServer, all_zone_files, load_zone
from threer.checks import dnswire
from threer.checks.resolver import _MAX_CNAME_HOPS, EDNS_PAYLOAD, Resolver

TYPES = ("A", "AAAA", "MX", "TXT", "NS", "SOA", "TLSA", "PTR", "SRV", "CAA", "DS", "DNSKEY")


def _questions() -> list[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for path in all_zone_files():
        zone = load_zone(path)
        for name, node in zone.nodes.items():
            owner = name.derelativize(zone.origin).to_text(omit_final_dot=True).lower()
            if "*" in owner:
                owner = owner.replace("*", "any-label")
            for rdataset in node.rdatasets:
                found.add((owner, dns.rdatatype.to_text(rdataset.rdtype)))
            found.add((owner, "TXT"))  # NODATA for most, and CNAME chains for aliases
            found.add((owner, "A"))
        found.add(("no-such-name." + zone.origin.to_text(omit_final_dot=True).lower(), "A"))
    return sorted(q for q in found if q[1] in TYPES)


def _ask(server: DnsTestServer, query: dnswire.Query) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.connect(server.address)
        udp.send(query.wire)
        return udp.recv(65535)


def test_the_plain_reading_gives_the_same_lookups_as_dnspython() -> None:
    questions = _questions()
    assert len(questions) > 300
    read_here = 0
    with DnsTestServer() as server:
        resolver = Resolver([server.address], timeout=2)
        for name, rdtype in questions:
            qtype = dns.rdatatype.from_text(rdtype)
            query = dnswire.plain_query(name, qtype, payload=EDNS_PAYLOAD, want_dnssec=False)
            if query is None:
                continue
            wire = _ask(server, query)
            fast = dnswire.read_answer(query, wire, _MAX_CNAME_HOPS)
            try:
                message = dns.message.from_wire(wire, raise_on_truncation=True)
            except Exception:  # noqa: BLE001 - dnspython cannot read it: neither may the plain reading
                assert fast is None, (name, rdtype)
                continue
            assert dns.message.from_wire(query.wire).is_response(message)
            if fast is None:
                continue
            read_here += 1
            expected = asyncio.run(resolver._classify(name, rdtype, qtype, message, server.address))
            got = asyncio.run(resolver._classify(name, rdtype, qtype, fast, server.address))
            assert dataclasses.replace(got, rdata=()) == dataclasses.replace(expected, rdata=()), (name, rdtype)
            assert_same_records(got.rdata, expected.rdata)
    assert read_here > 0.8 * len(questions)  # the plain reading is the common one


# what the checks read of a record (dnspython's attribute names)
ATTRIBUTES = ("address", "preference", "exchange", "target", "priority", "weight", "port", "strings", "mname",
              "rname", "serial", "refresh", "retry", "expire", "minimum")


def assert_same_records(mine: tuple, dnspythons: tuple) -> None:
    assert len(mine) == len(dnspythons)
    for record, reference in zip(mine, dnspythons):
        assert record.rdtype == reference.rdtype
        assert record.to_text() == reference.to_text()
        for attribute in ATTRIBUTES:
            if hasattr(reference, attribute):
                value, expected = getattr(record, attribute), getattr(reference, attribute)
                if isinstance(expected, dns.name.Name):
                    assert str(value) == str(expected)
                    assert value.to_text(omit_final_dot=True) == expected.to_text(omit_final_dot=True)
                else:
                    assert value == expected, attribute


def test_the_query_is_what_dnspython_would_send() -> None:
    query = dnswire.plain_query("_dmarc.example.com", 16, payload=1232, want_dnssec=True)
    assert query is not None
    message = dns.message.from_wire(query.wire)
    reference = dns.message.make_query("_dmarc.example.com", "TXT", use_edns=0, payload=1232, want_dnssec=True)
    reference.flags |= dns.flags.AD
    reference.id = message.id
    assert message == reference and message.flags == reference.flags and message.ednsflags == reference.ednsflags
    assert query.wire == reference.to_wire()


@pytest.mark.parametrize("name", ["", "a..b", "with space.example", "x" * 64 + ".example", "Upper.example", "a\\.b.example"])
def test_names_that_are_not_plain_are_left_to_dnspython(name: str) -> None:
    assert dnswire.plain_query(name, 1, payload=1232, want_dnssec=False) is None


def test_odd_answers_are_left_to_dnspython() -> None:
    query = dnswire.plain_query("odd.example", 1, payload=1232, want_dnssec=False)
    assert query is not None
    asked = dns.message.from_wire(query.wire)

    def answer(*records: tuple[str, str], rcode: int = 0, flags: int = 0) -> bytes:
        response = dns.message.make_response(asked)
        for rdtype, value in records:
            response.answer.append(dns.rrset.from_text("odd.example.", 300, "IN", rdtype, value))
        response.set_rcode(rcode)
        response.flags |= flags
        return response.to_wire()

    plain = answer(("A", "127.0.0.1"))
    assert dnswire.read_answer(query, plain, 16) is not None
    assert dnswire.read_answer(query, answer(("A", "127.0.0.1"), rcode=2), 16) is None  # SERVFAIL
    assert dnswire.read_answer(query, answer(flags=dns.flags.TC), 16) is None  # truncated
    assert dnswire.read_answer(query, answer(("TXT", "hello")), 16) is None  # another type
    assert dnswire.read_answer(query, answer(), 16) is None  # empty, no SOA
    assert dnswire.read_answer(query, plain + b"\x00", 16) is None  # trailing bytes
    assert dnswire.read_answer(query, plain[:-3], 16) is None  # cut short
    assert dnswire.read_answer(query, b"\x00" * 5, 16) is None
    other = bytes([query.wire[0] ^ 1]) + plain[1:]
    assert dnswire.read_answer(query, other, 16) is None  # another message id
    # a compression pointer to itself is never followed
    looped = bytearray(plain)
    looped[12:14] = b"\xc0\x0c"
    assert dnswire.read_answer(query, bytes(looped), 16) is None


def test_a_negative_answer_lasts_the_smaller_of_the_soa_ttl_and_its_minimum() -> None:
    query = dnswire.plain_query("odd.example", 16, payload=1232, want_dnssec=False)
    assert query is not None
    response = dns.message.make_response(dns.message.from_wire(query.wire))
    response.authority.append(dns.rrset.from_text("example.", 3600, "IN", "SOA", "ns. host. 1 3600 600 86400 300"))
    nodata = dnswire.read_answer(query, response.to_wire(), 16)
    assert nodata is not None and nodata.negative and not nodata.nxdomain and nodata.ttl == 300
    response.set_rcode(3)
    nxdomain = dnswire.read_answer(query, response.to_wire(), 16)
    assert nxdomain is not None and nxdomain.nxdomain and nxdomain.ttl == 300


def _read_one(rdtype: str, value: str, owner: str = "odd.example") -> tuple[tuple, tuple] | None:
    """(the records dnswire reads, dnspython's) of an answer holding one record, or None when dnswire leaves it."""
    qtype = dns.rdatatype.from_text(rdtype)
    query = dnswire.plain_query(owner, qtype, payload=1232, want_dnssec=False)
    assert query is not None
    response = dns.message.make_response(dns.message.from_wire(query.wire))
    response.answer.append(dns.rrset.from_text(owner + ".", 300, "IN", rdtype, value))
    wire = response.to_wire()
    read = dnswire.read_answer(query, wire, 16)
    if read is None:
        return None
    return read.records, tuple(dns.message.from_wire(wire).answer[0])


@pytest.mark.parametrize("rdtype, value", [
    ("MX", "0 ."), ("MX", "10 Mail.Example.COM."), ("TXT", '"a \\"quoted\\" \\\\ string" "\\200\\001 two"'),
    ("TXT", '""'), ("SOA", "ns1.example. hostmaster.example. 2026120101 3600 600 86400 300"),
    ("SRV", "0 5 443 autodiscover.example."), ("PTR", "mail.example."), ("NS", "ns.example."), ("A", "127.0.0.9"),
])
def test_each_record_type_read_here_reads_as_dnspython_does(rdtype: str, value: str) -> None:
    read = _read_one(rdtype, value)
    assert read is not None
    assert_same_records(*read)


@pytest.mark.parametrize("rdtype, value", [("AAAA", "::1"), ("AAAA", "::ffff:127.0.0.1"), ("MX", "10 *.example."),
                                           ("CNAME", "a\\.b.example."), ("TLSA", "3 1 1 " + "ab" * 32)])
def test_records_dnspython_writes_its_own_way_are_left_to_it(rdtype: str, value: str) -> None:
    read = _read_one(rdtype, value)
    if read is not None:  # TLSA: read by dnspython's rdata inside a plain answer
        mine, reference = read
        assert type(mine[0]) is type(reference[0])
        assert mine[0] == reference[0]
