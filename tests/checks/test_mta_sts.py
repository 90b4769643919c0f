"""The mta-sts check (RFC 8461): parsers, and the whole check against the loopback DNS server
(tests/zones/c-sts-*.zone) and a real HTTPS server serving the policy."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support_dnsserver import ZONES_DIR, DnsTestServer, resolver_for
from support_https import HttpsTestServer, Route, pki  # noqa: F401 - pki is a fixture
from threer.checks.context import CheckContext
from threer.checks.mta_sts import (
    FINDING_IDS,
    POLICY_MAX_BYTES,
    POLICY_PATH,
    check_mta_sts,
    mx_covered,
    parse_sts_policy,
    parse_sts_record,
)
from threer.findings import Severity

GOOD_POLICY = b"version: STSv1\r\nmode: enforce\r\nmx: mx1.c-hosting.example\r\nmx: mx2.c-hosting.example\r\nmax_age: 604800\r\n"


# -- parsers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "record_id"),
    [
        ("v=STSv1; id=20160831085700Z;", "20160831085700Z"),
        ("v=STSv1;id=abc", "abc"),
        ("v=STSv1; id=1; ext.name=some-value", "1"),
        ("v=STSv1 ;\tid=A1 ", "A1"),
    ],
)
def test_valid_txt_records(text, record_id):
    record = parse_sts_record(text)
    assert record.errors == ()
    assert record.id == record_id


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("v=STSv1", "id= field is missing"),
        ("v=STSv1; id=2024-01-01", "letters and digits"),
        ("v=STSv1; id=" + "a" * 33, "1 to 32"),
        ("v=STSv1;; id=1", "empty"),
        ("v=STSv1; id=1; id=2", "more than once"),
        ("v=STSv1; nonsense", "not a key=value"),
        ("v=STSv10; id=1", "exactly v=STSv1"),
    ],
)
def test_invalid_txt_records_say_why(text, error):
    record = parse_sts_record(text)
    assert any(error in e for e in record.errors), record.errors


def test_policy_with_lf_or_crlf_parses_the_same():
    crlf = parse_sts_policy(GOOD_POLICY.decode())
    lf = parse_sts_policy(GOOD_POLICY.decode().replace("\r\n", "\n"))
    assert crlf == lf
    assert crlf.errors == ()
    assert (crlf.version, crlf.mode, crlf.max_age) == ("STSv1", "enforce", 604800)
    assert crlf.mx == ("mx1.c-hosting.example", "mx2.c-hosting.example")


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("mode: enforce\nmx: a.example\nmax_age: 1", "version field is missing"),
        ("version: STSv2\nmode: enforce\nmx: a.example\nmax_age: 1", "must be STSv1"),
        ("version: STSv1\nmode: Enforce\nmx: a.example\nmax_age: 1", "enforce, testing or none"),
        ("version: STSv1\nmode: enforce\nmx: a.example", "max_age field is missing"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 31557601", "over the maximum"),
        ("version: STSv1\nmode: enforce\nmx: a.example\nmax_age: 1w", "whole number"),
        ("version: STSv1\nmode: enforce\nmax_age: 86400", "needs at least one mx"),
        ("version: STSv1\nmode: enforce\nmx: mx*.a.example\nmax_age: 86400", "not a host name"),
        ("version: STSv1\nmode: enforce\nmode: testing\nmx: a.example\nmax_age: 86400", "more than once"),
        ("version: STSv1\n\nmode: enforce\nmx: a.example\nmax_age: 86400", "line 2 is empty"),
        ("<html><body>Welcome</body></html>", "not a 'key: value' line"),
    ],
)
def test_invalid_policies_say_why(text, error):
    policy = parse_sts_policy(text)
    assert any(error in e for e in policy.errors), policy.errors


def test_mode_none_needs_no_mx_and_unknown_fields_are_ignored():
    policy = parse_sts_policy("version: STSv1\nmode: none\nmax_age: 86400\nmax-age: 5\n")
    assert policy.errors == ()
    assert policy.unknown_fields == ("max-age",)


@pytest.mark.parametrize(
    ("host", "patterns", "covered"),
    [
        ("mail.example.com", ["*.example.com"], True),
        ("MAIL.example.com.", ["*.example.com"], True),
        ("example.com", ["*.example.com"], False),
        ("a.b.example.com", ["*.example.com"], False),
        ("mx.example.com", ["mx.example.com"], True),
        ("mx.example.com", ["mx.example.co"], False),
        ("mx.example.com", ["other.example.com", "*.example.com"], True),
    ],
)
def test_mx_matching_is_exact_with_one_label_wildcards(host, patterns, covered):
    assert mx_covered(host, patterns) is covered


@given(st.text(max_size=200))
def test_parsers_never_raise(text):
    parse_sts_record(text)
    policy = parse_sts_policy(text)
    assert isinstance(policy.errors, tuple)


@given(st.text(max_size=60), st.lists(st.text(max_size=30), max_size=4))
def test_mx_matching_never_raises(host, patterns):
    assert mx_covered(host, patterns) in (True, False)


# -- the check -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=sorted(ZONES_DIR.glob("c-*.zone"))) as server:
        yield server


def run(dns_server, domain, *, server=None, pki=None, **kwargs):
    kwargs.setdefault("http_timeout", 3.0)
    ctx = CheckContext(
        domain=domain,
        resolver=resolver_for(dns_server),
        profile=None,
        verify=pki.client_context() if pki else True,
        **kwargs,
    )
    ctx.connect_overrides = server.overrides(f"mta-sts.{domain}") if server else None
    findings = asyncio.run(check_mta_sts(ctx))
    assert findings, "every check emits at least one finding"
    assert {f.id for f in findings} <= FINDING_IDS
    assert all(f.check == "mta-sts" for f in findings)
    return findings


def ids(findings):
    return [(f.id, f.severity) for f in findings]


def policy_server(pki, body=GOOD_POLICY, *, domain="c-sts-ok.example", cert=None, **route):
    route.setdefault("content_type", "text/plain")
    return HttpsTestServer(cert or pki.valid(f"mta-sts.{domain}"), {POLICY_PATH: Route(body=body, **route)})


def test_good_policy_in_enforce_mode(dns, pki):
    with policy_server(pki) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [
        ("mta-sts.txt-ok", Severity.OK),
        ("mta-sts.policy-ok", Severity.OK),
        ("mta-sts.mode-enforce", Severity.OK),
        ("mta-sts.mx-ok", Severity.OK),
    ]
    assert server.requests == [("GET", "mta-sts.c-sts-ok.example", POLICY_PATH)]


def test_wildcard_mx_line_covers_one_label(dns, pki):
    body = b"version: STSv1\nmode: enforce\nmx: *.c-hosting.example\nmax_age: 604800\n"
    with policy_server(pki, body) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.mx-ok", Severity.OK) in ids(findings)


@pytest.mark.parametrize(("mode", "severity"), [("enforce", Severity.FAIL), ("testing", Severity.WARN)])
def test_mx_host_not_in_the_policy(dns, pki, mode, severity):
    body = f"version: STSv1\nmode: {mode}\nmx: mx1.c-hosting.example\nmax_age: 604800\n".encode()
    with policy_server(pki, body) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    mismatch = next(f for f in findings if f.id == "mta-sts.mx-mismatch")
    assert mismatch.severity is severity
    assert mismatch.observed["not_covered"] == ["mx2.c-hosting.example"]
    assert "mx: mx2.c-hosting.example" in mismatch.fix
    assert "_mta-sts.c-sts-ok.example. 3600 IN TXT" in mismatch.fix
    if mode == "testing":
        assert ("mta-sts.mode-testing", Severity.INFO) in ids(findings)
    # review 3 #17: the new id is a record to paste (RFC 8461 §3.1: senders refetch only when it changes),
    # printed whole on a line of its own on a terminal and given by --fixes
    from rich.console import Console

    from threer.cli.check_dns import print_fix, zone_fix_lines
    from threer.findings import DomainReport

    old_line = '_mta-sts.c-sts-ok.example. 300 IN TXT "v=STSv1; id=20240101000000"'
    assert [(c.action, c.line.split(' "')[0]) for c in mismatch.changes] == [
        ("remove", "_mta-sts.c-sts-ok.example. 300 IN TXT"), ("add", "_mta-sts.c-sts-ok.example. 3600 IN TXT")]
    new_line = mismatch.changes[1].line
    console = Console(width=80, record=True, color_system=None)
    print_fix(console, mismatch, "  ", 80)
    shown = console.export_text().splitlines()
    assert f"    ; remove: {old_line}" in shown and f"    {new_line}" in shown, shown
    report = DomainReport(domain="c-sts-ok.example", checked_at=mismatch_time(), duration_ms=1,
                          summary=DomainReport.summarise([mismatch]), findings=[mismatch])
    fixes = zone_fix_lines(report)
    assert new_line in fixes and f"; remove: {old_line}" in fixes and "no zone line to paste" not in "\n".join(fixes)


def mismatch_time():
    from datetime import datetime, timezone

    return datetime(2026, 12, 1, tzinfo=timezone.utc)


def test_txt_without_policy_host_fails(dns):
    findings = run(dns, "c-sts-nopolicy.example")
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-missing", Severity.FAIL)]
    assert "mta-sts.c-sts-nopolicy.example does not exist" in findings[1].message


def test_txt_with_policy_404_fails(dns, pki):
    with HttpsTestServer(pki.valid("mta-sts.c-sts-ok.example")) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-missing", Severity.FAIL)]


def test_policy_without_txt_fails_with_the_record_to_add(dns, pki):
    body = b"version: STSv1\nmode: testing\nmx: mx1.c-hosting.example\nmax_age: 604800\n"
    with policy_server(pki, body, domain="c-sts-notxt.example") as server:
        findings = run(dns, "c-sts-notxt.example", server=server, pki=pki)
    assert ids(findings)[0] == ("mta-sts.txt-missing", Severity.FAIL)
    assert '_mta-sts.c-sts-notxt.example. 3600 IN TXT "v=STSv1; id=' in findings[0].fix
    assert ("mta-sts.policy-ok", Severity.OK) in ids(findings)


def test_no_txt_and_a_web_page_at_the_policy_address_is_not_configured(dns, pki):
    with policy_server(pki, b"<html>hello</html>", domain="c-sts-notxt.example", content_type="text/html") as server:
        findings = run(dns, "c-sts-notxt.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.not-configured", Severity.INFO)]


def test_nothing_at_all_is_not_configured(dns):
    assert ids(run(dns, "c-sts-none.example")) == [("mta-sts.not-configured", Severity.INFO)]


def test_redirect_is_not_followed_and_fails(dns, pki):
    routes = {POLICY_PATH: Route.redirect("https://www.c-sts-ok.example/mta-sts.txt", status=301)}
    with HttpsTestServer(pki.valid("mta-sts.c-sts-ok.example"), routes) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-redirect", Severity.FAIL)]
    assert len(server.requests) == 1


def test_oversized_policy_fails(dns, pki):
    body = GOOD_POLICY + b"# padding\n" * (POLICY_MAX_BYTES // 10 + 10)
    with policy_server(pki, body, send_length=False) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-too-large", Severity.FAIL)]


def test_policy_of_exactly_64_kib_is_accepted(dns, pki):
    body = GOOD_POLICY + b"x-pad: " + b"y" * (POLICY_MAX_BYTES - len(GOOD_POLICY) - 8) + b"\n"
    assert len(body) == POLICY_MAX_BYTES
    with policy_server(pki, body) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.policy-ok", Severity.OK) in ids(findings)


def test_wrong_content_type_fails_but_the_policy_is_still_read(dns, pki):
    with policy_server(pki, content_type="text/html; charset=utf-8") as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.policy-content-type", Severity.FAIL) in ids(findings)
    assert ("mta-sts.mx-ok", Severity.OK) in ids(findings)


def test_content_type_parameters_are_fine(dns, pki):
    with policy_server(pki, content_type="text/plain; charset=utf-8") as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert "mta-sts.policy-content-type" not in {f.id for f in findings}


@pytest.mark.parametrize(
    ("cert", "expected"),
    [
        (lambda pki: pki.valid("www.c-sts-ok.example"), "mta-sts.policy-cert-name"),
        (lambda pki: pki.expired("mta-sts.c-sts-ok.example"), "mta-sts.policy-cert-expired"),
        (lambda pki: pki.untrusted("mta-sts.c-sts-ok.example"), "mta-sts.policy-cert-untrusted"),
    ],
    ids=["wrong-name", "expired", "untrusted"],
)
def test_certificate_problems_fail(dns, pki, cert, expected):
    with policy_server(pki, cert=cert(pki)) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), (expected, Severity.FAIL)]


def test_slow_policy_host_is_an_error(dns, pki):
    with policy_server(pki, delay=5) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki, http_timeout=0.3)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-timeout", Severity.ERROR)]


def test_policy_behind_a_sign_in_is_a_bad_status(dns, pki):
    with policy_server(pki, status=401) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.policy-status", Severity.FAIL) in ids(findings)


def test_invalid_policy_fails_and_stops_there(dns, pki):
    with policy_server(pki, b"version: STSv1\nmode: strict\nmx: mx1.c-hosting.example\n") as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.policy-invalid", Severity.FAIL)]
    assert "mode is 'strict'" in findings[1].message
    assert "max_age field is missing" in findings[1].message


def test_short_max_age_is_a_warning(dns, pki):
    body = b"version: STSv1\nmode: enforce\nmx: *.c-hosting.example\nmax_age: 300\n"
    with policy_server(pki, body) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.max-age-short", Severity.WARN) in ids(findings)


def test_two_txt_records_fail(dns):
    findings = run(dns, "c-sts-two.example")
    assert ids(findings)[0] == ("mta-sts.txt-multiple", Severity.FAIL)


def test_bad_id_fails_and_other_txt_records_are_ignored(dns):
    findings = run(dns, "c-sts-badtxt.example")
    assert ids(findings)[0] == ("mta-sts.txt-invalid", Severity.FAIL)
    assert "letters and digits" in findings[0].message


def test_dns_only_checks_the_txt_record_and_says_the_policy_was_skipped(dns, pki):
    with policy_server(pki) as server:
        findings = run(dns, "c-sts-ok.example", server=server, pki=pki, dns_only=True)
    assert ids(findings) == [("mta-sts.txt-ok", Severity.OK), ("mta-sts.skipped", Severity.INFO)]
    assert server.requests == []
    assert ids(run(dns, "c-sts-none.example", dns_only=True)) == [("mta-sts.not-configured", Severity.INFO)]


def test_txt_lookup_failure_is_an_error_not_a_missing_record():
    with DnsTestServer(zone_files=[ZONES_DIR / "c-sts-ok.zone"], faults={"_mta-sts.c-sts-ok.example": "timeout"}) as server:
        ctx = CheckContext(domain="c-sts-ok.example", resolver=resolver_for(server, timeout=0.3, deadline=1.0), dns_only=True)
        findings = asyncio.run(check_mta_sts(ctx))
    assert ids(findings)[0] == ("mta-sts.lookup-error", Severity.ERROR)


def test_mx_lookup_failure_is_an_error(pki):
    with DnsTestServer(
        zone_files=[ZONES_DIR / "c-sts-ok.zone"], faults={("c-sts-ok.example", "MX"): "servfail"}
    ) as dns_server, policy_server(pki) as server:
        findings = run(dns_server, "c-sts-ok.example", server=server, pki=pki)
    assert ("mta-sts.lookup-error", Severity.ERROR) in ids(findings)
    assert "MX records" in next(f for f in findings if f.id == "mta-sts.lookup-error").message
