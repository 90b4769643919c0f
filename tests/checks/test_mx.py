"""The `mx` check against the loopback DNS server: one zone per finding."""

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


def run_mx(server: DnsTestServer, domain: str, profile: str | None = None) -> list[Finding]:
    options = CheckOptions(profile=profile, nameservers=[server.address], timeout=3.0, checks=("mx",))
    return asyncio.run(check_domain(domain, options)).findings


def only(findings: list[Finding], finding_id: str) -> Finding:
    matching = [f for f in findings if f.id == finding_id]
    assert len(matching) == 1, [f.id for f in findings]
    return matching[0]


def test_ok_without_profile(server) -> None:
    findings = run_mx(server, "b-mx-ok.example")
    assert [f.id for f in findings] == ["mx.ok"]
    assert findings[0].observed == ["10 mail.b-mx-ok.example"]


def test_ok_with_m365(server) -> None:
    assert [f.id for f in run_mx(server, "b-good.example", "m365")] == ["mx.ok"]


def test_missing(server) -> None:
    f = only(run_mx(server, "b-mx-none.example", "m365"), "mx.missing")
    assert f.severity is Severity.FAIL
    # the MX token comes from the admin centre (domains with a hyphen get another one): said, not guessed
    assert f.fix == (
        "Add the MX record the Microsoft 365 admin centre (Settings > Domains > the domain > DNS records) shows for "
        "b-mx-none.example; it has the form b-mx-none.example. 3600 IN MX 0 <token>.mail.protection.outlook.com. "
        "(copy the <...> part from there)."
    )
    assert [c.line for c in f.changes] == ["b-mx-none.example. 3600 IN MX 0 <token>.mail.protection.outlook.com."]


def test_null_mx_is_recognised(server) -> None:
    f = only(run_mx(server, "b-mx-null.example"), "mx.null-mx")
    assert f.severity is Severity.INFO and "RFC 7505" in f.message


def test_null_mx_fails_when_the_profile_expects_mail(server) -> None:
    assert only(run_mx(server, "b-mx-null.example", "google"), "mx.null-mx").severity is Severity.FAIL


def test_null_mx_mixed(server) -> None:
    assert only(run_mx(server, "b-mx-nullmixed.example"), "mx.null-mx-mixed").severity is Severity.FAIL


def test_mx_to_cname_uses_the_answer_chain_not_another_query(server) -> None:
    f = only(run_mx(server, "b-mx-cname.example"), "mx.cname")
    assert f.observed == {"host": "mail.b-mx-cname.example", "cname_chain": ["real.b-mx-cname.example"]}
    assert "10 real.b-mx-cname.example." in f.fix
    assert server.count("mail.b-mx-cname.example", "CNAME") == 0
    # the record to remove and the one to add carry the zone's TTL, the same in the prose and the records
    assert [(c.action, c.line) for c in f.changes] == [
        ("remove", "b-mx-cname.example. 300 IN MX 10 mail.b-mx-cname.example."),
        ("add", "b-mx-cname.example. 300 IN MX 10 real.b-mx-cname.example.")]
    assert all(c.line in (f.fix or "") for c in f.changes)


def test_an_mx_whose_cname_leads_to_another_mx_host_is_deleted_not_replaced(server) -> None:
    """Review 3 #14: replacing it would give two MX records for one host; deleting it is the fix."""
    from rich.console import Console

    from threer.cli.check_dns import print_fix

    f = only(run_mx(server, "b-mx-cnamedup.example"), "mx.cname")
    assert [(c.action, c.line) for c in f.changes] == [
        ("remove", "b-mx-cnamedup.example. 600 IN MX 20 mx-alias.b-mx-cnamedup.example.")]
    assert (f.fix or "").startswith("Delete the MX record that names mx-alias.b-mx-cnamedup.example (the MX 10 "
                                    "mail.b-mx-cnamedup.example already delivers to the same server): ")
    console = Console(width=80, record=True, color_system=None)
    print_fix(console, f, "  ", 80)
    shown = console.export_text().splitlines()
    # the record to remove is shown as one, never indented as a record to paste
    assert "    ; remove: b-mx-cnamedup.example. 600 IN MX 20 mx-alias.b-mx-cnamedup.example." in shown
    assert not [line for line in shown if line.strip().startswith("b-mx-cnamedup.example. ")]


def test_ip_literal(server) -> None:
    findings = run_mx(server, "b-mx-ip.example")
    assert only(findings, "mx.ip-literal").observed == "10 127.0.0.5"
    assert server.count("127.0.0.5", "A") == 0  # never looked up as if it were a host


def test_a_host_that_does_not_exist_is_said_with_a_profile_too(server) -> None:
    """The profile finding replaces the MX; that its host does not exist at all is not lost (review 2 #4)."""
    findings = run_mx(server, "b-mx-unresolvable.example", "m365")
    gone = only(findings, "mx.host-unresolvable")
    assert gone.severity is Severity.FAIL and "the name does not exist" in gone.message
    assert not gone.changes and "mx.profile-mismatch" in (gone.fix or "")
    mismatch = only(findings, "mx.profile-mismatch")
    assert [c.line for c in mismatch.changes if c.action == "remove"] == [
        "b-mx-unresolvable.example. 300 IN MX 10 nohost.b-mx-unresolvable.example."]


def test_host_unresolvable(server) -> None:
    f = only(run_mx(server, "b-mx-unresolvable.example"), "mx.host-unresolvable")
    assert "nohost.b-mx-unresolvable.example" in f.message


def test_profile_mismatch_gives_the_record_to_paste(server) -> None:
    f = only(run_mx(server, "b-mx-ok.example", "m365"), "mx.profile-mismatch")
    assert f.severity is Severity.FAIL
    assert "b-mx-ok.example. 3600 IN MX 0 <token>.mail.protection.outlook.com." in f.fix
    assert "Then remove: b-mx-ok.example. 300 IN MX 10 mail.b-mx-ok.example." in f.fix
    assert f.expected == ["{domain_token}.mail.protection.outlook.com", "{domain_token}.{region}.mx.microsoft"]


def test_leftover_extra_mx_is_called_out(server) -> None:
    f = only(run_mx(server, "b-mx-m365.example", "m365"), "mx.extra")
    assert f.severity is Severity.WARN
    assert "10 oldmail.b-mx-m365.example" in f.message
    assert f.fix == "Remove the leftover records: b-mx-m365.example. 300 IN MX 10 oldmail.b-mx-m365.example."


def test_leftover_mx_ahead_of_the_provider_fails(server) -> None:
    assert only(run_mx(server, "b-mx-m365ahead.example", "m365"), "mx.extra").severity is Severity.FAIL


@pytest.mark.parametrize("fault", ["servfail", "refused", "timeout"])
def test_lookup_trouble_is_an_error(fault: str) -> None:
    with DnsTestServer(faults={("b-mx-ok.example", "MX"): fault}) as s:
        options = CheckOptions(nameservers=[s.address], timeout=1.0, checks=("mx",))
        findings = asyncio.run(check_domain("b-mx-ok.example", options)).findings
    assert [f.id for f in findings] == ["mx.lookup-error"]
    assert findings[0].severity is Severity.ERROR


def test_host_lookup_trouble_is_an_error() -> None:
    with DnsTestServer(faults={"mail.b-mx-ok.example": "servfail"}) as s:
        options = CheckOptions(nameservers=[s.address], timeout=2.0, checks=("mx",))
        findings = asyncio.run(check_domain("b-mx-ok.example", options)).findings
    assert [f.id for f in findings] == ["mx.lookup-error"]
