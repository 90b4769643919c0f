"""The `rdns` check: PTR present and forward-confirmed, for MX host addresses and --ip addresses."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer, ZONES_DIR, resolver_for
from threer.checks.context import CheckContext
from threer.checks.rdns import FINDING_IDS, check_rdns, reverse_name
from threer.findings import Severity

ZONES = ["k-smtp.zone", ZONES_DIR / "k-extra" / "reverse.zone"]


@pytest.fixture(scope="module")
def server():
    with DnsTestServer(zone_files=ZONES) as s:
        yield s


def run(server, domain: str, ips=()):
    return asyncio.run(check_rdns(CheckContext(domain=domain, resolver=resolver_for(server), ips=tuple(ips))))


def ids(findings):
    return [(f.id, f.severity) for f in findings]


def test_reverse_names() -> None:
    assert reverse_name("127.0.11.1") == "1.11.0.127.in-addr.arpa"
    assert reverse_name("::1").endswith(".ip6.arpa") and reverse_name("::1").startswith("1.0.0.0")


def test_mx_address_forward_confirmed(server) -> None:
    findings = run(server, "good.k-smtp.example")
    assert ids(findings) == [("rdns.ok", Severity.OK)]
    assert findings[0].observed == {"address": "127.0.11.1", "ptr": ["mx.good.k-smtp.example"],
                                    "forward_confirmed": "mx.good.k-smtp.example", "ttl": 300}


def test_mx_address_whose_ptr_name_points_elsewhere_is_info(server) -> None:
    findings = run(server, "plain.k-smtp.example")
    assert ids(findings) == [("rdns.not-confirmed", Severity.INFO)]
    assert "does not resolve back to 127.0.11.2" in findings[0].message


def test_mx_address_without_ptr_is_info(server) -> None:
    assert ids(run(server, "wrongname.k-smtp.example")) == [("rdns.missing", Severity.INFO)]


def test_sending_addresses_fail_without_a_confirmed_ptr(server) -> None:
    findings = run(server, "nomail.k-smtp.example", ips=["127.0.11.20", "127.0.11.21", "127.0.11.22"])
    assert ids(findings) == [("rdns.ok", Severity.OK), ("rdns.not-confirmed", Severity.FAIL), ("rdns.missing", Severity.FAIL)]
    assert findings[0].message.startswith("Sending address 127.0.11.20 has the PTR name out.k-smtp.example")
    assert "Gmail" in findings[1].message


def test_failed_ptr_lookup_is_an_error() -> None:
    with DnsTestServer(zone_files=ZONES, faults={("1.11.0.127.in-addr.arpa", "PTR"): "timeout"}) as s:
        findings = asyncio.run(check_rdns(CheckContext(domain="good.k-smtp.example", resolver=resolver_for(s, timeout=0.5, deadline=1.0))))
    assert ids(findings) == [("rdns.lookup-error", Severity.ERROR)]
    assert {f.id for f in findings} <= FINDING_IDS
