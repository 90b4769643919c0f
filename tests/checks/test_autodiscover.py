"""The autodiscover check against the loopback DNS server (tests/zones/c-*.zone) and real HTTPS servers."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest

from support_dnsserver import ZONES_DIR, DnsTestServer, resolver_for
from support_https import HttpsTestServer, Route, pki, refusing_address  # noqa: F401 - pki is a fixture
from threer.checks.autodiscover import ENDPOINT_PATH, FINDING_IDS, check_autodiscover
from threer.checks.context import CheckContext
from threer.checks.profiles import Profile
from threer.findings import Severity

PROVIDER = "autodiscover.c-hosting.example"
PROFILE = Profile(name="c-test", autodiscover_cname=PROVIDER)
SRV_PROFILE = Profile(name="c-srv", autodiscover_srv=PROVIDER)


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=sorted(ZONES_DIR.glob("c-*.zone"))) as server:
        yield server


def run(dns_server, domain, profile=None, *, overrides=None, pki=None, **kwargs):
    kwargs.setdefault("dns_only", overrides is None)
    kwargs.setdefault("http_timeout", 3.0)
    ctx = CheckContext(
        domain=domain,
        resolver=resolver_for(dns_server),
        profile=profile,
        verify=pki.client_context() if pki else True,
        **kwargs,
    )
    ctx.connect_overrides = overrides
    findings = asyncio.run(check_autodiscover(ctx))
    assert findings, "every check emits at least one finding"
    assert {f.id for f in findings} <= FINDING_IDS
    assert all(f.check == "autodiscover" for f in findings)
    return findings


def ids(findings, *, skip_skipped=True):
    return [(f.id, f.severity) for f in findings if not (skip_skipped and f.id == "autodiscover.https-skipped")]


# -- DNS -----------------------------------------------------------------------------------------


def test_cname_to_the_profile_target_is_ok(dns):
    findings = run(dns, "c-ad-cname.example", PROFILE)
    assert ids(findings) == [("autodiscover.cname-ok", Severity.OK)]
    assert findings[0].observed == {"CNAME": PROVIDER}


def test_a_record_instead_of_cname_fails_with_the_record_to_paste(dns):
    findings = run(dns, "c-ad-a.example", PROFILE)
    assert ids(findings) == [("autodiscover.a-instead-of-cname", Severity.FAIL)]
    finding = findings[0]
    assert finding.observed == {"A": ["127.0.0.1"], "AAAA": ["::1"]}
    assert "Delete the A/AAAA records" in finding.fix
    assert f"autodiscover.c-ad-a.example. 3600 IN CNAME {PROVIDER}." in finding.fix


def test_cname_to_another_host_is_wrong(dns):
    findings = run(dns, "c-ad-wrong.example", PROFILE)
    assert ids(findings) == [("autodiscover.cname-wrong", Severity.FAIL)]
    assert "mx1.c-hosting.example" in findings[0].message


def test_no_record_with_a_profile_is_missing_cname(dns):
    findings = run(dns, "c-ad-none.example", PROFILE)
    assert ids(findings) == [("autodiscover.cname-missing", Severity.FAIL)]
    assert f"IN CNAME {PROVIDER}." in findings[0].fix


def test_no_record_and_no_srv_without_a_profile_is_a_warning(dns):
    assert ids(run(dns, "c-ad-none.example")) == [("autodiscover.missing", Severity.WARN)]


def test_a_profile_that_names_no_autodiscover_host_needs_none(dns):
    """Review 3 #8: Google Workspace has no Exchange autodiscover; a WARN with no answer sends the
    technician searching. The profile decides: it names no host, so the record's absence is information."""
    from threer.checks.profiles import resolve_profile

    findings = run(dns, "c-ad-none.example", resolve_profile("google"))
    assert ids(findings) == [("autodiscover.missing", Severity.INFO)]
    assert "google's profile names no autodiscover host, so none is needed" in findings[0].message
    assert findings[0].fix is None


