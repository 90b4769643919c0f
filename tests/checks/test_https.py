"""threer.checks.https against a real HTTPS server on loopback with trustme certificates."""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from support_dnsserver import resolver_for
from support_https import HttpsTestServer, Pki, Route, pki, refusing_address  # noqa: F401 - pki is a fixture
from threer.checks.https import (
    ENDPOINT_SLUGS,
    ProbeFailure,
    _classify,
    endpoint_findings,
    name_matches,
    probe,
)
from threer.errors import BadInput
from threer.findings import Severity

HOST = "www.contoso.test"
URL = f"https://{HOST}/autodiscover/autodiscover.xml"


def run_probe(url: str, server: HttpsTestServer | None, pki: Pki, **kwargs):
    kwargs.setdefault("verify", pki.client_context())
    kwargs.setdefault("timeout", 3.0)
    if server is not None:
        kwargs.setdefault("connect_overrides", server.overrides(HOST))
    return asyncio.run(probe(url, **kwargs))


def test_valid_certificate_answers_with_status_body_and_certificate(pki):
    routes = {"/autodiscover/autodiscover.xml": Route(status=200, body=b"<xml/>", content_type="text/xml; charset=utf-8")}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        result = run_probe(URL, server, pki)
    assert result.ok, result.detail
    assert result.status_code == 200
    assert result.body == b"<xml/>"
    assert result.content_type == "text/xml"
    assert result.verified
    assert result.certificate is not None and result.certificate.covers(HOST)
    assert result.connected_to == server.address
    # the server saw the real host name, not the loopback address it was reached on
    assert server.requests == [("GET", HOST, "/autodiscover/autodiscover.xml")]


def test_wrong_name_is_a_name_mismatch_naming_the_certificate_names(pki):
    with HttpsTestServer(pki.valid("mail.fabrikam.test")) as server:
        result = run_probe(URL, server, pki)
    assert result.failure is ProbeFailure.NAME_MISMATCH
    assert result.cert_problems == (ProbeFailure.NAME_MISMATCH,)
    assert "mail.fabrikam.test" in result.detail and HOST in result.detail
    assert result.certificate is not None and result.certificate.dns_names == ("mail.fabrikam.test",)
    assert not result.verified


def test_expired_certificate_is_expired_with_its_date(pki):
    cert = pki.expired(HOST)
    with HttpsTestServer(cert) as server:
        result = run_probe(URL, server, pki)
    assert result.failure is ProbeFailure.EXPIRED
    assert result.certificate is not None
    assert f"expired on {result.certificate.not_after:%Y-%m-%d}" in result.detail


def test_certificate_from_unknown_ca_is_untrusted(pki):
    with HttpsTestServer(pki.untrusted(HOST)) as server:
        result = run_probe(URL, server, pki)
    assert result.failure is ProbeFailure.UNTRUSTED
    assert "not trusted" in result.detail
    assert result.certificate is not None and result.certificate.covers(HOST)


def test_expired_and_wrong_name_reports_both(pki):
    with HttpsTestServer(pki.expired("other.fabrikam.test")) as server:
        result = run_probe(URL, server, pki)
    assert set(result.cert_problems) == {ProbeFailure.EXPIRED, ProbeFailure.NAME_MISMATCH}
    assert "expired on" in result.detail and "other.fabrikam.test" in result.detail


def test_verify_false_reads_an_untrusted_certificate_without_failing(pki):
    with HttpsTestServer(pki.untrusted(HOST), {"/": Route(body=b"hi")}) as server:
        result = run_probe(f"https://{HOST}/", server, pki, verify=False)
    assert result.ok and result.status_code == 200
    assert not result.verified
    assert result.certificate is not None


def test_ca_bundle_path_is_accepted_and_a_missing_one_is_bad_input(pki, tmp_path):
    bundle = tmp_path / "ca.pem"
    pki.ca.cert_pem.write_to_path(str(bundle))
    with HttpsTestServer(pki.valid(HOST), {"/": Route(body=b"hi")}) as server:
        result = run_probe(f"https://{HOST}/", server, pki, verify=str(bundle))
    assert result.ok and result.verified
    with pytest.raises(BadInput, match="CA bundle"):
        run_probe(f"https://{HOST}/", None, pki, verify=str(tmp_path / "missing.pem"))


def test_redirect_is_reported_not_followed(pki):
    routes = {"/owa/": Route.redirect("/owa/auth/logon.aspx")}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        result = run_probe(f"https://{HOST}/owa/", server, pki)
    assert result.ok
    assert result.status_code == 302
    assert result.location == f"https://{HOST}/owa/auth/logon.aspx"
    assert [path for _, _, path in server.requests] == ["/owa/"]


def test_redirect_followed_when_asked_keeps_the_override(pki):
    routes = {"/owa/": Route.redirect("/owa/auth/logon.aspx"), "/owa/auth/logon.aspx": Route(body=b"sign in")}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        result = run_probe(f"https://{HOST}/owa/", server, pki, follow_redirects=True)
    assert result.ok and result.status_code == 200 and result.body == b"sign in"
    assert [hop.status_code for hop in result.hops] == [302, 200]
    assert result.final_url == f"https://{HOST}/owa/auth/logon.aspx"
    assert result.redirected


