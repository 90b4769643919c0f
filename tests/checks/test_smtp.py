"""The `smtp` check against real SMTP servers on loopback (aiosmtpd with STARTTLS and trustme certificates)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone

import pytest

from support_dnsserver import DnsTestServer, resolver_for
from support_smtplab import SmtpLab
from threer.checks.context import CheckContext
from threer.checks.smtp import BLOCKED_REASON, FINDING_IDS, check_smtp, smtp_probes
from threer.findings import Severity


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with SmtpLab(tmp_path_factory.mktemp("smtp")) as started:
        yield started


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=["k-smtp.zone"], faults={("mx.broken.k-smtp.example", "A"): "servfail"}) as server:
        yield server


def context(dns, lab, domain: str, timeout: float = 2.0, **kwargs) -> CheckContext:
    kwargs.setdefault("verify", lab.ca_file)
    return CheckContext(
        domain=domain,
        resolver=resolver_for(dns, deadline=timeout + 1),
        http_timeout=timeout,
        now=datetime.now(timezone.utc),
        smtp_port=lab.port,
        **kwargs,
    )


def run(dns, lab, domain: str, **kwargs):
    return asyncio.run(check_smtp(context(dns, lab, domain, **kwargs)))


def ids(findings) -> list[tuple[str, Severity]]:
    return [(f.id, f.severity) for f in findings]


def test_good_server_shows_banner_extensions_tls_and_certificate(dns, lab) -> None:
    findings = run(dns, lab, "good.k-smtp.example")
    assert ids(findings) == [("smtp.ok", Severity.OK)]
    observed = findings[0].observed
    assert observed["address"] == "127.0.11.1" and observed["port"] == lab.port
    assert observed["banner"].startswith("lab-127.0.11.1")
    assert observed["banner_ms"] is not None and observed["banner_ms"] >= 0
    assert "STARTTLS" in observed["extensions"]
    assert observed["starttls"] == "negotiated"
    assert observed["tls_version"] in ("TLSv1.2", "TLSv1.3") and observed["cipher"]
    assert "mx.good.k-smtp.example" in observed["certificate"]["names"]
    assert observed["verified"] is True
    assert len(observed["chain"]) >= 1
    message = findings[0].message
    assert "mx.good.k-smtp.example (127.0.11.1:" in message and "STARTTLS TLSv1" in message and "valid until" in message


def test_no_starttls_is_a_warning(dns, lab) -> None:
    findings = run(dns, lab, "plain.k-smtp.example")
    assert ids(findings) == [("smtp.no-starttls", Severity.WARN)]
    assert findings[0].observed["starttls"] == "not offered"
    assert "unencrypted" in findings[0].message and findings[0].fix


def test_certificate_for_another_name(dns, lab) -> None:
    findings = run(dns, lab, "wrongname.k-smtp.example")
    assert ids(findings) == [("smtp.cert-name-mismatch", Severity.WARN)]
    assert "mail.elsewhere.example" in findings[0].message and "not mx.wrongname.k-smtp.example" in findings[0].message
    # no MTA-STS, no DANE: senders deliver over unauthenticated TLS, and the text says so
    assert "opportunistic TLS" in findings[0].message and "RFC 7435" in findings[0].message


def test_expired_certificate_is_described_and_does_not_stop_mail_without_mta_sts_or_dane(dns, lab) -> None:
    findings = run(dns, lab, "expired.k-smtp.example")
    assert ("smtp.cert-expired", Severity.WARN) in ids(findings)
    expired = next(f for f in findings if f.id == "smtp.cert-expired")
    assert "expired on" in expired.message
    # the first handshake failed verification; the second session read the certificate anyway
    assert expired.observed["verified"] is False and expired.observed["certificate"]["names"] == ["mx.expired.k-smtp.example"]
    assert "smtp.cert-untrusted" not in [f.id for f in findings]  # one root cause, one finding


def test_untrusted_when_the_ca_is_not_trusted(dns, lab) -> None:
    findings = run(dns, lab, "good.k-smtp.example", verify=True)  # the public CAs: the lab CA is unknown
    assert ids(findings) == [("smtp.cert-untrusted", Severity.WARN)]
    assert "not a trusted CA" in findings[0].message and "opportunistic TLS" in findings[0].message


# -- MTA-STS and DANE make certificate problems stop mail ------------------------------------------


def _policy(lab, mode: str, mx: str = "mx.wrongname.k-smtp.example"):
    from support_https import HttpsTestServer, Route
    from threer.checks.mta_sts import POLICY_PATH

    body = f"version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 86400\r\n".encode()
    return HttpsTestServer(lab.ca.issue_cert("mta-sts.stswrong.k-smtp.example"), {POLICY_PATH: Route(body=body)})


def _run_with_policy(dns, lab, server):
    ctx = context(dns, lab, "stswrong.k-smtp.example")
    ctx.connect_overrides = server.overrides("mta-sts.stswrong.k-smtp.example")
    return asyncio.run(check_smtp(ctx))


def test_with_mta_sts_enforce_listing_the_host_a_wrong_name_fails(dns, lab) -> None:
    with _policy(lab, "enforce") as server:
        findings = _run_with_policy(dns, lab, server)
        assert server.requests  # the policy was fetched
    assert ids(findings) == [("smtp.cert-name-mismatch", Severity.FAIL)]
    assert "MTA-STS policy is in enforce mode" in findings[0].message and "RFC 8461" in findings[0].message


@pytest.mark.parametrize(("mode", "mx"), [("testing", "mx.wrongname.k-smtp.example"), ("enforce", "mx.other.k-smtp.example")])
def test_mta_sts_in_testing_mode_or_not_listing_the_host_stays_a_warning(dns, lab, mode, mx) -> None:
    with _policy(lab, mode, mx) as server:
        findings = _run_with_policy(dns, lab, server)
    assert ids(findings) == [("smtp.cert-name-mismatch", Severity.WARN)]
    assert "opportunistic TLS" in findings[0].message


def test_with_validated_dane_ta_records_an_expired_certificate_fails(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        server.add_record("_25._tcp.mx.expired.k-smtp.example", "TLSA", "2 0 1 " + "ab" * 32)
        server.set_authenticated("_25._tcp.mx.expired.k-smtp.example")
        findings = run(server, lab, "expired.k-smtp.example")
    assert ("smtp.cert-expired", Severity.FAIL) in ids(findings)
    expired = next(f for f in findings if f.id == "smtp.cert-expired")
    assert "DANE-TA(2)" in expired.message


def test_with_dane_ee_records_a_wrong_name_does_not_stop_dane_senders(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        server.set_authenticated("_25._tcp.mx.wrongname.k-smtp.example")  # the zone's DANE-EE(3) record
        validated = run(server, lab, "wrongname.k-smtp.example")
    assert ids(validated) == [("smtp.cert-name-mismatch", Severity.WARN)]
    assert "DANE-EE(3)" in validated[0].message and "RFC 7672 §3.1.1" in validated[0].message


def test_unvalidated_tlsa_records_leave_the_host_opportunistic(dns, lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        server.add_record("_25._tcp.mx.expired.k-smtp.example", "TLSA", "2 0 1 " + "ab" * 32)  # no AD bit
        findings = run(server, lab, "expired.k-smtp.example")
    assert ("smtp.cert-expired", Severity.WARN) in ids(findings)


# -- every address of an MX host -------------------------------------------------------------------


def test_every_address_of_an_mx_host_is_probed_and_named(dns, lab) -> None:
    from support_smtplab import TWO_BAD, TWO_GOOD

    findings = run(dns, lab, "two.k-smtp.example")
    assert sorted(ids(findings)) == [("smtp.cert-name-mismatch", Severity.WARN), ("smtp.ok", Severity.OK)]
    by_id = {f.id: f for f in findings}
    assert by_id["smtp.ok"].observed["address"] == TWO_GOOD and f"({TWO_GOOD}:" in by_id["smtp.ok"].message
    bad = by_id["smtp.cert-name-mismatch"]
    assert bad.observed["address"] == TWO_BAD and f"mx.two.k-smtp.example ({TWO_BAD}:" in bad.message


def test_an_ipv6_address_is_probed_too(dns, lab) -> None:
    findings = run(dns, lab, "six.k-smtp.example")
    assert ids(findings) == [("smtp.unreachable", Severity.ERROR)]
    assert f"mx.six.k-smtp.example ([::1]:{lab.port})" in findings[0].message


def test_no_route_to_one_address_is_info_when_another_was_probed() -> None:
    from threer.checks.smtp import SmtpProbe, address_findings

    now = datetime.now(timezone.utc)
    reached = SmtpProbe(host="mx.example", address="127.0.0.1", failure="refused", stage="connect",
                        detail="the connection was refused")
    no_route = SmtpProbe(host="mx.example", address="::1", failure="network", stage="connect",
                         detail="the connection failed (Network is unreachable)", no_route=True)
    assert [f.id for f in address_findings([reached, no_route], now)] == ["smtp.unreachable", "smtp.no-route"]
    alone = address_findings([no_route], now)  # nothing else was reached: it is the error it looks like
    assert [(f.id, f.severity) for f in alone] == [("smtp.unreachable", Severity.ERROR)]


def test_server_that_never_greets_fails_within_the_timeout(dns, lab) -> None:
    started = time.monotonic()
    findings = run(dns, lab, "silent.k-smtp.example", timeout=1.0)
    assert time.monotonic() - started < 2.5
    assert ids(findings) == [("smtp.no-banner", Severity.FAIL)]
    assert "no greeting within 1 s" in findings[0].message


def test_server_that_drops_after_ehlo(dns, lab) -> None:
    findings = run(dns, lab, "dropper.k-smtp.example")
    assert ids(findings) == [("smtp.closed", Severity.FAIL)]
    assert "closed the connection after EHLO" in findings[0].message
    assert findings[0].observed["banner"] == "dropper.k-smtp.example ESMTP"


def test_nothing_listening_is_an_error_that_names_port_25_blocking(dns, lab) -> None:
    findings = run(dns, lab, "closed.k-smtp.example")
    assert ids(findings) == [("smtp.unreachable", Severity.ERROR)]
    assert BLOCKED_REASON in findings[0].message


def test_hosts_are_probed_concurrently_bounded_by_one_timeout(dns, lab) -> None:
    started = time.monotonic()
    findings = run(dns, lab, "pair.k-smtp.example", timeout=1.5)
    elapsed = time.monotonic() - started
    assert sorted(ids(findings)) == [("smtp.no-banner", Severity.FAIL), ("smtp.ok", Severity.OK)]
    assert elapsed < 2.8  # one timeout plus the look-ups, not one timeout per host


def test_null_mx_probes_nothing(dns, lab) -> None:
    assert run(dns, lab, "nomail.k-smtp.example") == []


def test_failed_address_lookup_is_an_error(dns, lab) -> None:
    findings = run(dns, lab, "broken.k-smtp.example")
    assert ids(findings) == [("smtp.lookup-error", Severity.ERROR)]


def test_failed_mx_lookup_is_an_error(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], faults={("good.k-smtp.example", "MX"): "servfail"}) as server:
        findings = run(server, lab, "good.k-smtp.example")
    assert ids(findings) == [("smtp.lookup-error", Severity.ERROR)]


def test_dns_only_probes_nothing(dns, lab) -> None:
    assert run(dns, lab, "good.k-smtp.example", dns_only=True) == []


def test_one_probe_per_host_however_many_ask(dns, lab) -> None:
    async def twice():
        ctx = context(dns, lab, "good.k-smtp.example")
        first, second = await asyncio.gather(smtp_probes(ctx), smtp_probes(ctx))
        return first[0]["mx.good.k-smtp.example"] is second[0]["mx.good.k-smtp.example"]

    assert asyncio.run(twice())


def test_every_emitted_id_is_declared(dns, lab) -> None:
    seen = set()
    for domain in ("good", "plain", "wrongname", "expired", "dropper", "closed", "broken"):
        seen |= {f.id for f in run(dns, lab, f"{domain}.k-smtp.example")}
    assert seen <= FINDING_IDS
