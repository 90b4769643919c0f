"""The `dkim` check: profile selectors and CNAME shapes, key parsing, revoked and weak keys."""

from __future__ import annotations

import asyncio
import base64
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support_dnsserver import DnsTestServer
from threer.checks import CheckOptions, check_domain
from threer.checks.context import CheckContext
from threer.checks.dkim import DkimKeyError, judge_key, key_bits, parse_tags, rsa_modulus_bits
from threer.checks.resolver import Lookup, LookupStatus
from threer.findings import Finding, Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def run_dkim(server: DnsTestServer, domain: str, profile: str | None) -> list[Finding]:
    options = CheckOptions(profile=profile, nameservers=[server.address], timeout=3.0, checks=("dkim",))
    return asyncio.run(check_domain(domain, options)).findings


def by_id(findings: list[Finding]) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = {}
    for f in findings:
        out.setdefault(f.id, []).append(f)
    return out


def test_m365_both_target_shapes_are_accepted(server) -> None:
    findings = run_dkim(server, "b-dkim-m365.example", "m365")
    # the 1024-bit key is valid, with RFC 8301's advice to move to 2048 bits as an info
    assert sorted(f.id for f in findings) == ["dkim.ok", "dkim.short-key"]
    s1, s2 = sorted(findings, key=lambda f: f.observed["selector"])
    assert s2.severity is Severity.INFO and "RFC 8301" in s2.message and s2.observed["bits"] == 1024
    assert "cname" in s1.observed
    assert s1.observed["bits"] == 2048 and s1.observed["cname"].endswith(".b-tenant.onmicrosoft.com")
    assert s2.observed["bits"] == 1024 and "r-v1.dkim.mail.microsoft" in s2.message


def test_2048_bit_key_needs_no_tcp(server) -> None:
    run_dkim(server, "b-dkim-m365.example", "m365")
    assert server.count("selector1-b-dkim-m365-example._domainkey.b-tenant.onmicrosoft.com", "TXT", "tcp") == 0


def test_missing_selectors_give_the_cname_to_add(server) -> None:
    findings = by_id(run_dkim(server, "b-dkim-missing.example", "m365"))
    assert len(findings["dkim.missing"]) == 2
    fix = findings["dkim.missing"][0].fix
    assert "selector1._domainkey.b-dkim-missing.example. 3600 IN CNAME " in fix
    # the label after selector1- and the tenant come from the admin centre: never guessed, said where to copy
    assert "selector1-<token>._domainkey.<tenant>.onmicrosoft.com." in fix
    assert "Microsoft 365 admin centre" in fix and "Get-DkimSigningConfig" in fix
    change = findings["dkim.missing"][0].changes[0]
    assert (change.action, change.name, change.rdtype) == ("add", "selector1._domainkey.b-dkim-missing.example", "CNAME")


def test_wrong_cname_and_target_without_key(server) -> None:
    findings = by_id(run_dkim(server, "b-dkim-mismatch.example", "m365"))
    mismatch = findings["dkim.cname-mismatch"][0]
    assert mismatch.severity is Severity.FAIL
    assert mismatch.observed == "selector1-b-dkim-mismatch-example._domainkey.elsewhere.b-dkim-m365.example"
    assert findings["dkim.cname-target-missing"][0].severity is Severity.WARN


def test_key_published_instead_of_cname(server) -> None:
    findings = by_id(run_dkim(server, "b-dkim-txt.example", "m365"))
    assert findings["dkim.not-cname"][0].severity is Severity.WARN
    assert findings["dkim.ok"][0].observed["selector"] == "selector1"  # the key itself is still fine
    assert "dkim.cname-mismatch" in findings  # selector2 points at another domain's key


def test_revoked_key(server) -> None:
    f = by_id(run_dkim(server, "b-dkim-revoked.example", "google"))["dkim.revoked"][0]
    assert f.severity is Severity.FAIL


def test_weak_key(server) -> None:
    f = by_id(run_dkim(server, "b-dkim-weak.example", "google"))["dkim.weak-key"][0]
    assert f.observed == {"bits": 512, "k": "rsa"}


def test_bad_record(server) -> None:
    f = by_id(run_dkim(server, "b-dkim-bad.example", "google"))["dkim.bad-record"][0]
    assert "k=dsa" in f.message


def test_two_records_at_one_selector(server) -> None:
    assert "dkim.multiple-records" in by_id(run_dkim(server, "b-dkim-two.example", "google"))


def test_google_selector_missing(server) -> None:
    f = by_id(run_dkim(server, "b-dkim-missing.example", "google"))["dkim.missing"][0]
    assert "google._domainkey.b-dkim-missing.example" in f.message


def test_without_profile_the_common_selectors_are_probed(server) -> None:
    assert [f.id for f in run_dkim(server, "b-dkim-missing.example", None)] == ["dkim.none-found"]
    findings = run_dkim(server, "b-dkim-weak.example", None)
    assert [f.id for f in findings] == ["dkim.weak-key"]


def test_servfail_is_an_error() -> None:
    with DnsTestServer(faults={"selector1._domainkey.b-dkim-m365.example": "servfail"}) as s:
        findings = by_id(run_dkim(s, "b-dkim-m365.example", "m365"))
    assert findings["dkim.lookup-error"][0].severity is Severity.ERROR
    assert len(findings.get("dkim.ok", []) + findings.get("dkim.short-key", [])) == 1


