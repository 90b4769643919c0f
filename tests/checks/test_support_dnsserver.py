"""The loopback test DNS server itself: records given in code, existence index, AD bit, lost packets."""

from __future__ import annotations

import asyncio

import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode

from support_dnsserver import DnsTestServer, ZoneData


def ask(server: DnsTestServer, name: str, rdtype: str, *, ad: bool = True, timeout: float = 2.0) -> dns.message.Message:
    query = dns.message.make_query(name, rdtype, use_edns=0)
    if ad:
        query.flags |= dns.flags.AD
    return dns.query.udp(query, server.host, port=server.port, timeout=timeout)


def test_records_given_in_code_keep_absolute_names() -> None:
    records = [
        ("code.example.", "SOA", "ns1.code.example. hostmaster.code.example. 1 3600 600 86400 60"),
        ("code.example.", "MX", "10 mail.code.example."),
        ("code.example.", "MX", "20 backup.code.example"),  # no final dot: still this host, not relative
        ("code.example.", "NS", "ns1.code.example."),
        ("www.code.example.", "CNAME", "web.other.example."),
        ("web.other.example.", "A", "127.0.0.8"),
    ]
    with DnsTestServer(zone_files=[], records=records) as server:
        mx = ask(server, "code.example", "MX").answer[0]
        ns = ask(server, "code.example", "NS").answer[0]
        www = ask(server, "www.code.example", "A")
    assert sorted(rd.to_text() for rd in mx) == ["10 mail.code.example.", "20 backup.code.example."]
    assert [rd.to_text() for rd in ns] == ["ns1.code.example."]
    assert [(rrset.name.to_text(), rrset[0].to_text()) for rrset in www.answer] == [
        ("www.code.example.", "web.other.example."),
        ("web.other.example.", "127.0.0.8"),
    ]


def test_existence_index_nxdomain_nodata_and_empty_non_terminals() -> None:
    data = ZoneData()
    data.add_record("a.b.deep.example.", "A", "127.0.0.1")
    assert data.name_exists(dns.name.from_text("a.b.deep.example."))
    assert data.name_exists(dns.name.from_text("b.deep.example."))  # empty non-terminal
    assert not data.name_exists(dns.name.from_text("c.deep.example."))
    data.replace("a.b.deep.example.", "A", [])  # no records left: the name and its empty parents go
    assert not data.name_exists(dns.name.from_text("b.deep.example."))
    data.add_record("x.b.deep.example.", "TXT", '"back"')
    assert data.name_exists(dns.name.from_text("b.deep.example."))


def test_negative_answers_do_not_scan_every_name() -> None:
    """5000 names: answering NXDOMAIN must not look at each of them (the benchmark serves 200 zones)."""
    records = [(f"h{i}.big.example.", "A", "127.0.0.1") for i in range(5000)]
    records.append(("big.example.", "SOA", "ns.big.example. h.big.example. 1 3600 600 86400 60"))
    with DnsTestServer(zone_files=[], records=records) as server:
        scans = _count_scans(server.data)
        for i in range(300):
            assert ask(server, f"missing{i}.h{i}.big.example", "TXT").rcode() == dns.rcode.NXDOMAIN
        nodata = ask(server, "big.example", "TXT")
    # no answer walked the names one by one (a structural check: timing a test on a shared machine is noise)
    assert scans() == 0
    assert nodata.rcode() == dns.rcode.NOERROR and nodata.authority[0].name.to_text() == "big.example."


def _count_scans(data) -> "callable":
    """Make `data.nodes` count the times it is iterated over (keys, items, values, for-loops)."""

    class CountingDict(dict):
        scans = 0

        def __iter__(self):
            CountingDict.scans += 1
            return super().__iter__()

        def items(self):
            CountingDict.scans += 1
            return super().items()

        def keys(self):
            CountingDict.scans += 1
            return super().keys()

        def values(self):
            CountingDict.scans += 1
            return super().values()

    data.nodes = CountingDict(data.nodes)
    return lambda: CountingDict.scans


def test_ad_bit_for_authenticated_zones_only_when_asked() -> None:
    with DnsTestServer(zone_files=["b-dnssec-signed.zone", "b-plain.zone"], authenticated=["b-dnssec-signed.example"]) as server:
        signed = ask(server, "b-dnssec-signed.example", "DNSKEY")
        below = ask(server, "nothing-here.b-dnssec-signed.example", "A")  # a validated NXDOMAIN
        not_asked = ask(server, "b-dnssec-signed.example", "DNSKEY", ad=False)
        plain = ask(server, "b-plain.example", "MX")
        server.set_authenticated("b-dnssec-signed.example", False)
        withdrawn = ask(server, "b-dnssec-signed.example", "DNSKEY")
    assert signed.flags & dns.flags.AD and below.flags & dns.flags.AD
    assert not not_asked.flags & dns.flags.AD  # RFC 6840 §5.7: only for a query with AD or DO
    assert not plain.flags & dns.flags.AD and not withdrawn.flags & dns.flags.AD


def test_drop_fault_loses_the_first_packets_and_resends_are_logged_apart() -> None:
    with DnsTestServer(zone_files=["b-plain.zone"], faults={"b-plain.example": "drop:2"}) as server:
        query = dns.message.make_query("b-plain.example", "MX")
        wire = query.to_wire()

        async def exchange() -> dns.message.Message:
            loop = asyncio.get_running_loop()
            answers: asyncio.Queue = asyncio.Queue()

            class Client(asyncio.DatagramProtocol):
                def datagram_received(self, data, addr) -> None:
                    answers.put_nowait(data)

            transport, _ = await loop.create_datagram_endpoint(Client, remote_addr=server.address)
            try:
                for _ in range(3):  # the same packet three times from the same socket
                    transport.sendto(wire)
                    try:
                        return dns.message.from_wire(await asyncio.wait_for(answers.get(), 0.3))
                    except TimeoutError:
                        continue
                raise AssertionError("no answer to the third copy")
            finally:
                transport.close()

        response = asyncio.run(exchange())
    assert query.is_response(response) and response.answer
    assert server.count("b-plain.example", "MX") == 1
    assert server.resend_log == [("b-plain.example", "MX", "udp")] * 2
