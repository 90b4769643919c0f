"""The `ns` check against real loopback DNS servers; extra servers on 127.0.0.x play the other NS."""

from __future__ import annotations

import asyncio
import time

import pytest

from support_dnsserver import ZONES_DIR, DnsTestServer
from threer.checks import CheckOptions, check_domain
from threer.findings import Finding, Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def run_ns(server: DnsTestServer, domain: str, timeout: float = 3.0) -> list[Finding]:
    options = CheckOptions(profile=None, nameservers=[server.address], timeout=timeout, checks=("ns",))
    return asyncio.run(check_domain(domain, options)).findings


def ids(findings: list[Finding]) -> set[str]:
    return {f.id for f in findings}


def second_server(main: DnsTestServer, host: str, **kwargs) -> DnsTestServer:
    """Another server on the same port at another loopback address (a domain's second NS)."""
    other = DnsTestServer(host=host, **kwargs)
    other.port = main.port
    return other  # started by `with`


def test_ok(server) -> None:
    findings = run_ns(server, "b-ns-ok.example")
    assert ids(findings) == {"ns.ok"}
    assert findings[0].observed == {"ns1.b-ns-ok.example": 2024010101, "ns2.b-ns-ok.example": 2024010101}


def test_each_name_server_is_asked_directly(server) -> None:
    with second_server(server, "127.0.0.3", zone_files=[ZONES_DIR / "b-alt" / "b-ns-split-old.zone"]) as old:
        run_ns(server, "b-ns-split.example")
        assert old.count("b-ns-split.example", "SOA") == 1


def test_not_found(server) -> None:
    findings = run_ns(server, "nothing-here.b-ns-ok.example")
    assert ids(findings) == {"ns.not-found"}
    assert findings[0].severity is Severity.FAIL


def test_not_delegated(server) -> None:
    assert ids(run_ns(server, "sub.b-ns-ok.example")) == {"ns.not-delegated"}


def test_single_server(server) -> None:
    findings = run_ns(server, "b-ns-single.example")
    assert ids(findings) == {"ns.single-server"}
    assert findings[0].severity is Severity.WARN


def test_host_without_address(server) -> None:
    findings = run_ns(server, "b-ns-nohost.example")
    assert ids(findings) == {"ns.host-unresolvable"}
    assert "ghost.b-ns-nohost.example" in findings[0].message


def test_serial_mismatch(server) -> None:
    with second_server(server, "127.0.0.3", zone_files=[ZONES_DIR / "b-alt" / "b-ns-split-old.zone"]):
        findings = run_ns(server, "b-ns-split.example")
    assert ids(findings) == {"ns.serial-mismatch"}
    f = findings[0]
    assert f.observed == {"ns1.b-ns-split.example": 2024020202, "ns2.b-ns-split.example": 2024010101}
    assert f.expected == 2024020202
    assert "ns2.b-ns-split.example" in f.message


def test_lame_delegation(server) -> None:
    with second_server(server, "127.0.0.2", zone_files=[ZONES_DIR / "a-other.zone"]):
        findings = run_ns(server, "b-ns-lame.example")
    assert ids(findings) == {"ns.lame"}
    assert findings[0].severity is Severity.FAIL


def test_dead_name_server_is_an_error_within_the_deadline(server) -> None:
    with second_server(server, "127.0.0.4", zone_files=[], faults={"b-ns-dead.example": "timeout"}):
        started = time.monotonic()
        findings = run_ns(server, "b-ns-dead.example", timeout=1.0)
        elapsed = time.monotonic() - started
    assert ids(findings) == {"ns.server-no-answer"}
    assert findings[0].severity is Severity.ERROR
    assert elapsed < 2.0


def test_servfail_is_an_error_not_a_missing_record() -> None:
    with DnsTestServer(faults={("b-ns-ok.example", "NS"): "servfail"}) as s:
        findings = run_ns(s, "b-ns-ok.example")
    assert ids(findings) == {"ns.lookup-error"}
    assert findings[0].severity is Severity.ERROR
    assert "SERVFAIL" in findings[0].message
