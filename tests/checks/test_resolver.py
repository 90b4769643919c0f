"""The resolver against a real loopback DNS server: answers, negative answers, failures, TCP, once-only."""

from __future__ import annotations

import asyncio
from collections import Counter
import socket
import time

import pytest

from support_dnsserver import resolver_for
from threer.checks.resolver import Lookup, LookupStatus, Resolver, parse_nameserver
from threer.errors import BadInput

ZONES = ["a-resolver.zone", "a-other.zone"]


def run(coro):
    return asyncio.run(coro)


async def ask(server, name, rdtype, **kwargs) -> Lookup:
    return await resolver_for(server, **kwargs).query(name, rdtype)


def test_answer_a_record(make_dns_server):
    server = make_dns_server(ZONES)
    lookup = run(ask(server, "Resolver.Example.", "A"))
    assert lookup.status is LookupStatus.ANSWER
    assert lookup.exists and not lookup.is_error
    assert lookup.name == "resolver.example"
    assert lookup.records == ("127.0.0.1",)
    assert lookup.ttl == 300
    assert lookup.cname_chain == ()


def test_txt_strings_are_joined_and_decoded(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return await asyncio.gather(
            resolver.query("resolver.example", "TXT"),
            resolver.query("multi.resolver.example", "TXT"),
            resolver.query("utf8.resolver.example", "TXT"),
        )

    joined, multi, utf8 = run(main())
    assert joined.records == ("hello world",)
    assert sorted(multi.records) == ["first record", "second record"]
    assert utf8.records == ("café",)


def test_mx_rdata_is_kept(make_dns_server):
    server = make_dns_server(ZONES)
    lookup = run(ask(server, "resolver.example", "MX"))
    assert lookup.records == ("10 mail.resolver.example.",)
    assert lookup.rdata[0].preference == 10
    assert lookup.rdata[0].exchange.to_text() == "mail.resolver.example."


def test_nxdomain_is_an_answer_not_an_error(make_dns_server):
    server = make_dns_server(ZONES)
    lookup = run(ask(server, "missing.resolver.example", "TXT"))
    assert lookup.status is LookupStatus.NXDOMAIN
    assert not lookup.is_error and not lookup.exists
    assert lookup.ttl == 120  # the SOA minimum


def test_nodata_and_empty_non_terminal(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return await asyncio.gather(
            resolver.query("mail.resolver.example", "TXT"), resolver.query("b.deep.resolver.example", "A")
        )

    nodata, ent = run(main())
    assert nodata.status is LookupStatus.NODATA and not nodata.is_error
    assert ent.status is LookupStatus.NODATA


def test_timeout_comes_within_the_per_query_timeout(make_dns_server):
    server = make_dns_server(ZONES, faults={"dead.resolver.example": "timeout"})
    started = time.monotonic()
    lookup = run(ask(server, "dead.resolver.example", "A", timeout=0.3))
    elapsed = time.monotonic() - started
    assert lookup.status is LookupStatus.TIMEOUT and lookup.is_error
    assert "within 0.3 s" in lookup.detail
    assert elapsed < 3  # ten times the timeout: room for a busy machine, far from a hang
    assert len(server.arrivals) == 1  # given up before the first resend (0.4 s) was due


def test_dead_names_all_time_out_within_one_deadline(make_dns_server):
    faults = {f"n{i}.dead.example": "timeout" for i in range(30)}
    server = make_dns_server(ZONES, faults=faults)

    async def main():
        resolver = resolver_for(server, timeout=5.0, deadline=0.5)
        first = await asyncio.gather(*(resolver.query(f"n{i}.dead.example", "TXT") for i in range(30)))
        late = await resolver.query("resolver.example", "A")  # after the deadline: no query at all
        return resolver, first, late

    started = time.monotonic()
    resolver, first, late = run(main())
    elapsed = time.monotonic() - started
    assert elapsed < 4  # the 0.5 s deadline cut them short, well before the 5 s per-query timeout
    assert all(lookup.status is LookupStatus.TIMEOUT for lookup in first)
    # each asked once, resent at most once (at 0.4 s): the next copy (1.2 s) is past the deadline
    copies = Counter(name for _, name, *_ in server.arrivals)
    assert len(copies) == 30 and max(copies.values()) <= 2

    assert "overall deadline" in first[0].detail
    assert late.status is LookupStatus.TIMEOUT
    assert server.count("resolver.example") == 0
    assert resolver.partial


@pytest.mark.parametrize(
    ("fault", "status"),
    [("servfail", LookupStatus.SERVFAIL), ("refused", LookupStatus.REFUSED), ("malformed", LookupStatus.MALFORMED)],
)
def test_server_failures_are_errors(make_dns_server, fault, status):
    server = make_dns_server(ZONES, faults={("fail.resolver.example", "A"): fault})
    lookup = run(ask(server, "fail.resolver.example", "A"))
    assert lookup.status is status
    assert lookup.is_error
    assert lookup.detail


def test_fault_only_hits_its_type(make_dns_server):
    server = make_dns_server(ZONES, faults={("resolver.example", "TXT"): "servfail"})
    assert run(ask(server, "resolver.example", "A")).exists


def test_truncated_answer_is_retried_over_tcp(make_dns_server):
    server = make_dns_server(ZONES, faults={"trunc.resolver.example": "truncate"})

    async def main():
        resolver = resolver_for(server)
        return resolver, await resolver.query("trunc.resolver.example", "TXT")

    resolver, lookup = run(main())
    assert lookup.records == ("needs tcp",)
    assert server.count("trunc.resolver.example", "TXT", "udp") == 1
    assert server.count("trunc.resolver.example", "TXT", "tcp") == 1
    assert resolver.stats["tcp_retries"] == 1


def test_cname_chain_comes_from_one_answer(make_dns_server):
    server = make_dns_server(ZONES)
    lookup = run(ask(server, "alias.resolver.example", "A"))
    assert lookup.records == ("127.0.0.2",)
    assert lookup.cname_chain == ("middle.resolver.example", "mail.resolver.example")
    # the chain was in the answer: no separate questions for the CNAME targets
    assert [entry[0] for entry in server.query_log] == ["alias.resolver.example"]


def test_cname_across_zones_and_dangling(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return await asyncio.gather(
            resolver.query("outside.resolver.example", "A"), resolver.query("dangling.resolver.example", "A")
        )

    outside, dangling = run(main())
    assert outside.records == ("127.0.0.9",) and outside.cname_chain == ("target.other-zone.example",)
    assert dangling.status is LookupStatus.NXDOMAIN
    assert dangling.cname_chain == ("nowhere.resolver.example",)


def test_each_question_is_asked_once_and_concurrent_callers_share(make_dns_server):
    server = make_dns_server(ZONES, delay=0.05)

    async def main():
        resolver = resolver_for(server)
        first = await asyncio.gather(*(resolver.query("resolver.example", "MX") for _ in range(20)))
        again = await resolver.query("RESOLVER.example.", "mx")
        return resolver, first, again

    resolver, first, again = run(main())
    assert server.count("resolver.example", "MX") == 1
    assert all(lookup == first[0] for lookup in first) and again == first[0]
    assert resolver.stats["queries"] == 1
    assert resolver.stats["cache_hits"] == 20


def test_delays_run_concurrently(make_dns_server):
    server = make_dns_server(ZONES, delay=0.2)

    async def main():
        resolver = resolver_for(server)
        names = ["resolver.example", "mail.resolver.example", "multi.resolver.example", "key.resolver.example"]
        return await asyncio.gather(*(resolver.query(n, t) for n in names for t in ("A", "TXT")))

    run(main())
    assert server.max_waiting == 8  # the server held all 8 questions at once: none waited for another


def test_huge_txt_comes_over_tcp(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return resolver, await resolver.query("huge.resolver.example", "TXT")

    resolver, lookup = run(main())
    assert lookup.exists
    assert len(lookup.records[0]) == 8000
    assert resolver.stats["tcp_retries"] == 1


def test_dkim_sized_key_needs_no_tcp(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return resolver, await resolver.query("key.resolver.example", "TXT")

    resolver, lookup = run(main())
    assert lookup.exists and resolver.stats["tcp_retries"] == 0
    assert server.count("key.resolver.example", transport="tcp") == 0


def test_unreachable_port_is_a_network_error_at_once():
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()

    async def main():
        return await Resolver([("127.0.0.1", port)], timeout=30).query("resolver.example", "A")

    started = time.monotonic()
    lookup = run(main())
    assert lookup.status is LookupStatus.NETWORK
    assert lookup.is_error and f"could not reach 127.0.0.1:{port}" in lookup.detail
    assert time.monotonic() - started < 15  # the ICMP refusal, not the 30 s timeout


def test_second_nameserver_is_tried_after_a_failure(make_dns_server):
    broken = make_dns_server(ZONES, faults={"resolver.example": "servfail"})
    good = make_dns_server(ZONES)

    async def main():
        return await Resolver([broken.address, good.address], timeout=1).query("resolver.example", "A")

    assert run(main()).exists


def test_names_that_cannot_be_asked_are_malformed_not_raised(make_dns_server):
    server = make_dns_server(ZONES)

    async def main():
        resolver = resolver_for(server)
        return await asyncio.gather(
            resolver.query("a" * 64 + ".example", "TXT"), resolver.query("x..example", "TXT")
        )

    for lookup in run(main()):
        assert lookup.status is LookupStatus.MALFORMED
    assert server.query_log == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1", ("127.0.0.1", 53)),
        (" 127.0.0.1:5353 ", ("127.0.0.1", 5353)),
        ("::1", ("::1", 53)),
        ("[::1]:53", ("::1", 53)),
        ("[::1]", ("::1", 53)),
        ("2001:4860:4860::8888", ("2001:4860:4860::8888", 53)),
    ],
)
def test_parse_nameserver(text, expected):
    assert parse_nameserver(text) == expected


@pytest.mark.parametrize("text", ["", "dns.google", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x", "[::1", "[::1]x", "1.2.3"])
def test_parse_nameserver_rejects_with_a_sentence(text):
    with pytest.raises(BadInput) as caught:
        parse_nameserver(text)
    assert caught.value.message.endswith(".")


# -- a lost UDP packet is sent again within the timeout ---------------------------------------------


def test_lost_packet_is_resent_and_answered_well_before_the_timeout(make_dns_server):
    server = make_dns_server(ZONES, faults={"resolver.example": "drop:1"})

    async def main():
        resolver = resolver_for(server, timeout=3.0)
        return resolver, await resolver.query("resolver.example", "A")

    resolver, lookup = run(main())
    assert lookup.records == ("127.0.0.1",)  # answered: the resend came before the 3 s timeout
    first, copy = [t for t, name, _, _, _ in server.arrivals if name == "resolver.example"]
    assert copy - first > 0.2  # the copy went out after the first wait (0.4 s), not at once
    assert resolver.stats["udp_resends"] == 1
    assert resolver.stats["queries"] == 1  # one question ...
    assert server.count("resolver.example", "A") == 1  # ... asked once; the copy is logged apart
    assert server.resend_log == [("resolver.example", "A", "udp")]


def test_resends_grow_and_stop_at_the_timeout(make_dns_server):
    server = make_dns_server(ZONES, faults={("resolver.example", "TXT"): "drop:2", "dead.resolver.example": "drop:99"})

    async def main():
        resolver = resolver_for(server, timeout=1.5)
        return resolver, await asyncio.gather(
            resolver.query("resolver.example", "TXT"), resolver.query("dead.resolver.example", "A")
        )

    resolver, (twice_lost, dead) = run(main())
    assert twice_lost.records == ("hello world",)  # sent at 0, 0.4 and 1.2 s
    assert dead.status is LookupStatus.TIMEOUT and "within 1.5 s" in dead.detail
    # the copies as the server saw them: the wait doubles (0.4 s, then 0.8 s) ...
    sent = [t for t, name, _, _, _ in server.arrivals if name == "dead.resolver.example"]
    assert len(sent) == 3
    first_wait, second_wait = sent[1] - sent[0], sent[2] - sent[1]
    assert first_wait > 0.2 and second_wait > first_wait
    # ... and stops at the timeout: the next copy (at 2.8 s) is never sent, though the run ends later
    assert server.count("dead.resolver.example", "A") == 1
    assert server.resend_log.count(("dead.resolver.example", "A", "udp")) == 2
    assert resolver.stats["udp_resends"] == 4


def test_slow_answer_the_first_copy_wins(make_dns_server):
    server = make_dns_server(ZONES, faults={"slow.resolver.example": "delay:0.6"})

    async def main():
        resolver = resolver_for(server, timeout=3.0)
        return resolver, await resolver.query("slow.resolver.example", "A")

    resolver, lookup = run(main())
    assert lookup.records == ("127.0.0.7",)  # the late answer to the first copy is as good as any
    assert resolver.stats["udp_resends"] >= 1 and len(server.resend_log) == resolver.stats["udp_resends"]


def test_resend_interval_follows_a_slow_server(make_dns_server):
    server = make_dns_server(ZONES, delay=0.2)

    async def main():
        resolver = resolver_for(server, timeout=3.0)
        assert resolver.resend_interval(server.address) == pytest.approx(0.4)
        await resolver.query("resolver.example", "A")
        await resolver.query("resolver.example", "TXT")  # a second sample, should the first be resent
        return resolver

    resolver = run(main())
    # three round trips of at least 0.2 s: a slow server is not sent copies of what it is working on
    assert resolver.resend_interval(server.address) >= 0.6


def test_make_resolver_lists_each_server_once(make_dns_server):
    from threer.checks import CheckOptions, make_resolver

    one = make_dns_server(ZONES)
    two = make_dns_server(ZONES)
    single = make_resolver(CheckOptions(nameservers=[one.address], timeout=3))
    pair = make_resolver(CheckOptions(nameservers=[one.address, two.address], timeout=3))
    assert single.nameservers == [one.address] and single.timeout == 3
    assert pair.nameservers == [one.address, two.address] and pair.timeout == 1.5
    assert pair.deadline_seconds == 3


def test_lost_packets_in_a_whole_domain_run_cost_no_errors(make_dns_server):
    """Every question of b-good.example loses its first packet: all are resent, none is an error."""
    from threer.checks import CheckOptions, check_domain

    clean = make_dns_server()
    reference = run(check_domain("b-good.example", CheckOptions(nameservers=[clean.address], timeout=3, dns_only=True)))
    names = {name for name, _, _ in clean.query_log}
    lossy = make_dns_server(faults={name: "drop:1" for name in names})
    report = run(check_domain("b-good.example", CheckOptions(nameservers=[lossy.address], timeout=3, dns_only=True)))
    # the same findings as without loss: no lost packet cost the 3 s deadline (that would be an error)
    assert not any(f.severity.value == "error" for f in report.findings)
    assert sorted((f.id, f.severity) for f in report.findings) == sorted((f.id, f.severity) for f in reference.findings)
    assert len(lossy.resend_log) >= len(names)


# -- the domains of one run share answers, never failures -------------------------------------------


def test_two_resolvers_of_a_run_ask_a_shared_question_once(make_dns_server):
    from threer.checks.resolver import SharedAnswers

    server = make_dns_server(ZONES, delay=0.1)

    async def main():
        shared = SharedAnswers([server.address])
        first, second = (Resolver([server.address], timeout=2, deadline=2, shared=shared) for _ in range(2))
        together = await asyncio.gather(first.query("resolver.example", "MX"), second.query("resolver.example", "MX"))
        later = await second.query("multi.resolver.example", "TXT"), await first.query("multi.resolver.example", "TXT")
        return first, second, together, later

    first, second, together, later = run(main())
    assert together[0] == together[1] and together[0].records == ("10 mail.resolver.example.",)
    assert later[0] == later[1]
    assert server.count("resolver.example", "MX") == 1 and server.count("multi.resolver.example", "TXT") == 1
    assert first.stats["queries"] + second.stats["queries"] == 2
    assert first.stats["shared_hits"] + second.stats["shared_hits"] == 2


def test_a_failure_is_not_shared(make_dns_server):
    """One domain's deadline passes while the answer is slow: the other domain still gets the answer."""
    from threer.checks.resolver import SharedAnswers

    server = make_dns_server(ZONES, faults={"slow.resolver.example": "delay:0.5", ("resolver.example", "TXT"): "servfail"})

    async def main():
        shared = SharedAnswers([server.address])
        hurried = Resolver([server.address], timeout=0.2, deadline=0.2, shared=shared)
        patient = Resolver([server.address], timeout=3, deadline=3, shared=shared)
        slow = await asyncio.gather(hurried.query("slow.resolver.example", "A"), patient.query("slow.resolver.example", "A"))
        other = Resolver([server.address], timeout=3, deadline=3, shared=shared)
        failed = [await other.query("resolver.example", "TXT"), await patient.query("resolver.example", "TXT")]
        return slow, failed

    (cut_short, answered), failed = run(main())
    assert cut_short.status is LookupStatus.TIMEOUT and answered.records == ("127.0.0.7",)
    assert [lookup.status for lookup in failed] == [LookupStatus.SERVFAIL, LookupStatus.SERVFAIL]
    assert server.count("resolver.example", "TXT") == 2  # each asked for itself


def test_answers_from_other_servers_are_not_shared(make_dns_server):
    from threer.checks.resolver import SharedAnswers

    one, two = make_dns_server(ZONES), make_dns_server(ZONES)

    async def main():
        shared = SharedAnswers([one.address])
        await Resolver([one.address], shared=shared).query("resolver.example", "A")
        return await Resolver([two.address], shared=shared).query("resolver.example", "A")

    assert run(main()).exists
    assert one.count("resolver.example") == 1 and two.count("resolver.example") == 1


def test_a_run_keeps_at_most_max_in_flight_queries_waiting(make_dns_server):
    from threer.checks.resolver import MAX_IN_FLIGHT, SharedAnswers

    server = make_dns_server(ZONES, delay=0.3)
    count = MAX_IN_FLIGHT + MAX_IN_FLIGHT // 2

    async def main():
        shared = SharedAnswers([server.address])
        # known to answer in about 0.3 s: no resends while a busy machine slows the waves down
        shared.srtt[server.address] = 0.3
        resolvers = [Resolver([server.address], timeout=5, deadline=5, shared=shared) for _ in range(5)]
        lookups = await asyncio.gather(
            *(resolvers[i % 5].query(f"n{i}.missing.resolver.example", "A") for i in range(count))
        )
        return resolvers, lookups

    resolvers, lookups = run(main())
    assert all(lookup.status is LookupStatus.NXDOMAIN for lookup in lookups)
    # what the server saw: never more than MAX_IN_FLIGHT questions at once (two waves, not one) ...
    assert MAX_IN_FLIGHT // 2 < server.max_waiting <= MAX_IN_FLIGHT
    assert len(server.query_log) == count  # ... and every question asked
    assert sum(r.stats["udp_resends"] for r in resolvers) == 0 and server.resend_log == []


def test_many_domains_ask_the_provider_once(tmp_path, make_dns_server):
    """check_domains: three customers of one provider; its SPF include and name servers asked once."""
    from threer.checks import CheckOptions, run_domains

    provider = tmp_path / "provider.zone"
    provider.write_text(
        "$ORIGIN provider.example.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\n"
        "ns1 IN A 127.0.0.1\n_spf IN TXT \"v=spf1 ip4:127.0.0.0/8 -all\"\nmx IN A 127.0.0.1\n",
        encoding="utf-8",
    )
    zones = [provider]
    for name in ("one", "two", "three"):
        zone = tmp_path / f"{name}.zone"
        zone.write_text(
            f"$ORIGIN {name}.example.\n$TTL 300\n@ IN SOA ns1.provider.example. hostmaster 1 3600 600 86400 60\n"
            "@ IN NS ns1.provider.example.\n@ IN MX 10 mx.provider.example.\n"
            "@ IN TXT \"v=spf1 include:_spf.provider.example -all\"\n",
            encoding="utf-8",
        )
        zones.append(zone)
    server = make_dns_server(zones, delay=0.05)
    options = CheckOptions(profile=None, nameservers=[server.address], timeout=5, dns_only=True)
    outcomes = run_domains(["one.example", "two.example", "three.example"], options)
    spf = [sorted((f.id, f.severity) for f in o.report.findings if f.check == "spf") for o in outcomes]
    assert spf[0] == spf[1] == spf[2] and not any(o.report.summary.error for o in outcomes)
    for question in [("_spf.provider.example", "TXT"), ("mx.provider.example", "A"), ("ns1.provider.example", "A")]:
        assert server.count(*question) == 1, question