def test_a_srv_look_up_that_timed_out_is_not_called_missing():
    """Review 3 #25c: unknown is not missing: the SRV's lookup-error stands alone."""
    with DnsTestServer(zone_files=[ZONES_DIR / "c-ad-none.zone"],
                       faults={("_autodiscover._tcp.c-ad-none.example", "SRV"): "timeout"}) as server:
        ctx = CheckContext(domain="c-ad-none.example", resolver=resolver_for(server, timeout=1.0), dns_only=True)
        findings = asyncio.run(check_autodiscover(ctx))
    assert ids(findings) == [("autodiscover.lookup-error", Severity.ERROR)]
    assert "_autodiscover._tcp.c-ad-none.example SRV" in findings[0].message


def test_m365_profile_expects_autodiscover_outlook_com(dns):
    from threer.checks.profiles import load_profile

    findings = run(dns, "c-ad-cname.example", load_profile("m365"))
    assert ids(findings) == [("autodiscover.cname-wrong", Severity.FAIL)]
    assert "autodiscover.outlook.com" in findings[0].fix


def test_own_records_without_a_profile_are_reported_present(dns):
    findings = run(dns, "c-ad-own.example")
    assert ids(findings) == [("autodiscover.record-present", Severity.OK)]
    assert "127.0.0.1" in findings[0].message


def test_dangling_cname_fails(dns):
    findings = run(dns, "c-ad-dangling.example")
    assert ids(findings) == [("autodiscover.cname-dangling", Severity.FAIL)]


def test_srv_alone_is_reported_and_not_called_missing(dns):
    findings = run(dns, "c-ad-srv.example")
    assert ids(findings) == [("autodiscover.srv-present", Severity.INFO)]
    assert findings[0].observed == [f"0 0 443 {PROVIDER}"]


def test_srv_matching_the_profile_is_ok(dns):
    assert ids(run(dns, "c-ad-srv.example", SRV_PROFILE)) == [("autodiscover.srv-ok", Severity.OK)]


def test_srv_to_the_wrong_host_and_port_is_wrong(dns):
    findings = run(dns, "c-ad-srvwrong.example", SRV_PROFILE)
    assert ("autodiscover.srv-wrong", Severity.FAIL) in ids(findings)
    srv = next(f for f in findings if f.id == "autodiscover.srv-wrong")
    assert srv.observed == ["0 0 8443 mx1.c-hosting.example"]
    assert f"_autodiscover._tcp.c-ad-srvwrong.example. 3600 IN SRV 0 0 443 {PROVIDER}." in srv.fix


def test_srv_missing_when_the_profile_expects_one(dns):
    findings = run(dns, "c-ad-cname.example", SRV_PROFILE)
    assert ("autodiscover.srv-missing", Severity.WARN) in ids(findings)


def test_a_failed_look_up_is_an_error_not_a_missing_record():
    with DnsTestServer(
        zone_files=[ZONES_DIR / "c-ad-cname.zone"], faults={"autodiscover.c-ad-cname.example": "servfail"}
    ) as server:
        findings = run(server, "c-ad-cname.example", PROFILE)
    assert ids(findings) == [("autodiscover.lookup-error", Severity.ERROR)]
    assert "SERVFAIL" in findings[0].message


def test_dns_only_skips_https_and_says_so(dns, pki):
    with HttpsTestServer(pki.valid("autodiscover.c-ad-own.example")) as server:
        findings = run(dns, "c-ad-own.example", overrides=server.overrides("autodiscover.c-ad-own.example"), pki=pki, dns_only=True)
    assert ("autodiscover.https-skipped", Severity.INFO) in ids(findings, skip_skipped=False)
    assert server.requests == []


# -- HTTPS ---------------------------------------------------------------------------------------

OWN = "c-ad-own.example"
OWN_AUTODISCOVER = f"autodiscover.{OWN}"


def https_findings(findings):
    return [(f.id, f.severity) for f in findings if f.id.startswith("autodiscover.https-")]


