"""Every fix names a record in the customer's domain, or says plainly that it is someone else's side.

A technician reads the fix to the customer's DNS admin, who can change only the customer's zone:
a fix that asks for a record under a provider's host name (outlook.com, a provider's SPF include)
cannot be carried out. Against the real loopback DNS server.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from support_dnsserver import DnsTestServer, resolver_for, zone_domains
from threer.checks import CheckOptions, run_domain
from threer.checks.context import CheckContext
from threer.checks.dkim import check_dkim
from threer.checks.dmarc import organisational_domain
from threer.checks.mx import check_mx
from threer.checks.profiles import load_profile
from threer.checks.spf import check_spf

DOMAIN = "contoso.test"
# a record to paste, as record_fix writes it: "host. TTL IN TYPE value"
RECORD = re.compile(r"([A-Za-z0-9_.*-]+)\. \d+ IN [A-Z]+ ")
# a sentence that asks for a record by name: "add an A record for X", "(or CNAME) record for X"
RECORD_FOR = re.compile(r"record for ([a-z0-9_-]+\.[a-z0-9_.-]+)", re.I)  # a host name has a dot: not "record for this"


def in_domain(host: str, domain: str) -> bool:
    host = host.rstrip(".").lower()
    return host == domain or host.endswith("." + domain)


def foreign_records(fix: str | None, domain: str) -> list[str]:
    """Hosts a fix asks to publish a record at that are outside the domain (and its organisational domain)."""
    org = organisational_domain(domain)
    hosts = RECORD.findall(fix or "") + RECORD_FOR.findall(fix or "")
    return [h for h in hosts if not (in_domain(h, domain) or in_domain(h, org))]


# how a fix says plainly that a record it names is not the customer's to publish
NOT_THE_CUSTOMERS = ("provider's side", "owner", "not a record in the customer's DNS", "nothing to add to the customer's DNS")


def assert_customer_side(finding, domain: str = DOMAIN) -> None:
    foreign = foreign_records(finding.fix, domain)
    if foreign:
        assert any(phrase in finding.fix for phrase in NOT_THE_CUSTOMERS), (finding.id, foreign, finding.fix)


def test_the_audit_catches_a_record_asked_for_under_a_providers_host() -> None:
    from threer.findings import Finding, Severity

    def finding(fix):
        return Finding(id="owa.unreachable", check="owa", severity=Severity.FAIL, message="m", fix=fix)

    # what the owa check used to say for the m365 profile's OWA host
    with pytest.raises(AssertionError):
        assert_customer_side(finding("Add an A/AAAA (or CNAME) record for outlook.office.com pointing at the server."))
    with pytest.raises(AssertionError):
        assert_customer_side(finding('_spf.provider.test. 3600 IN TXT "v=spf1 -all"'))
    assert_customer_side(finding(f"{DOMAIN}. 3600 IN MX 0 contoso-test.mail.protection.outlook.com."))
    assert_customer_side(finding(f"_dmarc.{DOMAIN}. 3600 IN TXT \"v=DMARC1; p=none\""))


def run(check, records, profile=None):
    server = DnsTestServer(zone_files=[], records=records).start()
    try:
        ctx = CheckContext(domain=DOMAIN, resolver=resolver_for(server), profile=profile, dns_only=True)
        return asyncio.run(check(ctx))
    finally:
        server.stop()


def by_id(findings, finding_id):
    matches = [f for f in findings if f.id == finding_id]
    assert matches, [f.id for f in findings]
    return matches[0]


# -- SPF: records reached through a provider's include or redirect -------------------------------


def test_softfail_reached_through_a_redirect_is_fixed_in_the_customers_record() -> None:
    findings = run(
        check_spf,
        [
            (f"{DOMAIN}.", "TXT", '"v=spf1 redirect=_spf.provider.test"'),
            ("_spf.provider.test.", "TXT", '"v=spf1 ip4:127.0.0.1 ~all"'),
        ],
    )
    softfail = by_id(findings, "spf.all-softfail")
    assert RECORD.findall(softfail.fix) == [DOMAIN]
    assert '"v=spf1 include:_spf.provider.test -all"' in softfail.fix
    assert "not the customer's to change" in softfail.fix


def test_plus_all_in_a_providers_record_is_reported_not_rewritten() -> None:
    findings = run(
        check_spf,
        [(f"{DOMAIN}.", "TXT", '"v=spf1 redirect=_spf.provider.test"'), ("_spf.provider.test.", "TXT", '"v=spf1 +all"')],
    )
    passing = by_id(findings, "spf.all-pass")
    assert RECORD.findall(passing.fix) == []
    assert "report it to its owner" in passing.fix and f"SPF record of {DOMAIN}" in passing.fix


def _spf_adds(findings) -> set[str]:
    return {c.value for f in findings for c in f.changes if c.action == "add" and "v=spf1" in c.value}


def test_a_redirect_that_lists_the_senders_is_kept_and_the_all_goes() -> None:
    # "v=spf1 redirect=X -all": the -all decides and no server is listed; the redirect is what was meant
    findings = run(
        check_spf,
        [(f"{DOMAIN}.", "TXT", '"v=spf1 redirect=_spf.provider.test -all"'),
         ("_spf.provider.test.", "TXT", '"v=spf1 ip4:127.0.0.1 -all"')],
    )
    ignored = by_id(findings, "spf.redirect-ignored")
    assert ignored.severity.value == "warn" and "no server is listed" in ignored.message
    assert f'{DOMAIN}. 300 IN TXT "v=spf1 redirect=_spf.provider.test"' in ignored.fix
    assert _spf_adds(findings) == {'"v=spf1 redirect=_spf.provider.test"'}


def test_a_redirect_beside_listed_senders_is_the_leftover() -> None:
    findings = run(check_spf, [(f"{DOMAIN}.", "TXT", '"v=spf1 ip4:127.0.0.1 -all redirect=_spf.provider.test"'),
                               ("_spf.provider.test.", "TXT", '"v=spf1 ip4:127.0.0.2 -all"')])
    ignored = by_id(findings, "spf.redirect-ignored")
    assert ignored.severity.value == "info"
    assert _spf_adds(findings) == {'"v=spf1 ip4:127.0.0.1 -all"'}


@pytest.mark.parametrize(("record", "finding_id"), [("v=spf1 +all", "spf.all-pass"), ("v=spf1 ?all", "spf.all-neutral"),
                                                    ("v=spf1 ~all", "spf.all-softfail")])
def test_a_weak_all_alone_is_not_fixed_into_sends_no_mail(record, finding_id) -> None:
    findings = run(check_spf, [(f"{DOMAIN}.", "TXT", f'"{record}"'), (f"{DOMAIN}.", "MX", f"10 mx.{DOMAIN}."),
                               (f"mx.{DOMAIN}.", "A", "127.0.0.1")])
    weak = by_id(findings, finding_id)
    assert '"v=spf1 -all"' not in (weak.fix or "")
    assert '"v=spf1 mx -all"' in weak.fix and "list every service that sends mail" in weak.fix
    assert _spf_adds(findings) == {'"v=spf1 mx -all"'}


def test_a_weak_all_beside_a_redirect_gives_way_to_the_redirect() -> None:
    findings = run(check_spf, [(f"{DOMAIN}.", "TXT", '"v=spf1 redirect=_spf.provider.test ~all"'),
                               ("_spf.provider.test.", "TXT", '"v=spf1 ip4:127.0.0.1 -all"')])
    assert _spf_adds(findings) == {'"v=spf1 redirect=_spf.provider.test"'}


def test_own_redirect_target_is_still_fixed_in_place() -> None:
    findings = run(
        check_spf,
        [(f"{DOMAIN}.", "TXT", f'"v=spf1 redirect=_spf.{DOMAIN}"'), (f"_spf.{DOMAIN}.", "TXT", '"v=spf1 ip4:127.0.0.1 ?all"')],
    )
    neutral = by_id(findings, "spf.all-neutral")
    assert RECORD.findall(neutral.fix) == [f"_spf.{DOMAIN}"]
    assert '"v=spf1 ip4:127.0.0.1 -all"' in neutral.fix


def test_a_broken_include_inside_the_providers_record_is_theirs() -> None:
    findings = run(
        check_spf,
        [
            (f"{DOMAIN}.", "TXT", '"v=spf1 include:spf.provider.test -all"'),
            ("spf.provider.test.", "TXT", '"v=spf1 include:gone.provider.test -all"'),
        ],
    )
    missing = by_id(findings, "spf.include-missing")
    assert "include:gone.provider.test is in the SPF record of spf.provider.test" in missing.fix
    assert "the provider's side" in missing.fix
    assert f"Remove include:spf.provider.test from the SPF record of {DOMAIN} only if" in missing.fix


def test_a_broken_include_in_the_customers_own_sub_record_names_that_record() -> None:
    findings = run(
        check_spf,
        [
            (f"{DOMAIN}.", "TXT", f'"v=spf1 include:_spf.{DOMAIN} -all"'),
            (f"_spf.{DOMAIN}.", "TXT", '"v=spf1 include:gone.provider.test -all"'),
        ],
    )
    missing = by_id(findings, "spf.include-missing")
    assert missing.fix == f"Remove include:gone.provider.test from the SPF record of _spf.{DOMAIN}, or correct the domain name in it."


def test_a_syntax_error_deep_in_the_providers_tree_is_theirs() -> None:
    findings = run(
        check_spf,
        [
            (f"{DOMAIN}.", "TXT", '"v=spf1 include:spf.provider.test -all"'),
            ("spf.provider.test.", "TXT", '"v=spf1 include:bad.provider.test -all"'),
            ("bad.provider.test.", "TXT", '"v=spf1 ip4:999.1.1.1 -all"'),
        ],
    )
    syntax = by_id(findings, "spf.syntax")
    assert "spf.provider.test" in syntax.fix and "provider's side" in syntax.fix
    assert "Remove include:bad.provider.test" not in syntax.fix


def test_ptr_in_the_providers_redirect_target_is_theirs() -> None:
    findings = run(
        check_spf,
        [(f"{DOMAIN}.", "TXT", '"v=spf1 redirect=_spf.provider.test"'), ("_spf.provider.test.", "TXT", '"v=spf1 ptr -all"')],
    )
    ptr = by_id(findings, "spf.ptr")
    assert RECORD.findall(ptr.fix) == [] and "provider's side" in ptr.fix


def test_void_look_ups_in_the_providers_record_are_theirs() -> None:
    findings = run(
        check_spf,
        [
            (f"{DOMAIN}.", "TXT", '"v=spf1 include:spf.provider.test -all"'),
            ("spf.provider.test.", "TXT", '"v=spf1 a:v1.provider.test a:v2.provider.test a:v3.provider.test -all"'),
        ],
    )
    void = by_id(findings, "spf.void-limit")
    assert "Remove the terms" not in void.fix
    assert "outside contoso.test" in void.fix and "provider's side" in void.fix


# -- MX: a host that does not resolve ----------------------------------------------------------


def test_mx_host_of_the_provider_that_does_not_resolve_is_the_providers_side() -> None:
    findings = run(check_mx, [(f"{DOMAIN}.", "MX", "0 contoso-test.mail.protection.outlook.com.")], load_profile("m365"))
    unresolvable = by_id(findings, "mx.host-unresolvable")
    assert "add an A record" not in unresolvable.fix
    assert "provider's admin centre" in unresolvable.fix and "not a record in the customer's DNS" in unresolvable.fix


def test_mx_host_elsewhere_is_corrected_not_given_an_address() -> None:
    findings = run(check_mx, [(f"{DOMAIN}.", "MX", "10 mx.elsewhere.test.")])
    fix = by_id(findings, "mx.host-unresolvable").fix
    assert 'Correct the MX record "10 mx.elsewhere.test"' in fix and "add an A record" not in fix


def test_mx_host_in_the_customers_domain_may_get_an_address() -> None:
    findings = run(check_mx, [(f"{DOMAIN}.", "MX", f"10 mail.{DOMAIN}.")])
    assert f"add an A record for mail.{DOMAIN}" in by_id(findings, "mx.host-unresolvable").fix


# -- every test zone, every check, every profile -----------------------------------------------


@pytest.mark.parametrize("profile", [None, "m365", "google"])
def test_no_fix_in_any_test_zone_asks_for_a_record_outside_the_domain(profile) -> None:
    with DnsTestServer() as server:
        # not --dns-only: the HTTPS checks (autodiscover, MTA-STS, OWA) give their fixes too; every address
        # in the zones is loopback, where nothing serves HTTPS, so they fail fast
        options = CheckOptions(profile=profile, nameservers=[server.address], timeout=3.0)

        async def all_domains():
            gate = asyncio.Semaphore(10)

            async def one(domain: str):
                async with gate:
                    return await run_domain(domain, options)

            return await asyncio.gather(*(one(d) for d in zone_domains()))

        outcomes = asyncio.run(all_domains())
    checked = 0
    for outcome in outcomes:
        for finding in outcome.report.findings:
            if finding.fix:
                checked += 1
                assert_customer_side(finding, outcome.report.domain)
    assert checked > 50


# -- DKIM: a key behind the provider's CNAME is the provider's ----------------------------------

WEAK_KEY = (
    "v=DKIM1; k=rsa; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMVo4+Z5d9gaTJEuIQMJdxmDCa/OBVskJp5bvbVkNmXSmxO8XuFQJN49"
    "Wcp2TtcqztZz1ZsOPwMPPCP6TcUeT30CAwEAAQ=="
)


@pytest.mark.parametrize(
    ("key", "finding_id"),
    [(WEAK_KEY, "dkim.weak-key"), ("v=DKIM1; k=rsa; p=", "dkim.revoked"), ("v=DKIM1; k=rsa", "dkim.bad-record")],
)
def test_a_bad_key_behind_the_providers_cname_is_the_providers(key, finding_id) -> None:
    target = "selector1-contoso-test._domainkey.tenant.onmicrosoft.com"
    findings = run(
        check_dkim,
        [
            (f"selector1._domainkey.{DOMAIN}.", "CNAME", f"{target}."),
            (f"selector2._domainkey.{DOMAIN}.", "CNAME", "selector2-contoso-test._domainkey.tenant.onmicrosoft.com."),
            (f"{target}.", "TXT", f'"{key}"'),
        ],
        load_profile("m365"),
    )
    bad = by_id(findings, finding_id)
    assert f"CNAME to {target}" in bad.fix and "provider's side" in bad.fix and "escalate to the provider" in bad.fix
    assert "Publish" not in bad.fix and "publish it in place" not in bad.fix


def test_a_bad_key_in_the_customers_own_record_is_theirs_to_replace() -> None:
    findings = run(check_dkim, [(f"google._domainkey.{DOMAIN}.", "TXT", f'"{WEAK_KEY}"')], load_profile("google"))
    assert "provider's side" not in by_id(findings, "dkim.weak-key").fix
