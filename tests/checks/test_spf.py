"""SPF: the parser's errors, check_host() beyond the RFC suite, and every finding of check_spf."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks.context import CheckContext
from threer.checks.profiles import Profile
from threer.checks.spf import (
    FINDING_IDS,
    SpfSyntaxError,
    check_host,
    check_spf,
    parse_record,
    spf_tree,
    txt_value,
)
from threer.errors import BadInput
from threer.findings import Severity

D = "a-spf.example"
PROFILE = Profile(name="test", spf_includes=[f"spf.provider.{D}"], sending_ips=["127.0.10.0/24", "127.0.11.7"])


@pytest.fixture(scope="module")
def server():
    faults = {f"dead.{D}": "timeout"}
    with DnsTestServer(zone_files=["a-spf.zone"], faults=faults) as running:
        yield running


def spf(server, name, profile=None, timeout=1.0):
    async def main():
        ctx = CheckContext(domain=f"{name}.{D}", resolver=resolver_for(server, timeout=timeout), profile=profile)
        return await check_spf(ctx)

    findings = asyncio.run(main())
    assert findings, "every check emits at least one finding"
    assert all(f.id in FINDING_IDS and f.check == "spf" for f in findings)
    return {f.id: f for f in findings}


def host(server, ip, name, sender=None, timeout=1.0):
    async def main():
        return await check_host(resolver_for(server, timeout=timeout), ip, f"{name}.{D}", sender or f"user@{name}.{D}")

    return asyncio.run(main())


# -- the parser ------------------------------------------------------------------------------------


def test_parse_record_terms():
    record = parse_record("v=spf1 +a mx/24 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.example.com ~all exp=x.example.com")
    assert [m.name for m in record.mechanisms] == ["a", "mx", "ip4", "ip6", "include", "all"]
    assert [m.qualifier for m in record.mechanisms] == ["+", "+", "+", "+", "+", "~"]
    assert record.mechanisms[1].cidr4 == 24
    assert record.exp is not None and record.lookup_terms == 3


@pytest.mark.parametrize(
    ("text", "term", "index", "words"),
    [
        ("v=spf1 ip4:192.0.2.300 -all", "ip4:192.0.2.300", 1, "IPv4"),
        ("v=spf1 a mx includ:x.example.com -all", "includ:x.example.com", 3, "unknown mechanism"),
        ("v=spf1 a:example -all", "a:example", 1, "top-level label"),
        ("v=spf1 -all redirect=a.example.com redirect=b.example.com", "redirect=b.example.com", 3, "only once"),
        ("v=spf1 exists:%{z}.example.com", "exists:%{z}.example.com", 1, "not a macro letter"),
        ("v=spf1 a/33", "a/33", 1, "larger than 32"),
        ("v=spf1 ip4:192.0.2.1\t-all", "ip4:192.0.2.1\t-all", 1, "IPv4"),
        ("v=spf1 a:b\u00e9.example.com", "a:b\u00e9.example.com", 1, "non-ASCII"),
        ("v=spf1 redirect:x.example.com", "redirect:x.example.com", 1, "modifier"),
    ],
)
def test_syntax_errors_point_at_the_term(text, term, index, words):
    with pytest.raises(SpfSyntaxError) as caught:
        parse_record(text)
    error = caught.value
    assert error.term == term and error.index == index
    assert text[error.position :].startswith(term)
    assert words in str(error)


def test_not_an_spf_record():
    with pytest.raises(SpfSyntaxError, match="v=spf1"):
        parse_record("v=spf10 -all")


@given(st.text(max_size=200))
@settings(max_examples=300, deadline=None)
def test_any_string_parses_or_gives_a_clear_error(text):
    for candidate in (text, "v=spf1 " + text):
        try:
            parse_record(candidate)
        except SpfSyntaxError as exc:
            assert str(exc)


_TERM = st.sampled_from(
    ["a", "mx", "-all", "~all", "?all", "+all", "ptr", "ip4:127.0.10.1", "ip6:::1", "a:mail.a-spf.example/24",
     "include:spf.provider.a-spf.example", "include:loop.a-spf.example", "exists:%{i}._allow.a-spf.example",
     "redirect=good.a-spf.example", "exp=explain.a-spf.example", "mx:gone3.a-spf.example", "a:%{l}.x%{d2}", "foo=bar",
     "include:dead.a-spf.example", "%{", "ip4:1.2.3", "a//129"]
)


@given(st.lists(_TERM, max_size=12), st.sampled_from(["127.0.10.9", "127.0.60.5", "::1", "192.0.2.1"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_record_evaluates_to_a_result_never_an_exception(server, terms, ip):
    record = " ".join(["v=spf1", *terms])
    server.replace_records(f"fuzz.{D}", "TXT", [txt_value(record)])
    outcome = host(server, ip, "fuzz", timeout=0.2)
    assert outcome.result in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")


def test_txt_value_quotes_and_splits():
    assert txt_value('v=spf1 "x" -all') == '"v=spf1 \\"x\\" -all"'
    long = "v=spf1 " + " ".join(f"ip4:127.0.{i}.0/24" for i in range(40)) + " -all"
    assert txt_value(long).count('" "') == len(long) // 255


# -- check_host beyond the suite -------------------------------------------------------------------


def test_check_host_pass_and_fail_with_budget(server):
    passed = host(server, "127.0.10.9", "good")
    assert passed.result == "pass"
    assert passed.matched == f"good.{D}: include:spf.provider.{D}"
    assert passed.lookups == 1 and passed.lookup_budget == {f"include:spf.provider.{D}": 1}
    assert host(server, "127.0.99.1", "good").result == "fail"


def test_check_host_macros_and_explanation(server):
    assert host(server, "127.0.60.5", "macros").result == "pass"
    failed = host(server, "127.0.60.6", "macros", sender="bob@macros.a-spf.example")
    assert failed.result == "fail"
    assert failed.explanation == "127.0.60.6 is not allowed to send mail as bob@macros.a-spf.example"


def test_check_host_limits_and_loops(server):
    over = host(server, "127.0.99.1", "overlimit")
    assert over.result == "permerror" and "more than 10" in over.reason
    void = host(server, "127.0.99.1", "void")
    assert void.result == "permerror" and "found nothing" in void.reason
    loop = host(server, "127.0.99.1", "loop")
    assert loop.result == "permerror" and "loops back" in loop.reason


def test_a_dead_include_is_temperror_within_the_timeout(server):
    started = time.monotonic()
    outcome = host(server, "127.0.99.1", "includedead", timeout=0.3)
    assert outcome.result == "temperror"
    assert time.monotonic() - started < 1.5


def test_check_host_rejects_a_bad_ip(server):
    with pytest.raises(BadInput, match="not an IP address"):
        host(server, "not-an-ip", "good")


def test_spf_tree_budget(server):
    async def main():
        return await spf_tree(resolver_for(server), f"overlimit.{D}")

    tree = asyncio.run(main())
    assert tree.total_lookups == 16
    assert tree.budget() == {f"include:l{i}.{D}": 4 for i in range(1, 5)}


def test_queries_run_concurrently_and_once(make_dns_server):
    server = make_dns_server(["a-spf.zone"], delay=0.1)

    async def main():
        ctx = CheckContext(domain=f"overlimit.{D}", resolver=resolver_for(server), profile=PROFILE)
        return await check_spf(ctx)

    started = time.monotonic()
    asyncio.run(main())
    elapsed = time.monotonic() - started
    # root TXT, the four includes, their a/mx targets, the MX hosts' addresses, and the proposed fix's
    # new include: a handful of levels of 0.1 s, far from the 3 s of 30 queries asked in turn (the bound
    # leaves room for a loaded machine)
    assert elapsed < 2.0
    counts = server.question_counts()
    assert counts and max(counts.values()) == 1
    assert not any(t == "SPF" for _, t in counts)  # the obsolete SPF type is never asked for


# -- check_spf findings ----------------------------------------------------------------------------


def test_good_record_is_ok(server):
    found = spf(server, "good", PROFILE)
    assert list(found) == ["spf.ok"]
    assert found["spf.ok"].observed["lookups"] == 1


def test_missing_record(server):
    found = spf(server, "nospf", PROFILE)
    finding = found["spf.missing"]
    assert finding.severity is Severity.FAIL
    assert finding.fix == f'nospf.{D}. 3600 IN TXT "v=spf1 include:spf.provider.{D} -all"'
    assert spf(server, "doesnotexist")["spf.missing"].message.startswith(f"doesnotexist.{D} does not exist")


def test_two_records(server):
    finding = spf(server, "two")["spf.multiple"]
    assert finding.severity is Severity.FAIL
    assert finding.fix.startswith(f"Delete all 2 SPF TXT records of two.{D}")
    merged = finding.expected.split()
    assert merged[0] == "v=spf1" and merged[-1] == "-all"
    assert sorted(merged[1:-1]) == sorted([f"include:spf.provider.{D}", "ip4:127.0.50.1", "mx"])
    assert f'"{finding.expected}"' in finding.fix


def test_syntax_error_names_the_term(server):
    finding = spf(server, "syntax")["spf.syntax"]
    assert finding.observed["term"] == "ip4:127.0.0.300" and finding.observed["term_number"] == 1
    assert "ip4:127.0.0.300" in finding.message and "permerror" in finding.message


def test_syntax_error_in_an_address_proposes_the_record_without_it(server):
    """The record with the broken ip4: term left out is valid, so it is the fix (review 2 #3)."""
    finding = spf(server, "syntax")["spf.syntax"]
    line = f'syntax.{D}. 300 IN TXT "v=spf1 include:spf.provider.{D} -all"'
    assert [c.line for c in finding.changes if c.action == "add"] == [line]
    assert [c.action for c in finding.changes] == ["remove", "add"]
    assert line in finding.fix and "Correct the address in" in finding.fix


@pytest.mark.parametrize("name", ["syntax", "syntaxptr"])
def test_the_record_proposed_for_a_syntax_error_passes_threers_own_check(server, name):
    # the proposal is served as the domain's record and checked again: no fail, no warn of its own
    finding = spf(server, name)["spf.syntax"]
    proposed = [c for c in finding.changes if c.action == "add"]
    assert len(proposed) == 1
    record = proposed[0].value
    with DnsTestServer(zone_files=["a-spf.zone"], records=[(f"again.{D}", "TXT", record),
                                                           (f"again.{D}", "MX", f"10 mail.syntaxptr.{D}.")]) as again:
        found = spf(again, "again")
    assert not [f.id for f in found.values() if f.severity in (Severity.FAIL, Severity.WARN)], found
    assert "+all" not in record and " ptr" not in record


def test_a_syntax_error_before_plus_all_never_proposes_plus_all(server):
    # `ip4:x/33 +all` without the term is `v=spf1 +all`: every server passes; the address is to be corrected
    finding = spf(server, "syntaxpass")["spf.syntax"]
    assert finding.changes == [] and "+all" not in (finding.expected or "")
    assert "Correct the address in 'ip4:127.0.0.0/33'" in finding.fix
    assert "name no sending server, only its '+all', so no record is proposed" in finding.fix
    only = spf(server, "syntaxonly")["spf.syntax"]  # `v=spf1 -all` would stop all of the domain's mail
    assert only.changes == [] and "only its '-all'" in only.fix
    # the same when what is left names no server only once the other fixes are made (ptr goes), or names
    # servers only to fail them
    for name, left in (("syntaxptronly", "'-all'"), ("syntaxfailonly", "'~all'")):
        finding = spf(server, name)["spf.syntax"]
        assert finding.changes == [] and f"only its {left}, so no record is proposed" in finding.fix, name


def test_a_syntax_error_with_more_wrong_fixes_them_in_the_same_record(server):
    finding = spf(server, "syntaxptr")["spf.syntax"]
    line = next(c.line for c in finding.changes if c.action == "add")
    assert line == f'syntaxptr.{D}. 300 IN TXT "v=spf1 mx -all"'
    assert "this record also fixes what the record without the term would still have: spf.all-pass, spf.ptr" in finding.fix


def test_no_record_through_an_include_that_does_not_exist_reads_right(server):
    fix = spf(server, "deadnest")["spf.all-pass"].fix
    assert f"include:nothere.{D} would lead to nothere.{D}, which does not exist." in fix
    assert "which has the domain" not in fix


def test_multi_string_record_is_joined(server):
    assert "spf.ok" in spf(server, "multistring")


def test_include_loop(server):
    found = spf(server, "loop")
    assert found["spf.include-loop"].severity is Severity.FAIL
    assert "loop" in spf(server, "self")["spf.include-loop"].message


def test_lookup_limit_shows_the_budget_per_include(server):
    finding = spf(server, "overlimit")["spf.lookup-limit"]
    assert finding.severity is Severity.FAIL
    assert finding.observed["lookups"] == 16
    assert finding.observed["lookup_budget"][f"include:l1.{D}"] == 4
    near = spf(server, "nearlimit")["spf.lookup-limit"]
    assert near.severity is Severity.WARN and near.observed["lookups"] == 10


def test_void_limit(server):
    finding = spf(server, "void")["spf.void-limit"]
    assert len(finding.observed) == 3 and f"a:gone1.{D}" in finding.fix


@pytest.mark.parametrize(
    ("name", "finding_id", "severity"),
    [
        ("plusall", "spf.all-pass", Severity.FAIL),
        ("neutralall", "spf.all-neutral", Severity.WARN),
        ("softall", "spf.all-softfail", Severity.INFO),
        ("noall", "spf.all-missing", Severity.WARN),
    ],
)
def test_all_qualifiers(server, name, finding_id, severity):
    finding = spf(server, name)[finding_id]
    assert finding.severity is severity
    assert finding.fix == f'{name}.{D}. 300 IN TXT "v=spf1 include:spf.provider.{D} -all"'


def test_redirect_takes_the_all_of_its_target(server):
    assert list(spf(server, "redirect", PROFILE)) == ["spf.ok"]
    found = spf(server, "redirectall")
    assert found["spf.redirect-ignored"].severity is Severity.INFO


def test_ptr_is_flagged(server):
    finding = spf(server, "ptr")["spf.ptr"]
    assert finding.severity is Severity.WARN
    assert f'"v=spf1 include:spf.provider.{D} -all"' in finding.fix


def test_broken_includes(server):
    assert spf(server, "includemissing")["spf.include-missing"].observed["domain"] == f"nothing.{D}"
    nested = spf(server, "includesyntax")["spf.syntax"]
    assert nested.observed["domain"] == f"badinc.{D}" and nested.observed["term"] == "ip4:127.0.0.1/33"


def test_dead_include_is_an_error_not_a_broken_record(server):
    found = spf(server, "includedead", PROFILE, timeout=0.3)
    assert found["spf.include-error"].severity is Severity.ERROR
    assert "temperror" in found["spf.include-error"].message
    assert "spf.include-missing" not in found and "spf.syntax" not in found


def test_lookup_error_on_the_domain(make_dns_server):
    server = make_dns_server(["a-spf.zone"], faults={(f"good.{D}", "TXT"): "servfail"})
    finding = spf(server, "good")["spf.lookup-error"]
    assert finding.severity is Severity.ERROR and "SERVFAIL" in finding.message


def test_profile_include_missing_and_ips_failing(server):
    found = spf(server, "noinclude", PROFILE)
    include = found["spf.profile-include-missing"]
    # the two findings re-publish the record: one record that fixes both, said so
    assert include.fix == (f'noinclude.{D}. 300 IN TXT "v=spf1 ip4:127.0.50.1 include:spf.provider.{D} -all"'
                           " (one record for this and spf.profile-ip-fails)")
    failing = found["spf.profile-ip-fails"]
    assert set(failing.observed) == {"127.0.10.0/24", "127.0.11.7"}


def test_profile_ips_pass_through_macros(server):
    profile = Profile(name="t", sending_ips=["127.0.60.5"])
    assert list(spf(server, "macros", profile)) == ["spf.ok"]


def test_profile_ip_temperror(server):
    profile = Profile(name="t", sending_ips=["127.0.99.1"])
    found = spf(server, "includedead", profile, timeout=0.3)
    assert found["spf.profile-ip-error"].severity is Severity.ERROR


@given(st.text(max_size=80), st.text(max_size=40))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_any_domain_and_sender_give_a_result(server, domain, sender):
    async def main():
        return await check_host(resolver_for(server, timeout=0.2), "127.0.0.1", domain, sender, helo=domain)

    assert asyncio.run(main()).result in ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")


def test_strings_that_meet_without_a_space_are_named_and_the_record_meant_is_proposed(server):
    """Review 3 #12: "v=spf1 include:X" "-all" is read as include:X-all (RFC 7208 §3.3); the fix is the record
    with the space, not the removal of the provider's include."""
    found = spf(server, "splitall", profile=PROFILE)
    split = found["spf.split-strings"]
    assert split.severity is Severity.FAIL
    assert "they read include:spf.provider.a-spf.example-all" in split.message
    assert "RFC 7208 §3.3" in split.message
    assert set(found) == {"spf.split-strings"}  # the record meant is fine: no include-missing, no all-missing
    assert [c.line for c in split.changes] == [
        'splitall.a-spf.example. 300 IN TXT "v=spf1 include:spf.provider.a-spf.example" "-all"',
        'splitall.a-spf.example. 300 IN TXT "v=spf1 include:spf.provider.a-spf.example -all"',
    ]
    assert "not a valid term" in spf(server, "splitip")["spf.split-strings"].message


def test_other_findings_of_a_split_record_share_its_one_record(server):
    found = spf(server, "splitsoft")
    # the split's record adds the space and keeps ~all; the info's -all is advice on top of it (review 3 #31)
    line = 'splitsoft.a-spf.example. 300 IN TXT "v=spf1 include:spf.provider.a-spf.example ~all"'
    assert found["spf.split-strings"].changes[-1].line == line
    assert found["spf.all-softfail"].changes[-1].line == line.replace("~all", "-all")
    assert "also makes the changes of spf.split-strings" in (found["spf.all-softfail"].fix or "")
    assert found["spf.all-softfail"].changes[0].line == (
        'splitsoft.a-spf.example. 300 IN TXT "v=spf1 include:spf.provider.a-spf.example" "~all"')


def test_a_long_record_split_inside_a_term_is_read_as_joined(server):
    found = spf(server, "splitword", profile=PROFILE)
    assert "spf.split-strings" not in found and "spf.ok" in found


def test_a_missing_provider_include_is_a_warning_when_its_addresses_pass(server):
    """Review 3 #18: the provider's addresses pass through the customer's own ip4: terms, so the include is
    advised (the provider changes its addresses in it), not a fail claiming their mail fails SPF."""
    found = spf(server, "ownips", PROFILE)
    include = found["spf.profile-include-missing"]
    assert include.severity is Severity.WARN and "spf.profile-ip-fails" not in found
    assert "pass today" in include.message and "need to pass SPF" not in include.message
    # the provider's networks go with its include in (checked: the profile's addresses still pass); the
    # customer's own address stays
    assert include.changes[-1].line == f'ownips.{D}. 300 IN TXT "v=spf1 ip4:127.0.50.1 include:spf.provider.{D} -all"'
    assert "ip4:127.0.10.0/24, ip4:127.0.11.7 are the provider's" in include.fix
    assert spf(server, "noinclude", PROFILE)["spf.profile-include-missing"].severity is Severity.FAIL


def test_the_lookup_counts_of_a_fix_start_from_the_count_in_the_message(server):
    """Review 3 #25b: the message says 14; the fix counted 12 (after threer's own flattening) and said 2 must go."""
    found = spf(server, "countown")
    limit = found["spf.lookup-limit"]
    assert "needs 14 DNS look-ups" in limit.message
    assert "needs 14 DNS look-ups (RFC 7208 allows 10), so 4 must go" in limit.fix
    assert "it would need 12, and 2 more must still go" in limit.fix
    assert "which makes the changes of spf.all-neutral too" in limit.fix


def test_a_split_that_makes_an_include_of_a_broken_record_names_what_is_wrong_with_it(server):
    """The joined record includes a name whose own SPF record does not parse: the message says which,
    in one sentence ("an include of X, whose SPF record does not parse (...)")."""
    server.replace_records(f"splitbroken.{D}", "TXT", ['"v=spf1 include:brk.a-spf.example" "-all"'])
    server.replace_records("brk.a-spf.example-all.", "TXT", ['"v=spf1 ip4:127.0.10.0/33 -all"'])
    server.replace_records(f"brk.{D}", "TXT", ['"v=spf1 ip4:127.0.12.0/24 -all"'])  # the include meant works
    found = spf(server, "splitbroken")
    split = found["spf.split-strings"]
    assert "an include of brk.a-spf.example-all, whose SPF record does not parse (" in split.message
    assert "which whose" not in split.message and ", which SPF" not in split.message
    assert split.changes[-1].line == 'splitbroken.a-spf.example. 300 IN TXT "v=spf1 include:brk.a-spf.example -all"'
    assert set(found) == {"spf.split-strings"}