def test_401_at_autodiscover_is_fine_and_a_404_web_site_is_information(dns, pki):
    with HttpsTestServer(pki.valid(OWN)) as site, HttpsTestServer(
        pki.valid(OWN_AUTODISCOVER), {ENDPOINT_PATH: Route(status=401, body=b"")}
    ) as autodiscover:
        overrides = {**site.overrides(OWN), **autodiscover.overrides(OWN_AUTODISCOVER)}
        findings = run(dns, OWN, overrides=overrides, pki=pki)
    assert https_findings(findings) == [
        ("autodiscover.https-status", Severity.INFO),
        ("autodiscover.https-ok", Severity.OK),
    ]
    assert autodiscover.requests == [("GET", OWN_AUTODISCOVER, ENDPOINT_PATH)]
    assert site.requests == [("GET", OWN, ENDPOINT_PATH)]


@pytest.mark.parametrize(
    ("make_cert", "expected_id"),
    [
        (lambda pki: pki.valid("other.c-hosting.example"), "autodiscover.https-cert-name"),
        (lambda pki: pki.expired(OWN_AUTODISCOVER), "autodiscover.https-cert-expired"),
        (lambda pki: pki.untrusted(OWN_AUTODISCOVER), "autodiscover.https-cert-untrusted"),
    ],
    ids=["wrong-name", "expired", "untrusted"],
)
def test_bad_certificate_at_autodiscover_fails(dns, pki, make_cert, expected_id):
    with refusing_address() as closed, HttpsTestServer(make_cert(pki), {ENDPOINT_PATH: Route(status=401)}) as server:
        overrides = {OWN: closed, **server.overrides(OWN_AUTODISCOVER)}
        findings = run(dns, OWN, overrides=overrides, pki=pki)
    assert https_findings(findings) == [("autodiscover.https-unreachable", Severity.INFO), (expected_id, Severity.FAIL)]
    bad = findings[-1]
    assert OWN_AUTODISCOVER in bad.fix
    assert bad.observed["certificate"]["names"]


def test_bad_certificate_at_the_domain_web_site_is_a_warning(dns, pki):
    with HttpsTestServer(pki.untrusted(OWN)) as site, HttpsTestServer(
        pki.valid(OWN_AUTODISCOVER), {ENDPOINT_PATH: Route(status=401)}
    ) as autodiscover:
        overrides = {**site.overrides(OWN), **autodiscover.overrides(OWN_AUTODISCOVER)}
        findings = run(dns, OWN, overrides=overrides, pki=pki)
    assert https_findings(findings) == [
        ("autodiscover.https-cert-untrusted", Severity.WARN),
        ("autodiscover.https-ok", Severity.OK),
    ]


def test_name_mismatch_behind_a_provider_cname_is_expected(dns, pki):
    domain = "c-ad-cname.example"
    with refusing_address() as closed, HttpsTestServer(pki.valid(PROVIDER), {ENDPOINT_PATH: Route(status=401)}) as provider:
        overrides = {domain: closed, **provider.overrides(f"autodiscover.{domain}")}
        findings = run(dns, domain, PROFILE, overrides=overrides, pki=pki)
    assert ids(findings) == [
        ("autodiscover.cname-ok", Severity.OK),
        ("autodiscover.https-unreachable", Severity.INFO),
        ("autodiscover.https-cert-name", Severity.INFO),
    ]
    assert "expected" in findings[-1].message


def test_redirect_is_reported(dns, pki):
    routes = {ENDPOINT_PATH: Route.redirect(f"https://autodiscover-s.c-hosting.example{ENDPOINT_PATH}")}
    with refusing_address() as closed, HttpsTestServer(pki.valid(OWN_AUTODISCOVER), routes) as server:
        findings = run(dns, OWN, overrides={OWN: closed, **server.overrides(OWN_AUTODISCOVER)}, pki=pki)
    redirect = [f for f in findings if f.id == "autodiscover.https-redirect"]
    assert len(redirect) == 1 and redirect[0].severity is Severity.INFO
    assert "autodiscover-s.c-hosting.example" in redirect[0].message
    assert len(server.requests) == 1  # not followed


