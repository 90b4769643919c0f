"""The `spf-ip` check: check_host() for a given address, with the deciding mechanism and the include chain."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks.context import CheckContext
from threer.checks.spf_ip import FINDING_IDS, check_spf_ip
from threer.findings import Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer(zone_files=["k-smtp.zone"], faults={("_dead.k-smtp.example", "TXT"): "servfail"}) as s:
        yield s


def run(server, domain, ips):
    return asyncio.run(check_spf_ip(CheckContext(domain=domain, resolver=resolver_for(server), ips=tuple(ips))))


def test_pass_through_two_includes_names_the_chain(server) -> None:
    [finding] = run(server, "spfsend.k-smtp.example", ["127.0.11.20"])
    assert (finding.id, finding.severity) == ("spf-ip.pass", Severity.OK)
    assert finding.observed["chain"] == [
        "spfsend.k-smtp.example", "include:_spf.k-smtp.example", "_spf.k-smtp.example",
        "include:_inner.k-smtp.example", "_inner.k-smtp.example", "ip4:127.0.11.20",
    ]
    assert "Decided by spfsend.k-smtp.example → include:_spf.k-smtp.example" in finding.message
    assert finding.fix is None


def test_each_address_gets_its_verdict(server) -> None:
    findings = run(server, "spfsend.k-smtp.example", ["127.0.11.40", "127.0.11.30"])
    assert [(f.id, f.observed["mechanism"]) for f in findings] == [
        ("spf-ip.pass", "spfsend.k-smtp.example: include:_spf.k-smtp.example"),
        ("spf-ip.softfail", "spfsend.k-smtp.example: ~all"),
    ]
    assert findings[0].observed["chain"][-1] == "ip4:127.0.11.40"
    assert "ip4:127.0.11.30" in findings[1].fix


def test_fail_none_and_temperror(server) -> None:
    [fail] = run(server, "_inner.k-smtp.example", ["127.0.11.30"])
    [none] = run(server, "good.k-smtp.example", ["127.0.11.30"])
    [temp] = run(server, "spfdead.k-smtp.example", ["127.0.11.30"])
    assert (fail.id, fail.severity) == ("spf-ip.fail", Severity.FAIL)
    assert (none.id, none.severity) == ("spf-ip.none", Severity.WARN)
    assert (temp.id, temp.severity) == ("spf-ip.temperror", Severity.ERROR)
    assert {fail.id, none.id, temp.id} <= FINDING_IDS


def test_ipv6_address(server) -> None:
    [finding] = run(server, "spfsend.k-smtp.example", ["::1"])
    assert finding.id == "spf-ip.softfail" and finding.observed["ip"] == "::1"


def test_no_ip_no_finding(server) -> None:
    assert run(server, "spfsend.k-smtp.example", []) == []


def test_permerror_fix_names_the_failing_term_and_where_the_address_must_go(server) -> None:
    """Review 3 #1: an ip4: added before the all term comes after the term that fails, so the fix names
    that term and its cause (RFC 7208 §5.2: an include without a record; §4.6.4: the 11th look-up)."""
    [gone] = run(server, "permgone.k-smtp.example", ["127.0.11.50"])
    assert (gone.id, gone.observed["failed_at"]) == ("spf-ip.permerror", "include:_gone.k-smtp.example")
    assert "Receivers stop at include:_gone.k-smtp.example" in gone.fix
    assert "ip4:127.0.11.50 is already in it, but after that term" in gone.fix
    assert "(spf.include-missing): remove include:_gone.k-smtp.example or correct the name" in gone.fix
    assert "put ip4:127.0.11.50 before include:_gone.k-smtp.example" in gone.fix
    assert "Reason: include:_gone" in gone.message
    [limit] = run(server, "permlimit.k-smtp.example", ["127.0.11.61"])
    assert limit.observed["failed_at"] == "include:_inner.k-smtp.example"
    assert "Adding ip4:127.0.11.61 before the all term therefore does not help" in limit.fix
    assert "(spf.lookup-limit): cut it to 10 DNS look-ups or fewer" in limit.fix
    assert "put ip4:127.0.11.61 before include:_inner.k-smtp.example" in limit.fix


def test_the_placement_advised_for_a_permerror_passes_when_evaluated(server) -> None:
    """The advice is checked before it is shown: with the address first the record passes it."""
    from threer.checks.spf import check_host

    record = "v=spf1 ip4:127.0.11.50 include:_gone.k-smtp.example a mx ~all"
    resolver = resolver_for(server)
    placed = asyncio.run(check_host(resolver, "127.0.11.50", "permgone.k-smtp.example", "x@permgone.k-smtp.example",
                                    record=record))
    published = asyncio.run(check_host(resolver, "127.0.11.50", "permgone.k-smtp.example", "x@permgone.k-smtp.example"))
    assert (placed.result, published.result, published.error_kind) == ("pass", "permerror", "no-record")
