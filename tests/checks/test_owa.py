"""The owa check against real HTTPS servers on loopback (trustme certificates)."""

from __future__ import annotations

import asyncio
import json

import pytest

from support_dnsserver import resolver_for
from support_https import HttpsTestServer, Route, pki, refusing_address  # noqa: F401 - pki is a fixture
from threer.checks.context import CheckContext
from threer.checks.owa import FINDING_IDS, check_owa, check_owa_url
from threer.checks.profiles import Profile
from threer.checks.resolver import Resolver
from threer.findings import Severity

OWA = "mail.contoso.test"
URL = f"https://{OWA}/owa/"


def ids(findings):
    return [(f.id, f.severity) for f in findings]


def check(url, server, pki, **kwargs):
    kwargs.setdefault("timeout", 3.0)
    overrides = kwargs.pop("connect_overrides", None) or (server.overrides(OWA) if server else None)
    findings = check_owa_url(url, verify=pki.client_context(), connect_overrides=overrides, **kwargs)
    assert {f.id for f in findings} <= FINDING_IDS
    assert all(f.check == "owa" for f in findings)
    return findings


@pytest.mark.parametrize("status", [200, 401, 403])
def test_service_answering_is_ok(pki, status):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(status=status, body=b"sign in")}) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.ok", Severity.OK)]
    assert "yours to confirm" in findings[0].message


def test_redirect_to_a_sign_in_page_on_another_host_is_reported(pki):
    login = "login.fabrikam.test"
    with HttpsTestServer(pki.valid(login), {"/signin": Route(body=b"sign in")}) as login_server:
        routes = {"/owa/": Route.redirect(f"https://{login}/signin")}
        with HttpsTestServer(pki.valid(OWA), routes) as owa_server:
            overrides = {**owa_server.overrides(OWA), **login_server.overrides(login)}
            findings = check(URL, None, pki, connect_overrides=overrides)
    assert ids(findings) == [("owa.redirect", Severity.INFO), ("owa.ok", Severity.OK)]
    assert f"https://{login}/signin" in findings[0].message
    assert findings[1].observed["redirects"] == [f"https://{login}/signin"]


def test_redirect_to_a_host_with_a_bad_certificate_fails_there(pki):
    login = "login.fabrikam.test"
    with HttpsTestServer(pki.expired(login), {"/signin": Route(body=b"sign in")}) as login_server:
        with HttpsTestServer(pki.valid(OWA), {"/owa/": Route.redirect(f"https://{login}/signin")}) as owa_server:
            overrides = {**owa_server.overrides(OWA), **login_server.overrides(login)}
            findings = check(URL, None, pki, connect_overrides=overrides)
    assert ids(findings) == [("owa.cert-expired", Severity.FAIL)]
    assert login in findings[0].message


def test_wrong_name(pki):
    with HttpsTestServer(pki.valid("webmail.fabrikam.test")) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.cert-name", Severity.FAIL)]
    assert "webmail.fabrikam.test" in findings[0].message
    assert OWA in findings[0].fix


def test_untrusted(pki):
    with HttpsTestServer(pki.untrusted(OWA)) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.cert-untrusted", Severity.FAIL)]


def test_not_found_is_a_failure(pki):
    with HttpsTestServer(pki.valid(OWA)) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.status", Severity.FAIL)]
    assert "404" in findings[0].message


def test_timeout_is_an_error(pki):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(delay=5)}) as server:
        findings = check(URL, server, pki, timeout=0.3)
    assert ids(findings) == [("owa.timeout", Severity.ERROR)]


def test_redirect_loop_is_a_warning(pki):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route.redirect("/owa/")}) as server:
        findings = check(URL, server, pki)
    assert ("owa.status", Severity.WARN) in ids(findings)


@pytest.mark.parametrize("url", ["http://mail.contoso.test/owa/", "not a url", "", "https://"])
def test_unusable_url_is_an_error_finding_not_an_exception(pki, url):
    findings = check(url, None, pki)
    assert ids(findings) == [("owa.invalid-url", Severity.ERROR)]


def test_sync_form_works_inside_a_running_event_loop(pki):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(body=b"ok")}) as server:

        async def from_async_code():
            return check(URL, server, pki)

        findings = asyncio.run(from_async_code())
    assert ids(findings) == [("owa.ok", Severity.OK)]


def make_ctx(profile, **kwargs) -> CheckContext:
    # the resolver is never asked: the owa check opens no DNS question of its own
    return CheckContext(domain="contoso.test", resolver=Resolver([("127.0.0.1", 9)]), profile=profile, **kwargs)


def test_check_owa_uses_the_profile_url_and_the_context(pki):
    profile = Profile(name="partner", owa_url=URL)
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(body=b"ok")}) as server:
        ctx = make_ctx(profile, verify=pki.client_context(), http_timeout=3.0)
        ctx.connect_overrides = server.overrides(OWA)
        findings = asyncio.run(check_owa(ctx))
    assert ids(findings) == [("owa.ok", Severity.OK)]


def test_check_owa_skips_with_dns_only_and_without_a_url():
    profile = Profile(name="partner", owa_url=URL)
    assert ids(asyncio.run(check_owa(make_ctx(profile, dns_only=True)))) == [("owa.skipped", Severity.INFO)]
    assert ids(asyncio.run(check_owa(make_ctx(None)))) == [("owa.not-configured", Severity.INFO)]
    assert ids(asyncio.run(check_owa(make_ctx(Profile(name="p"))))) == [("owa.not-configured", Severity.INFO)]


