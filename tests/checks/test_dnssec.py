"""The `dnssec` check: signed or not, and whether the resolver validated (the AD bit)."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CheckOptions, check_domain
from threer.findings import Finding, Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def run(server: DnsTestServer, domain: str) -> list[Finding]:
    options = CheckOptions(nameservers=[server.address], timeout=2.0, checks=("dnssec",))
    return asyncio.run(check_domain(domain, options)).findings


@pytest.mark.parametrize(
    "domain, finding_id, severity",
    [
        ("b-mx-ok.example", "dnssec.unsigned", Severity.INFO),
        ("b-dnssec-signed.example", "dnssec.not-validated", Severity.INFO),  # no AD bit unless asked to
        ("b-dnssec-nods.example", "dnssec.no-ds", Severity.WARN),
        ("b-dnssec-broken.example", "dnssec.broken", Severity.FAIL),
    ],
)
def test_zones(server, domain: str, finding_id: str, severity: Severity) -> None:
    assert [(f.id, f.severity) for f in run(server, domain)] == [(finding_id, severity)]


def test_not_validated_says_threer_relies_on_the_resolver(server) -> None:
    message = run(server, "b-dnssec-signed.example")[0].message
    assert "AD bit" in message and "does not check signatures itself" in message


def test_servfail_is_an_error() -> None:
    with DnsTestServer(faults={("b-dnssec-signed.example", "DNSKEY"): "servfail"}) as s:
        findings = run(s, "b-dnssec-signed.example")
    assert [(f.id, f.severity) for f in findings] == [("dnssec.lookup-error", Severity.ERROR)]


def test_validated_by_the_resolver() -> None:
    """The server sets the AD bit for the signed zone, as a validating resolver would."""
    with DnsTestServer(authenticated=["b-dnssec-signed.example"]) as validating:
        findings = run(validating, "b-dnssec-signed.example")
    assert [(f.id, f.severity) for f in findings] == [("dnssec.ok", Severity.OK)]
    assert "AD bit" in findings[0].message
    assert findings[0].observed["ad"] is True


def test_ad_bit_on_another_zone_does_not_vouch_for_this_one() -> None:
    with DnsTestServer(authenticated=["b-mx-ok.example"]) as validating:
        findings = run(validating, "b-dnssec-signed.example")
    assert [(f.id, f.severity) for f in findings] == [("dnssec.not-validated", Severity.INFO)]
