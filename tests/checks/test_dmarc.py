"""DMARC: discovery (own record, organisational domain), tag syntax, policy strength, report authorisation."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks.context import CheckContext
from threer.checks.dmarc import FINDING_IDS, check_dmarc, organisational_domain, parse_dmarc
from threer.findings import Severity

D = "a-dmarc.example"
ZONES = ["a-dmarc.zone", "a-dmarc-org.zone", "a-other.zone", "a-resolver.zone"]


@pytest.fixture(scope="module")
def server():
    faults = {
        "_dmarc.dead.a-dmarc.example": "timeout",
        "extdead.a-dmarc.example._report._dmarc.dead.other-zone.example": "servfail",
    }
    with DnsTestServer(zone_files=ZONES, faults=faults) as running:
        yield running


def dmarc(server, domain, timeout=1.0):
    async def main():
        ctx = CheckContext(domain=domain, resolver=resolver_for(server, timeout=timeout), profile=None)
        return await check_dmarc(ctx)

    findings = asyncio.run(main())
    assert findings
    assert all(f.id in FINDING_IDS and f.check == "dmarc" for f in findings)
    return {f.id: f for f in findings}


# -- parsing ---------------------------------------------------------------------------------------


def test_parse_good_record():
    record = parse_dmarc("v=DMARC1; p=reject; sp=quarantine; rua=mailto:a@example.com,mailto:b@example.net!10m; fo=0:1")
    assert record.version_ok and not record.problems
    assert record.policy() == "reject" and record.subdomain_policy == "quarantine"
    assert [u.host for u in record.rua] == ["example.com", "example.net"]


@pytest.mark.parametrize(
    ("text", "tag", "words"),
    [
        ("v=DMARC1; p=reject; pct=101", "pct", "0 to 100"),
        ("v=DMARC1; p=reject; rua=dmarc@example.com", "rua", "mailto:"),
        ("v=DMARC1; p=reject; ruf=mailto:nobody", "ruf", "valid mailto"),
        ("v=DMARC1; p=reject; fo=1:x", "fo", "0, 1, d or s"),
        ("v=DMARC1; p=reject; adkim=relaxed", "adkim", "r (relaxed)"),
        ("v=DMARC1; p=reject; ri=daily", "ri", "seconds"),
        ("v=DMARC1; p=reject; np=block", "np", "none, quarantine or reject"),
        ("v=DMARC1; p=reject; t=yes", "t", "y or n"),
        ("v=DMARC1; p=reject; p=none", "p", "more than once"),
        ("p=reject; v=DMARC1", "v", "first tag"),
        ("v=DMARC2; p=reject", "v", "exactly v=DMARC1"),
    ],
)
def test_tag_problems_name_the_tag(text, tag, words):
    problems = parse_dmarc(text).problems
    assert any(p.tag == tag and words in p.reason for p in problems), problems


def test_organisational_domain():
    assert organisational_domain("shop.a-dmarc-org.example") == "a-dmarc-org.example"
    assert organisational_domain("a.b.contoso.co.uk") == "contoso.co.uk"
    assert organisational_domain("co.uk") == "co.uk"


@given(st.text(max_size=300))
@settings(max_examples=300, deadline=None)
def test_any_string_as_a_record_gives_problems_never_an_exception(text):
    for candidate in (text, "v=DMARC1; " + text):
        record = parse_dmarc(candidate)
        for problem in record.problems:
            assert problem.describe()


@given(st.text(max_size=120))
@settings(max_examples=40, deadline=None)
def test_any_published_record_gives_findings(text):
    with DnsTestServer(zone_files=[], records=[("fuzz.a-fuzz.example", "TXT", '"x"')]) as srv:
        srv.replace_records("_dmarc.fuzz.a-fuzz.example", "TXT", [_quoted("v=DMARC1; " + text), _quoted(text)])
        found = dmarc(srv, "fuzz.a-fuzz.example", timeout=0.5)
        assert found


def _quoted(text: str) -> str:
    """Master-file TXT text for any string: printable ASCII as is, everything else as \\DDD octets."""
    raw = text.encode("utf-8")[:250]
    return '"' + "".join(chr(b) if 0x20 <= b < 0x7F and chr(b) not in '"\\' else f"\\{b:03d}" for b in raw) + '"'


# -- findings --------------------------------------------------------------------------------------


def test_good_policy_is_ok(server):
    found = dmarc(server, f"good.{D}")
    assert list(found) == ["dmarc.ok"]
    assert "p=reject" in found["dmarc.ok"].message


def test_missing(server):
    finding = dmarc(server, f"missing.{D}")["dmarc.missing"]
    assert finding.severity is Severity.FAIL
    assert finding.fix.startswith(f'_dmarc.{D}. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{D}"')


def test_misplaced_at_the_apex(server):
    finding = dmarc(server, f"misplaced.{D}")["dmarc.misplaced"]
    assert f"_dmarc.misplaced.{D}. 300 IN TXT" in finding.fix


def test_subdomain_inherits_the_organisational_policy(server):
    found = dmarc(server, "deep.shop.a-dmarc-org.example")
    assert found["dmarc.inherited"].severity is Severity.INFO
    assert "sp=quarantine" in found["dmarc.inherited"].message
    assert found["dmarc.inherited"].observed["from"] == "_dmarc.a-dmarc-org.example"
    assert "dmarc.missing" not in found


def test_policy_none_is_a_warning_whose_stronger_policy_is_advice_not_a_record(server):
    """Review 3 #7: reports first (RFC 7489 §6.6.3, §7); p=quarantine pasted before they show real mail
    passing would junk it, so the fix says when to change p, and proposes no record."""
    finding = dmarc(server, f"none.{D}")["dmarc.policy-none"]
    assert finding.severity is Severity.WARN
    assert not finding.changes and " IN TXT " not in (finding.fix or "")
    assert "change p=none to p=quarantine in the TXT record at _dmarc.none.a-dmarc.example" in finding.fix
    assert "First ask for aggregate reports" not in finding.fix


def test_policy_none_without_reports_gets_a_record_that_adds_rua_and_keeps_p_none(server):
    found = dmarc(server, f"nonenorua.{D}")
    assert not found["dmarc.policy-none"].changes
    assert found["dmarc.policy-none"].fix.startswith("First ask for aggregate reports: add rua=")
    assert found["dmarc.no-reports"].changes[-1].line == (
        f'_dmarc.nonenorua.{D}. 300 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@{D}"')


def test_a_repair_next_to_pct_keeps_the_share_in_force_with_t_y(server):
    """Review 3 #23: dropping pct=0 would quarantine all failing mail the moment it is pasted; the repair
    keeps pct for receivers that read it and adds t=y (RFC 9989's replacement) for those that do not."""
    found = dmarc(server, f"pctzero.{D}")
    line = f'_dmarc.pctzero.{D}. 300 IN TXT "v=DMARC1; p=quarantine; pct=0; rua=mailto:dmarc@{D}; t=y"'
    assert found["dmarc.syntax"].changes[-1].line == line
    assert found["dmarc.pct"].changes[-1].line == line
    assert "remove pct and t=y together once the reports show all real mail passing" in found["dmarc.pct"].fix


def test_testing_mode_is_kept_until_the_reports_say_otherwise(server):
    finding = dmarc(server, f"rejtest.{D}")["dmarc.testing"]
    assert finding.severity is Severity.WARN and not finding.changes
    assert "remove t=y from the TXT record at _dmarc.rejtest.a-dmarc.example to apply p=reject in full" in finding.fix


def test_malformed_record_names_each_bad_tag(server):
    found = dmarc(server, f"bad.{D}")
    syntax = found["dmarc.syntax"]
    assert syntax.severity is Severity.FAIL
    assert {p["tag"] for p in syntax.observed} == {"pct", "rua", "fo", "adkim"}
    assert "rua=dmarc@a-dmarc.example: is missing the mailto:" in syntax.message
    # the bare address is the customer's mailbox: it keeps its place and gets the mailto: it lacks
    assert syntax.fix == f'_dmarc.bad.{D}. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@{D},mailto:ok@{D}; rue=mailto:x@{D}"'
    assert found["dmarc.unknown-tag"].observed == ["rue"]


def test_missing_or_invalid_p(server):
    nop = dmarc(server, f"nop.{D}")["dmarc.policy-missing"]
    assert "no p= tag" in nop.message and "p=none (because it has a valid rua=)" in nop.message
    badp = dmarc(server, f"badp.{D}")
    assert "invalid p=rejct" in badp["dmarc.policy-missing"].message
    assert "dmarc.syntax" not in badp


def test_duplicate_tag(server):
    finding = dmarc(server, f"dup.{D}")["dmarc.syntax"]
    assert "rua=mailto:b@a-dmarc.example: appears more than once" in finding.message
    assert f'"v=DMARC1; p=reject; rua=mailto:a@{D}"' in finding.fix


def test_two_records(server):
    assert dmarc(server, f"two.{D}")["dmarc.multiple"].severity is Severity.FAIL


@pytest.mark.parametrize("name", ["version", "notfirst"])
def test_record_not_starting_with_v_dmarc1_is_ignored(server, name):
    finding = dmarc(server, f"{name}.{D}")["dmarc.version"]
    assert finding.severity is Severity.FAIL
    assert finding.fix == f'_dmarc.{name}.{D}. 300 IN TXT "v=DMARC1; p=reject"'


def test_weak_subdomain_policy(server):
    finding = dmarc(server, f"subweak.{D}")["dmarc.subdomain-policy-weak"]
    assert finding.observed == {"sp": "none", "np": "none"}
    assert "sp=reject; np=reject" in finding.fix


def test_testing_pct_and_obsolete_tags(server):
    found = dmarc(server, f"testing.{D}")
    # pct with t=y: receivers that read pct and those that read t both test, so pct itself is no warning
    assert "dmarc.pct" not in found
    assert found["dmarc.testing"].severity is Severity.WARN
    assert "remove t=y (and pct=20)" in found["dmarc.testing"].fix
    assert set(found["dmarc.obsolete-tag"].observed) == {"pct", "rf", "ri"}


def test_no_reports(server):
    finding = dmarc(server, f"noreports.{D}")["dmarc.no-reports"]
    assert finding.severity is Severity.INFO and f"rua=mailto:dmarc-reports@{D}" in finding.fix


def test_external_report_addresses_need_authorisation(server):
    found = dmarc(server, f"ext.{D}")
    finding = found["dmarc.report-not-authorised"]
    assert finding.observed["name"] == f"ext.{D}._report._dmarc.resolver.example"
    assert f'ext.{D}._report._dmarc.resolver.example. 3600 IN TXT "v=DMARC1"' in finding.fix
    # other-zone.example publishes the authorisation: no finding for it
    assert "other-zone.example" not in finding.message


def test_report_authorisation_lookup_error(server):
    assert dmarc(server, f"extdead.{D}")["dmarc.report-auth-error"].severity is Severity.ERROR


def test_lookup_error_is_not_missing(server):
    found = dmarc(server, f"dead.{D}", timeout=0.3)
    assert list(found) == ["dmarc.lookup-error"]
    assert found["dmarc.lookup-error"].severity is Severity.ERROR


def test_own_and_organisational_records_are_asked_at_once(make_dns_server):
    server = make_dns_server(ZONES, delay=0.15)
    import time

    started = time.monotonic()
    dmarc(server, "deep.shop.a-dmarc-org.example")
    assert time.monotonic() - started < 0.45  # two look-ups side by side, not one after the other
    assert server.count("_dmarc.deep.shop.a-dmarc-org.example", "TXT") == 1
    assert server.count("_dmarc.a-dmarc-org.example", "TXT") == 1


# -- issue 8: the missing ';', !size, the RFC 9990 wildcard -----------------------------------------


def _dmarc_report(domain: str):
    from threer.checks import CheckOptions, check_domains

    with DnsTestServer() as s:
        return check_domains([domain], CheckOptions(profile="none", nameservers=[s.address], timeout=3.0,
                                                    dns_only=True, checks=("dmarc",)))[0]


def test_a_missing_semicolon_is_named_and_repaired_keeping_every_tag() -> None:
    from threer.checks.dmarc import parse_dmarc

    record = parse_dmarc("v=DMARC1; p=reject rua=mailto:dmarc@broken.example; pct=100")
    assert [p.describe() for p in record.problems] == ["missing ';' after p=reject"]
    report = _dmarc_report("d-spf-broken.example")
    [syntax] = [f for f in report.findings if f.id == "dmarc.syntax"]
    assert "missing ';' after p=reject" in syntax.message
    assert syntax.changes[-1].value == '"v=DMARC1; p=reject; rua=mailto:dmarc@d-spf-broken.example; pct=100"'
    ids = [f.id for f in report.findings]
    # no lowered policy, no second rua: only what is broken is repaired
    assert "dmarc.policy-missing" not in ids and "dmarc.no-reports" not in ids


def test_a_typo_in_p_keeps_the_policy_meant() -> None:
    from threer.checks.dmarc import _repaired, parse_dmarc

    assert _repaired(parse_dmarc("v=DMARC1; p=rejct; rua=mailto:d@example.com")) == (
        "v=DMARC1; p=reject; rua=mailto:d@example.com")


def test_size_suffix_is_flagged_and_a_wildcard_authorises_reports() -> None:
    report = _dmarc_report("d-dmarc-size.example")
    ids = [f.id for f in report.findings]
    [size] = [f for f in report.findings if f.id == "dmarc.report-size"]
    assert size.severity is Severity.INFO and "!10m" in size.message and "RFC 9989" in size.message
    assert size.changes[-1].value == '"v=DMARC1; p=reject; rua=mailto:dmarc@d-reports.example"'
    assert "dmarc.report-not-authorised" not in ids  # *._report._dmarc.d-reports.example answers for it


# -- RFC 9989 §4.10: the DNS tree walk -------------------------------------------------------------


def test_the_walk_asks_at_most_eight_names_with_the_seven_label_jump() -> None:
    from threer.checks.dmarc import walk_names

    names = walk_names("a.b.c.d.e.f.g.h.customer.d-psd.example")
    assert len(names) == 8
    assert names[:2] == ["a.b.c.d.e.f.g.h.customer.d-psd.example", "e.f.g.h.customer.d-psd.example"]  # 7 labels
    assert names[-1] == "example"
    assert walk_names("shop.contoso.co.uk") == ["shop.contoso.co.uk", "contoso.co.uk", "co.uk", "uk"]


def test_the_walk_finds_a_psd_policy_and_the_organisational_domain_below_it() -> None:
    from threer.checks.dmarc import _found, tree_walk_org, walk_names
    from threer.checks.resolver import Lookup, LookupStatus

    names = walk_names("shop.customer.d-psd.example")
    with DnsTestServer() as s:
        async def main():
            resolver = resolver_for(s)
            return [await resolver.query(f"_dmarc.{n}", "TXT") for n in names]

        lookups = asyncio.run(main())
        asked = [n for n, t, _ in s.query_log if t == "TXT"]
    walked = [_found(n, lk) for n, lk in zip(names, lookups)]
    assert tree_walk_org(walked) == "customer.d-psd.example"  # the name below the psd=y record
    assert len(asked) <= 8
    nothing = [_found(n, Lookup(f"_dmarc.{n}", "TXT", LookupStatus.NXDOMAIN)) for n in names]
    assert tree_walk_org(nothing) is None


def test_a_subdomain_gets_the_policy_the_walk_finds() -> None:
    report = _dmarc_report("a.b.c.d.e.f.g.h.customer.d-psd.example")
    [inherited] = [f for f in report.findings if f.id == "dmarc.inherited"]
    assert "d-psd.example" in inherited.message
    assert not [f for f in report.findings if f.id == "dmarc.missing"]


def test_a_combined_record_that_still_has_an_error_is_not_proposed() -> None:
    """The combined record is judged before it is shown: one threer cannot repair (here a character that is not
    ASCII) is proposed by none of the findings, which say what to correct instead."""
    from threer.checks.dmarc import _one_record, _policy_findings, _syntax_findings

    record = parse_dmarc("v=DMARC1; p=none; x=caf\u00e9")
    host = "_dmarc.cafe.example"
    found = _one_record(record, host, _syntax_findings(record, host, 300) + _policy_findings(record, host, 300, False,
                                                                                            "cafe.example"),
                        False, "cafe.example")
    proposing = [f for f in found if f.changes]
    assert not proposing, [(f.id, [c.line for c in f.changes]) for f in proposing]
    reports = next(f for f in found if f.id == "dmarc.no-reports")
    assert "No single record can be proposed (the record contains non-ASCII characters)" in (reports.fix or "")
