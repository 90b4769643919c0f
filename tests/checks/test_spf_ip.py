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