def test_modulus_bits_from_spki_and_pkcs1() -> None:
    # a hand-built PKCS#1 RSAPublicKey with a 1030-bit modulus
    modulus = (1 << 1029) | 1
    body = modulus.to_bytes(129, "big")
    integer = b"\x02\x81" + bytes([len(body)]) + body
    exponent = b"\x02\x03\x01\x00\x01"
    content = integer + exponent
    der = b"\x30\x81" + bytes([len(content)]) + content
    assert rsa_modulus_bits(der) == 1030
    assert key_bits("rsa", base64.b64encode(der).decode()) == 1030


def test_ed25519_key_length() -> None:
    assert key_bits("ed25519", base64.b64encode(bytes(32)).decode()) == 256
    with pytest.raises(DkimKeyError):
        key_bits("ed25519", base64.b64encode(bytes(31)).decode())


@pytest.mark.parametrize("p", ["!!!", "AAAA", base64.b64encode(b"\x30\x05\x02\x01").decode()])
def test_unreadable_keys_raise_key_error(p: str) -> None:
    with pytest.raises(DkimKeyError):
        key_bits("rsa", p)


def test_tags() -> None:
    assert parse_tags("v=DKIM1; k=rsa; p=AB CD") == {"v": "DKIM1", "k": "rsa", "p": "ABCD"}
    with pytest.raises(ValueError):
        parse_tags("v=DKIM1; v=DKIM1")


CTX = CheckContext(domain="contoso.com", resolver=None, profile=None, now=datetime(2026, 1, 1, tzinfo=timezone.utc))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=3))
def test_any_txt_at_a_selector_gives_findings_never_an_exception(records: list[str]) -> None:
    lookup = Lookup("s._domainkey.contoso.com", "TXT", LookupStatus.ANSWER, records=tuple(records))
    findings = judge_key(CTX, "s", lookup, profile_selector=True)
    assert findings and all(f.id.startswith("dkim.") for f in findings)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_any_der_bytes_give_bits_or_key_error(data: bytes) -> None:
    try:
        assert rsa_modulus_bits(data) >= 0
    except DkimKeyError:
        pass


def run_named(server: DnsTestServer, selectors: tuple[str, ...]) -> dict[str, list[Finding]]:
    options = CheckOptions(profile="none", nameservers=[server.address], timeout=3.0, checks=("dkim",),
                           dkim_selectors=list(selectors))
    return by_id(asyncio.run(check_domain("b-dkim-lab.example", options)).findings)


def test_a_key_restricted_to_sha1_fails(server) -> None:
    """Review 3 #22: h=sha1 allows only rsa-sha1 signatures (RFC 6376 §3.6.1), which verifiers must not accept
    (RFC 8301 §3.1): the key verifies nothing."""
    found = run_named(server, ("sha1only", "both"))
    [sha1] = found["dkim.sha1-only"]
    assert sha1.severity is Severity.FAIL and sha1.observed["h"] == "sha1"
    assert "RFC 8301 §3.1" in sha1.message and "without h= (or with h=sha256)" in sha1.fix
    assert [f.observed["selector"] for f in found["dkim.ok"]] == ["both"]  # h=sha1:sha256 allows sha256


def test_a_key_in_testing_mode_is_a_warning(server) -> None:
    [testing] = run_named(server, ("testing",))["dkim.testing"]
    assert testing.severity is Severity.WARN and "as unsigned (RFC 6376 §3.6.1)" in testing.message


def test_a_selector_cname_that_loops_is_a_fail_of_the_zone_not_a_lookup_error(server) -> None:
    found = run_named(server, ("loop1",))
    [loop] = found["dkim.cname-loop"]
    assert loop.severity is Severity.FAIL and "dkim.lookup-error" not in found
    assert "loop1._domainkey.b-dkim-lab.example → loop2._domainkey.b-dkim-lab.example → loop1" in loop.message
    assert "Remove the looping CNAME records" in loop.fix


def test_the_missing_selector2_is_read_from_selector1s_cname(server) -> None:
    """Review 3 #13: Microsoft's selectors differ only in their number, so selector2's record is the exact
    one, not <token>/<tenant> to copy."""
    [missing] = by_id(run_dkim(server, "b-dkim-lab.example", "m365"))["dkim.missing"]
    assert [c.line for c in missing.changes] == [
        "selector2._domainkey.b-dkim-lab.example. 3600 IN CNAME "
        "selector2-b-dkim-lab-example._domainkey.b-tenant.onmicrosoft.com."]
    assert "read from selector1._domainkey.b-dkim-lab.example" in missing.fix and "<" not in missing.fix


def test_a_wrong_cname_is_corrected_from_its_sibling(server) -> None:
    [mismatch] = by_id(run_dkim(server, "b-dkim-mismatch.example", "m365"))["dkim.cname-mismatch"]
    assert mismatch.changes[-1].line == ("selector1._domainkey.b-dkim-mismatch.example. 3600 IN CNAME "
                                         "selector1-b-dkim-mismatch-example._domainkey.b-tenant.onmicrosoft.com.")
