"""SPF terms written after `all` (RFC 7208 §5.1: never tested, MUST be ignored), review 3 #30, and a
fail's record that changes only what the fail needs while an info's hardening stays advice (#31)."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks import CHECKS, CheckOptions, check_domains
from threer.checks.context import CheckContext
from threer.checks.profiles import Profile
from threer.checks.spf import check_host, check_spf, parse_record, spf_tree
from threer.cli.check_dns import zone_fix_lines
from threer.findings import Severity

D = "d-spf-after.example"
M365 = Profile(name="m365", spf_includes=["spf.protection.outlook.com"])


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as running:
        yield running


def spf(server, name, profile=M365):
    async def main():
        return await check_spf(CheckContext(domain=name, resolver=resolver_for(server), profile=profile))

    return {f.id: f for f in asyncio.run(main())}


def test_the_parser_tells_what_is_evaluated():
    record = parse_record("v=spf1 mx -all include:a.example.com ~all exp=x.example.com")
    assert [m.text for m in record.evaluated] == ["mx", "-all"]
    assert [m.text for m in record.after_all] == ["include:a.example.com", "~all"]
    assert record.lookup_terms == 1
    assert parse_record("v=spf1 mx include:a.example.com").after_all == ()


def test_the_provider_include_after_all_is_a_fail_not_ok(server):
    found = spf(server, D)
    assert "spf.ok" not in found
    after = found["spf.terms-after-all"]
    assert after.severity is Severity.FAIL
    assert after.observed == {"record": "v=spf1 -all include:spf.protection.outlook.com", "all": "-all",
                              "ignored": ["include:spf.protection.outlook.com"]}
    assert "RFC 7208 §5.1" in after.message and "include:spf.protection.outlook.com" in after.message
    line = f'{D}. 300 IN TXT "v=spf1 include:spf.protection.outlook.com -all"'
    assert [c.line for c in after.changes if c.action == "add"] == [line]
    # the profile's include is judged where receivers evaluate it: not there, said why, the same record
    include = found["spf.profile-include-missing"]
    assert include.severity is Severity.FAIL and "written after -all" in include.message
    assert [c.line for c in include.changes if c.action == "add"] == [line]


def test_the_receivers_verdict_agrees(server):
    async def main():
        resolver = resolver_for(server)
        return await asyncio.gather(check_host(resolver, "127.0.30.9", D, f"user@{D}"), spf_tree(resolver, D))

    result, tree = asyncio.run(main())
    assert result.result == "fail"
    assert tree.total_lookups == 0 and tree.children == []


def test_look_ups_after_all_cost_nothing(server):
    found = spf(server, f"costlyafter.{D}", profile=None)
    assert "spf.lookup-limit" not in found
    after = found["spf.terms-after-all"]
    # moving the four includes before -all would need 16 look-ups: no record is proposed, and why is said
    assert after.changes == [] and "16 DNS look-ups" in (after.fix or "")


def test_an_ignored_broken_include_is_no_permerror_and_costs_no_other_fix_its_record(server):
    found = spf(server, f"brokenafter.{D}")
    assert "spf.include-missing" not in found
    assert found["spf.terms-after-all"].changes == []
    include = found["spf.profile-include-missing"]
    assert [c.line for c in include.changes if c.action == "add"] == [
        f'brokenafter.{D}. 300 IN TXT "v=spf1 ip4:127.0.77.1 include:spf.protection.outlook.com -all '
        f'include:nothing.{D}"']


@pytest.mark.parametrize(
    ("name", "severity", "record"),
    [
        ("twoall", Severity.INFO, "v=spf1 ip4:127.0.77.1 -all"),
        ("neutral", Severity.WARN, "v=spf1 ip4:127.0.77.1 ?ip4:127.0.77.2 -all"),
    ],
)
def test_what_is_ignored_decides_the_severity(server, name, severity, record):
    finding = spf(server, f"{name}.{D}", profile=None)["spf.terms-after-all"]
    assert finding.severity is severity
    assert [c.line for c in finding.changes if c.action == "add"] == [f'{name}.{D}. 300 IN TXT "{record}"']


def test_a_fails_record_keeps_softfail_and_the_infos_record_is_advice(server):
    found = spf(server, f"soft.{D}")
    exp = f"exp=explain._spf.soft.{D}"
    include = found["spf.profile-include-missing"]
    assert include.changes[-1].line == (f'soft.{D}. 300 IN TXT "v=spf1 include:_spf.soft.{D} '
                                        f'include:spf.protection.outlook.com ~all {exp}"')
    assert "one record for" not in (include.fix or "")
    soft = found["spf.all-softfail"]
    assert soft.severity is Severity.INFO
    assert soft.changes[-1].line == (f'soft.{D}. 300 IN TXT "v=spf1 include:_spf.soft.{D} '
                                     f'include:spf.protection.outlook.com -all {exp}"')
    assert "also makes the changes of spf.profile-include-missing" in (soft.fix or "")


def test_fixes_paste_one_spf_record_and_show_the_hardening_as_advice(server):
    options = CheckOptions(profile="m365", nameservers=[server.address], timeout=5.0, dns_only=True, checks=CHECKS)
    report = check_domains([f"soft.{D}"], options)[0]
    lines = zone_fix_lines(report)
    pasted = [line for line in lines if not line.startswith(";") and " IN TXT " in line and "v=spf1" in line]
    assert pasted == [f'soft.{D}. 300 IN TXT "v=spf1 include:_spf.soft.{D} include:spf.protection.outlook.com ~all '
                      f'exp=explain._spf.soft.{D}"']
    assert any(line.startswith("; advice, in place of the record above") and "-all" in line for line in lines)