def test_redirect_loop_stops(pki):
    routes = {"/a": Route.redirect("/b"), "/b": Route.redirect("/a")}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        result = run_probe(f"https://{HOST}/a", server, pki, follow_redirects=True, max_redirects=3)
    assert result.status_code == 302 and "Stopped after 3 redirects" in result.detail
    assert len(server.requests) == 4


@pytest.mark.parametrize("send_length", [True, False], ids=["content-length", "streamed"])
def test_body_over_the_cap_is_cut_and_flagged(pki, send_length):
    routes = {"/big": Route(body=b"x" * 300_000, send_length=send_length)}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        result = run_probe(f"https://{HOST}/big", server, pki, max_bytes=65536)
    assert result.ok and result.too_large
    assert len(result.body) <= 65536
    if not send_length:
        assert len(result.body) == 65536


def test_body_at_the_cap_is_not_too_large(pki):
    with HttpsTestServer(pki.valid(HOST), {"/exact": Route(body=b"y" * 1000)}) as server:
        result = run_probe(f"https://{HOST}/exact", server, pki, max_bytes=1000)
    assert not result.too_large and len(result.body) == 1000


@pytest.mark.parametrize("status", [401, 404, 500])
def test_error_statuses_are_answers_not_failures(pki, status):
    with HttpsTestServer(pki.valid(HOST), {"/x": Route(status=status, body=b"no")}) as server:
        result = run_probe(f"https://{HOST}/x", server, pki)
    assert result.ok and result.status_code == status


def test_slow_answer_times_out_within_the_timeout(pki):
    with HttpsTestServer(pki.valid(HOST), {"/slow": Route(delay=5)}) as server:
        started = time.monotonic()
        result = run_probe(f"https://{HOST}/slow", server, pki, timeout=0.5)
        elapsed = time.monotonic() - started
    assert result.failure is ProbeFailure.TIMEOUT
    assert "within 0.5 s" in result.detail
    assert elapsed < 2.0


def test_refused_connection_is_refused(pki):
    with refusing_address() as address:
        result = run_probe(f"https://{HOST}/", None, pki, connect_overrides={HOST: address})
    assert result.failure is ProbeFailure.REFUSED
    assert f"{address[0]}:{address[1]}" in result.detail


def test_plain_http_on_the_https_port_is_a_tls_failure(pki):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()

    def answer_plain_http() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(1024)
            connection.sendall(b"HTTP/1.0 200 OK\r\n\r\nhello")

    thread = threading.Thread(target=answer_plain_http, daemon=True)
    thread.start()
    try:
        result = run_probe(f"https://{HOST}/", None, pki, connect_overrides={HOST: listener.getsockname()})
    finally:
        thread.join(timeout=5)
        listener.close()
    assert result.failure is ProbeFailure.TLS


@pytest.mark.parametrize("url", ["ftp://contoso.test/", "https:///nohost", "not a url", ""])
def test_unusable_urls_are_reported_not_raised(pki, url):
    result = run_probe(url, None, pki)
    assert result.failure is ProbeFailure.INVALID_URL


def test_dns_failure_is_recognised_in_the_exception_chain():
    # the shape httpx gives an unresolvable name: ConnectError from httpcore's, from socket.gaierror
    try:
        try:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        except socket.gaierror as low:
            raise httpx.ConnectError("[Errno -2] Name or service not known") from low
    except httpx.ConnectError as exc:
        failure, detail = _classify(exc, "nowhere.contoso.test:443")
    assert failure is ProbeFailure.DNS
    assert "does not resolve" in detail


def test_endpoint_findings_warn_for_a_certificate_expiring_soon(pki):
    with HttpsTestServer(pki.valid(HOST, days=90), {"/": Route(body=b"hi")}) as server:
        result = run_probe(f"https://{HOST}/", server, pki)
    cert = result.certificate
    soon = endpoint_findings(result, check="owa", id_prefix="", label="OWA", now=cert.not_after - timedelta(days=5))
    assert [(f.id, f.severity) for f in soon] == [("owa.cert-expiring", Severity.WARN)]
    assert "days from now" in soon[0].message
    assert endpoint_findings(result, check="owa", id_prefix="", label="OWA", now=cert.not_after - timedelta(days=60)) == []
    late = endpoint_findings(result, check="owa", id_prefix="", label="OWA", now=cert.not_after + timedelta(days=1))
    assert [(f.id, f.severity) for f in late] == [("owa.cert-expired", Severity.FAIL)]


def test_endpoint_findings_for_failures_use_documented_slugs(pki):
    with HttpsTestServer(pki.valid("mail.fabrikam.test")) as server:
        result = run_probe(URL, server, pki)
    findings = endpoint_findings(result, check="autodiscover", id_prefix="https-", label="Autodiscover", now=result.certificate.not_before)
    assert [f.id for f in findings] == ["autodiscover.https-cert-name"]
    assert findings[0].severity is Severity.FAIL
    assert HOST in findings[0].fix
    assert findings[0].observed["certificate"]["names"] == ["mail.fabrikam.test"]
    assert findings[0].id.removeprefix("autodiscover.https-") in ENDPOINT_SLUGS