def test_check_owa_looks_the_host_up_with_the_context_resolver(pki, make_dns_server):
    # the profile names a host that the test DNS server does not know: no connection is attempted
    dns_server = make_dns_server(zone_files=[], records=[("contoso.test.", "A", "127.0.0.1")])
    profile = Profile(name="partner", owa_url="https://webmail.nowhere.test/owa/")
    ctx = CheckContext(domain="contoso.test", resolver=resolver_for(dns_server), profile=profile, verify=pki.client_context())
    findings = asyncio.run(check_owa(ctx))
    assert ids(findings) == [("owa.unreachable", Severity.FAIL)]
    assert "does not exist" in findings[0].message


def test_sync_form_with_nameservers_uses_them(pki, make_dns_server):
    dns_server = make_dns_server(zone_files=[], records=[(f"{OWA}.", "A", "127.0.0.1")])
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(body=b"ok")}) as server:
        url = f"https://{OWA}:{server.address[1]}/owa/"
        findings = check_owa_url(url, verify=pki.client_context(), timeout=3.0, nameservers=[dns_server.address])
    assert ids(findings) == [("owa.ok", Severity.OK)]


# -- the OWA address is the provider's: its fixes never ask the customer's DNS admin for records ------


def assert_provider_side(finding):
    """A fix for the network or the provider: no record to add, and plain about whose side it is."""
    assert finding.fix, finding
    assert "Add an A" not in finding.fix and "IN A" not in finding.fix and "CNAME) record" not in finding.fix
    assert "provider" in finding.fix


def test_a_host_that_does_not_resolve_is_not_a_record_to_add(pki, make_dns_server):
    # through the real resolver: the test DNS server has no record for the provider's host
    dns_server = make_dns_server(zone_files=[], records=[("contoso.test.", "A", "127.0.0.1")])
    findings = check_owa_url(URL, verify=pki.client_context(), timeout=3.0, nameservers=[dns_server.address])
    assert ids(findings) == [("owa.unreachable", Severity.FAIL)]
    assert_provider_side(findings[0])
    assert "nothing to add to the customer's DNS" in findings[0].fix and "escalate" in findings[0].fix


def test_a_refused_connection_points_at_this_network_then_the_provider(pki):
    with refusing_address() as address:
        findings = check(URL, None, pki, connect_overrides={OWA: address})
    assert ids(findings) == [("owa.unreachable", Severity.FAIL)]
    assert_provider_side(findings[0])
    assert "this network can reach" in findings[0].fix and "outage" in findings[0].fix


def test_a_timeout_says_try_another_network(pki):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(delay=5)}) as server:
        findings = check(URL, server, pki, timeout=0.3)
    assert ids(findings) == [("owa.timeout", Severity.ERROR)]
    assert_provider_side(findings[0])


@pytest.mark.parametrize("make_cert", ["expired", "untrusted"])
def test_certificate_problems_are_the_providers_or_a_proxy(pki, make_cert):
    with HttpsTestServer(getattr(pki, make_cert)(OWA)) as server:
        findings = check(URL, server, pki)
    assert_provider_side(findings[0])
    assert "proxy" in findings[0].fix
    assert "Install" not in findings[0].fix and "Renew" not in findings[0].fix


def test_an_expiring_certificate_is_for_the_provider_to_renew(pki):
    with HttpsTestServer(pki.valid(OWA, days=5), {"/owa/": Route(body=b"ok")}) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.cert-expiring", Severity.WARN), ("owa.ok", Severity.OK)]
    assert_provider_side(findings[0])
    assert "nothing for the customer to change" in findings[0].fix


def test_a_server_error_is_escalated(pki):
    with HttpsTestServer(pki.valid(OWA), {"/owa/": Route(status=503)}) as server:
        findings = check(URL, server, pki)
    assert ids(findings) == [("owa.status", Severity.FAIL)]
    assert_provider_side(findings[0])
    assert "owa_url" in findings[0].fix


def test_a_host_in_the_customers_own_domain_may_get_a_record_fix(pki, make_dns_server):
    # a partner profile whose web mail lives at mail.<customer domain>: that name is the customer's
    dns_server = make_dns_server(zone_files=[], records=[("contoso.test.", "A", "127.0.0.1")])
    profile = Profile(name="partner", owa_url="https://mail.{domain}/owa/")
    ctx = CheckContext(domain="contoso.test", resolver=resolver_for(dns_server), profile=profile, verify=pki.client_context())
    findings = asyncio.run(check_owa(ctx))
    assert ids(findings) == [("owa.unreachable", Severity.FAIL)]
    assert "record for mail.contoso.test" in findings[0].fix


def test_check_dns_with_the_m365_profile_asks_no_dns_record_for_outlook(invoke, make_dns_server):
    # the reviewer's case: the default m365 profile, the provider's host unknown to this DNS server
    dns_server = make_dns_server()
    result = invoke("check-dns", "b-good.example", "--json", "--timeout", "3", "--nameserver", f"127.0.0.1:{dns_server.port}")
    findings = json.loads(result.stdout)["domains"][0]["findings"]
    owa = [f for f in findings if f["check"] == "owa"]
    assert [f["id"] for f in owa] == ["owa.unreachable"]
    assert "outlook.office.com" in owa[0]["fix"] and "nothing to add to the customer's DNS" in owa[0]["fix"]
    assert not any("record for outlook" in (f["fix"] or "") for f in findings)