def test_missing_service_at_autodiscover_fails(dns, pki):
    with refusing_address() as closed, HttpsTestServer(pki.valid(OWN_AUTODISCOVER)) as server:
        findings = run(dns, OWN, overrides={OWN: closed, **server.overrides(OWN_AUTODISCOVER)}, pki=pki)
    assert ("autodiscover.https-status", Severity.FAIL) in https_findings(findings)


def test_silent_web_site_is_a_warning_and_autodiscover_still_checked(dns, pki):
    with HttpsTestServer(pki.valid(OWN), {ENDPOINT_PATH: Route(delay=5)}) as site, HttpsTestServer(
        pki.valid(OWN_AUTODISCOVER), {ENDPOINT_PATH: Route(status=401)}
    ) as autodiscover:
        overrides = {**site.overrides(OWN), **autodiscover.overrides(OWN_AUTODISCOVER)}
        findings = run(dns, OWN, overrides=overrides, pki=pki, http_timeout=0.4)
    assert https_findings(findings) == [
        ("autodiscover.https-timeout", Severity.WARN),
        ("autodiscover.https-ok", Severity.OK),
    ]


def test_certificate_expiring_soon_is_a_warning(dns, pki):
    cert = pki.valid(OWN_AUTODISCOVER, days=30)
    with refusing_address() as closed, HttpsTestServer(cert, {ENDPOINT_PATH: Route(status=401)}) as server:
        overrides = {OWN: closed, **server.overrides(OWN_AUTODISCOVER)}
        probe_now = run(dns, OWN, overrides=overrides, pki=pki)
        later = run(dns, OWN, overrides=overrides, pki=pki, now=_not_after(probe_now) - timedelta(days=3))
    assert ("autodiscover.https-cert-expiring", Severity.WARN) in https_findings(later)
    assert ("autodiscover.https-ok", Severity.OK) in https_findings(later)
    assert ("autodiscover.https-cert-expiring", Severity.WARN) not in https_findings(probe_now)


def _not_after(findings):
    ok = next(f for f in findings if f.id == "autodiscover.https-ok")
    return datetime.fromisoformat(ok.observed["certificate"]["not_after"])


# -- behind the provider's CNAME the server is the provider's: no fix for the customer's DNS or server ---


@pytest.mark.parametrize("problem", ["expired", "untrusted"])
def test_certificate_trouble_behind_a_provider_cname_is_the_providers(dns, pki, problem):
    domain = "c-ad-cname.example"
    certificate = getattr(pki, problem)(f"autodiscover.{domain}")  # the right name, so only `problem` is wrong
    with refusing_address() as closed, HttpsTestServer(certificate, {ENDPOINT_PATH: Route(status=401)}) as provider:
        overrides = {domain: closed, **provider.overrides(f"autodiscover.{domain}")}
        findings = run(dns, domain, PROFILE, overrides=overrides, pki=pki)
    bad = findings[-1]
    assert bad.severity is Severity.FAIL and bad.id.startswith("autodiscover.https-cert-")
    assert f"CNAME to the provider's {PROVIDER}" in bad.fix and "escalate to the provider" in bad.fix
    assert "Install" not in bad.fix and "Renew" not in bad.fix


def test_refused_and_missing_service_behind_a_provider_cname_are_the_providers(dns, pki):
    domain = "c-ad-cname.example"
    with refusing_address() as closed:
        findings = run(dns, domain, PROFILE, overrides={domain: closed, f"autodiscover.{domain}": closed}, pki=pki)
    refused = findings[-1]
    assert refused.id == "autodiscover.https-unreachable" and refused.severity is Severity.FAIL
    assert "nothing to change in the customer's DNS" in refused.fix
    with refusing_address() as closed, HttpsTestServer(pki.valid(f"autodiscover.{domain}")) as provider:
        overrides = {domain: closed, **provider.overrides(f"autodiscover.{domain}")}
        findings = run(dns, domain, PROFILE, overrides=overrides, pki=pki)
    status = findings[-1]
    assert status.id == "autodiscover.https-status" and status.severity is Severity.FAIL
    assert "escalate to the provider" in status.fix