def test_timeouts_are_errors_not_failures(pki):
    with HttpsTestServer(pki.valid(HOST), {"/slow": Route(delay=5)}) as server:
        result = run_probe(f"https://{HOST}/slow", server, pki, timeout=0.3)
    findings = endpoint_findings(result, check="owa", id_prefix="", label="OWA", now=datetime.now(timezone.utc))
    assert [(f.id, f.severity) for f in findings] == [("owa.timeout", Severity.ERROR)]


@pytest.mark.parametrize(
    ("pattern", "host", "expected"),
    [
        ("mail.contoso.test", "MAIL.contoso.test.", True),
        ("*.contoso.test", "mx1.contoso.test", True),
        ("*.contoso.test", "contoso.test", False),
        ("*.contoso.test", "a.b.contoso.test", False),
        ("mx*.contoso.test", "mx1.contoso.test", False),
        ("*.*.contoso.test", "a.b.contoso.test", False),
        ("", "contoso.test", False),
    ],
)
def test_name_matching_allows_only_a_whole_leftmost_wildcard(pattern, host, expected):
    assert name_matches(pattern, host) is expected


@given(st.text(max_size=40), st.text(max_size=40))
def test_name_matching_never_raises(pattern, host):
    assert name_matches(pattern, host) in (True, False)


def test_ssl_context_is_used_as_given(pki):
    context = ssl.create_default_context()  # does not trust the test CA
    with HttpsTestServer(pki.valid(HOST), {"/": Route(body=b"hi")}) as server:
        result = run_probe(f"https://{HOST}/", server, pki, verify=context)
    assert result.failure is ProbeFailure.UNTRUSTED


def test_a_resolver_gives_the_address_and_the_name_stays_in_sni_and_host(pki, make_dns_server):
    dns_server = make_dns_server(zone_files=[], records=[(f"{HOST}.", "A", "127.0.0.1")])
    resolver = resolver_for(dns_server)
    with HttpsTestServer(pki.valid(HOST), {"/": Route(body=b"hi")}) as server:
        port = server.address[1]
        result = run_probe(f"https://{HOST}:{port}/", None, pki, resolver=resolver)
    assert result.ok, result.detail
    assert result.connected_to == ("127.0.0.1", port)
    assert server.requests == [("GET", f"{HOST}:{port}", "/")]


def test_a_name_the_resolver_does_not_know_is_a_dns_failure(pki, make_dns_server):
    dns_server = make_dns_server(zone_files=[], records=[("other.contoso.test.", "A", "127.0.0.1")])
    result = run_probe(f"https://{HOST}/", None, pki, resolver=resolver_for(dns_server))
    assert result.failure is ProbeFailure.DNS
    assert "does not exist" in result.detail or "no A or AAAA" in result.detail


def test_a_failed_look_up_is_a_lookup_error_reported_as_error(pki, make_dns_server):
    dns_server = make_dns_server(zone_files=[], records=[(f"{HOST}.", "A", "127.0.0.1")], faults={HOST: "servfail"})
    result = run_probe(f"https://{HOST}/", None, pki, resolver=resolver_for(dns_server))
    assert result.failure is ProbeFailure.LOOKUP_ERROR
    findings = endpoint_findings(result, check="owa", id_prefix="", label="OWA", now=datetime.now(timezone.utc))
    assert [(f.id, f.severity) for f in findings] == [("owa.lookup-error", Severity.ERROR)]


def test_a_redirect_target_is_looked_up_with_the_resolver_too(pki, make_dns_server):
    dns_server = make_dns_server(zone_files=[], records=[(f"{HOST}.", "A", "127.0.0.1")])
    with HttpsTestServer(pki.valid(HOST), {"/": Route.redirect("https://login.fabrikam.test/")}) as server:
        port = server.address[1]
        result = run_probe(f"https://{HOST}:{port}/", None, pki, resolver=resolver_for(dns_server), follow_redirects=True)
    assert result.failure is ProbeFailure.DNS
    assert result.final_url == "https://login.fabrikam.test/"
    assert [hop.status_code for hop in result.hops] == [302]


def test_the_timeout_bounds_the_whole_chain_of_redirects(pki):
    routes = {"/a": Route.redirect("/b"), "/b": Route(delay=0.4, status=302, headers={"Location": "/c"}, content_type=None),
              "/c": Route(delay=0.4, body=b"late")}
    with HttpsTestServer(pki.valid(HOST), routes) as server:
        started = time.monotonic()
        result = run_probe(f"https://{HOST}/a", server, pki, follow_redirects=True, timeout=0.6)
        elapsed = time.monotonic() - started
    assert result.failure is ProbeFailure.TIMEOUT
    assert elapsed < 1.2
