"""The `tls-rpt` check (RFC 8460) against the loopback DNS server, and its parser with hypothesis."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support_dnsserver import DnsTestServer
from threer.checks import CheckOptions, check_domain
from threer.checks.tls_rpt import bad_rua, parse_tlsrpt
from threer.findings import Finding, Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def run(server: DnsTestServer, domain: str) -> list[Finding]:
    options = CheckOptions(nameservers=[server.address], timeout=2.0, checks=("tls-rpt",))
    return asyncio.run(check_domain(domain, options)).findings


@pytest.mark.parametrize(
    "domain, finding_id, severity",
    [
        ("b-tlsrpt-ok.example", "tls-rpt.ok", Severity.OK),
        ("b-mx-ok.example", "tls-rpt.missing", Severity.INFO),
        ("b-tlsrpt-two.example", "tls-rpt.multiple", Severity.FAIL),
        ("b-tlsrpt-norua.example", "tls-rpt.bad-record", Severity.FAIL),
        ("b-tlsrpt-badrua.example", "tls-rpt.bad-rua", Severity.FAIL),
    ],
)
def test_zones(server, domain: str, finding_id: str, severity: Severity) -> None:
    findings = run(server, domain)
    assert [(f.id, f.severity) for f in findings] == [(finding_id, severity)]


def test_missing_offers_the_record(server) -> None:
    fix = run(server, "b-mx-ok.example")[0].fix
    assert '_smtp._tls.b-mx-ok.example. 3600 IN TXT "v=TLSRPTv1; rua=mailto:tls-reports@b-mx-ok.example"' in fix


def test_timeout_is_an_error() -> None:
    with DnsTestServer(faults={"_smtp._tls.b-tlsrpt-ok.example": "timeout"}) as s:
        options = CheckOptions(nameservers=[s.address], timeout=0.5, checks=("tls-rpt",))
        findings = asyncio.run(check_domain("b-tlsrpt-ok.example", options)).findings
    assert [(f.id, f.severity) for f in findings] == [("tls-rpt.lookup-error", Severity.ERROR)]


def test_parser() -> None:
    assert parse_tlsrpt("v=TLSRPTv1; rua=mailto:a@b.example")[1] is None
    assert "start with" in parse_tlsrpt("rua=mailto:a@b.example; v=TLSRPTv1")[1]
    assert bad_rua("mailto:a@b.example, https://r.example/x, ftp://x") == ["ftp://x"]


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=200))
def test_any_record_parses_or_says_why(text: str) -> None:
    tags, problem = parse_tlsrpt(text)
    assert isinstance(tags, dict) and (problem is None or isinstance(problem, str))
    if problem is None:
        assert isinstance(bad_rua(tags["rua"]), list)
