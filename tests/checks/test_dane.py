"""The `dane` check: TLSA records at _25._tcp.HOST, compared with the certificate a real SMTP server presented."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import datetime, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from support_dnsserver import DnsTestServer, resolver_for
from support_smtplab import GOOD, SmtpLab, leaf_der
from threer.checks.context import CheckContext
from threer.checks.dane import FINDING_IDS, check_dane
from threer.checks.smtp import check_smtp
from threer.findings import Severity

GOOD_TLSA = "_25._tcp.mx.good.k-smtp.example"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with SmtpLab(tmp_path_factory.mktemp("dane")) as started:
        yield started


def spki_sha256(der: bytes) -> str:
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).hexdigest()


def run(server: DnsTestServer, lab: SmtpLab, domain: str, *, dns_only: bool = False, with_smtp: bool = False):
    async def both():
        ctx = CheckContext(
            domain=domain, resolver=resolver_for(server), verify=lab.ca_file, http_timeout=2.0,
            now=datetime.now(timezone.utc), smtp_port=lab.port, dns_only=dns_only,
        )
        dane = check_dane(ctx)
        if with_smtp:
            return await asyncio.gather(dane, check_smtp(ctx))
        return await dane

    return asyncio.run(both())


def ids(findings):
    return [(f.id, f.severity) for f in findings]


def test_matching_validated_record_is_ok(lab) -> None:
    records = [(GOOD_TLSA, "TLSA", f"3 1 1 {spki_sha256(leaf_der(lab, GOOD))}")]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "good.k-smtp.example")
    assert ids(findings) == [("dane.ok", Severity.OK)]
    assert findings[0].observed["validated"] is True
    assert findings[0].observed["records"][0]["usage"] == "3 DANE-EE" and findings[0].observed["records"][0]["matches"]


def test_full_certificate_record_and_one_stale_record(lab) -> None:
    full = hashlib.sha512(leaf_der(lab, GOOD)).hexdigest()
    records = [(GOOD_TLSA, "TLSA", f"3 0 2 {full}"), (GOOD_TLSA, "TLSA", "3 1 1 " + "ab" * 32)]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "good.k-smtp.example")
    assert ids(findings) == [("dane.ok", Severity.OK)]
    assert "1 of 2 TLSA records match" in findings[0].message


def test_the_smtp_session_is_shared_with_the_smtp_check(lab) -> None:
    records = [(GOOD_TLSA, "TLSA", f"3 1 1 {spki_sha256(leaf_der(lab, GOOD))}")]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        dane, smtp = run(server, lab, "good.k-smtp.example", with_smtp=True)
    assert ids(dane) == [("dane.ok", Severity.OK)] and ids(smtp) == [("smtp.ok", Severity.OK)]
    assert lab_connections_were_one_per_host(server)


def lab_connections_were_one_per_host(server: DnsTestServer) -> bool:
    # one look-up of the MX host's address: both checks used the same probe
    return [q for q in server.query_log if q[0] == "mx.good.k-smtp.example" and q[1] == "A"].__len__() == 1


def test_unvalidated_answer_is_a_warning_even_when_it_matches(lab) -> None:
    records = [(GOOD_TLSA, "TLSA", f"3 1 1 {spki_sha256(leaf_der(lab, GOOD))}")]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records) as server:
        findings = run(server, lab, "good.k-smtp.example")
    assert ids(findings) == [("dane.not-validated", Severity.WARN)]
    assert "AD bit" in findings[0].message


def test_record_that_matches_nothing_fails_with_the_record_to_publish(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "wrongname.k-smtp.example")
    assert ids(findings) == [("dane.mismatch", Severity.FAIL)]
    wanted = spki_sha256(leaf_der(lab, "127.0.11.3"))
    assert f"_25._tcp.mx.wrongname.k-smtp.example. 3600 IN TLSA 3 1 1 {wanted}" in findings[0].fix


def test_tlsa_without_starttls_fails(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], authenticated=["k-smtp.example"]) as server:
        assert ids(run(server, lab, "plain.k-smtp.example")) == [("dane.no-starttls", Severity.FAIL)]


def test_pkix_usages_are_unusable_for_smtp(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "expired.k-smtp.example")
    assert ids(findings) == [("dane.unusable", Severity.WARN)]
    assert findings[0].observed["records"][0]["usage"] == "1 PKIX-EE"


def test_no_tlsa_anywhere_is_info(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"]) as server:
        assert ids(run(server, lab, "silent.k-smtp.example")) == [("dane.none", Severity.INFO)]
        assert run(server, lab, "nomail.k-smtp.example") == []


def test_dns_only_reports_the_records_without_comparing(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "wrongname.k-smtp.example", dns_only=True)
        assert not [q for q in server.query_log if q[0] == "mx.wrongname.k-smtp.example"]  # no SMTP, so no address
    assert ids(findings) == [("dane.not-compared", Severity.INFO)]
    assert "--dns-only" in findings[0].message


def test_unreachable_server_is_not_compared(lab) -> None:
    records = [("_25._tcp.mx.closed.k-smtp.example", "TLSA", "3 1 1 " + "cd" * 32)]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "closed.k-smtp.example")
    assert ids(findings) == [("dane.not-compared", Severity.INFO)]
    assert "the connection was refused" in findings[0].message


def test_failed_tlsa_lookup_is_an_error(lab) -> None:
    with DnsTestServer(zone_files=["k-smtp.zone"], faults={(GOOD_TLSA, "TLSA"): "servfail"}) as server:
        findings = run(server, lab, "good.k-smtp.example")
    assert ids(findings) == [("dane.lookup-error", Severity.ERROR)]
    assert {f.id for f in findings} <= FINDING_IDS


def test_each_address_of_a_host_is_matched_with_its_own_certificate(lab) -> None:
    from support_smtplab import TWO_BAD, TWO_GOOD

    name = "_25._tcp.mx.two.k-smtp.example"
    records = [(name, "TLSA", f"3 1 1 {spki_sha256(leaf_der(lab, TWO_GOOD))}")]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "two.k-smtp.example")
    assert ids(findings) == [("dane.mismatch", Severity.FAIL)]
    assert f"its address {TWO_BAD} presented" in findings[0].message and TWO_GOOD not in findings[0].message
    assert findings[0].observed["addresses"] == {TWO_GOOD: True, TWO_BAD: False}
    assert spki_sha256(leaf_der(lab, TWO_BAD)) in findings[0].fix  # the record for the key the bad one uses


def test_a_host_whose_every_address_matches_is_ok(lab) -> None:
    from support_smtplab import TWO_BAD, TWO_GOOD

    name = "_25._tcp.mx.two.k-smtp.example"
    records = [(name, "TLSA", f"3 1 1 {spki_sha256(leaf_der(lab, address))}") for address in (TWO_GOOD, TWO_BAD)]
    with DnsTestServer(zone_files=["k-smtp.zone"], records=records, authenticated=["k-smtp.example"]) as server:
        findings = run(server, lab, "two.k-smtp.example")
    assert ids(findings) == [("dane.ok", Severity.OK)]
    assert f"each of its addresses {TWO_GOOD} and {TWO_BAD} presented matches" in findings[0].message
