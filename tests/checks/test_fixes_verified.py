"""Every fix threer shows is checked by threer's own checks (issue 8).

For every zone in tests/zones/ and every finding whose fix is a change in the customer's zone
(`Finding.changes`): apply the change to the zone, serve it from the loopback DNS server, check the
domain again. The finding must be gone (one fewer of that id) and no `fail` may appear that was
not there before. A part the technician copies from the provider's admin centre (`<token>`,
`<tenant>`) is filled in as the admin centre would, and the provider's side of it (the MX host's
address) is served too, as the provider publishes it.
"""

from __future__ import annotations

from dataclasses import replace

import contextlib
import re
from collections import Counter

import dns.name
import dns.rdatatype
import pytest

from support_dnsserver import DnsTestServer, zone_domains
from threer.checks import CHECKS, CheckOptions, check_domains
from threer.findings import Finding, Severity

RECORD_LINE = re.compile(r"(\S+)\. \d+ IN (TXT|MX|CNAME|SRV) ")


def _options(server: DnsTestServer) -> CheckOptions:
    return CheckOptions(profile="auto", nameservers=[server.address], timeout=5.0, dns_only=True, checks=CHECKS)


def checked_domains(server: DnsTestServer) -> list[str]:
    """Every zone's domain, and every name in the zones with an SPF or a DMARC record of its own (the
    zones hold many cases as names below their origin: overlimit.a-spf.example, ...)."""
    names = set(zone_domains())
    for owner, node in server.data.nodes.items():
        text = owner.to_text(omit_final_dot=True).lower()
        for rdataset in node.values():
            if rdataset.rdtype != dns.rdatatype.TXT:
                continue
            values = [b"".join(rd.strings).decode("ascii", "replace").lower() for rd in rdataset]
            if any(v.startswith("v=spf1") for v in values) and not text.startswith("_"):
                names.add(text)
            if text.startswith("_dmarc.") and any(v.startswith("v=dmarc1") for v in values):
                names.add(text[len("_dmarc."):])
    return sorted(n for n in names if "*" not in n)


@pytest.fixture(scope="module")
def reports():
    with DnsTestServer() as server:
        domains = checked_domains(server)
        return dict(zip(domains, check_domains(domains, _options(server), concurrency=10)))


def _fill(value: str, domain: str) -> str:
    """A `<...>` part filled in as the provider's admin centre shows it for this domain."""
    return (value.replace("<token>", domain.replace(".", "-")).replace("<tenant>", "fixtenant")
            .replace("<region>", "x-v1"))


@contextlib.contextmanager
def _applied(server: DnsTestServer, finding: Finding, domain: str):
    """The finding's changes applied to the served zones, and undone afterwards."""
    touched = {(c.name, c.rdtype) for c in finding.changes} | {
        (_fill(c.value, domain).split()[-1].rstrip("."), "A") for c in finding.changes if c.needs_value and c.rdtype == "MX"
    }
    saved = {}
    for name, rdtype in touched:
        node = server.data.nodes.get(dns.name.from_text(name), {})
        rdataset = node.get(dns.rdatatype.from_text(rdtype))
        saved[(name, rdtype)] = [rd.to_text() for rd in rdataset] if rdataset is not None else []
    try:
        _apply(server, finding, domain)
        yield
    finally:
        for (name, rdtype), values in saved.items():
            server.data.replace(name, rdtype, values)


def _apply(server: DnsTestServer, finding: Finding, domain: str) -> None:
    for change in finding.changes:
        value = _fill(change.value, domain)
        if change.action == "remove":
            assert server.data.remove_record(change.name, change.rdtype, value), (
                f"{finding.id}: the fix removes {change.line}, which is not in the zone"
            )
        else:
            server.data.add_record(change.name, change.rdtype, value)
            if change.needs_value and change.rdtype == "MX":  # the provider's MX host answers, as it does
                server.data.add_record(value.split()[-1], "A", "127.0.0.1")


def _cases(reports: dict) -> list[tuple[str, Finding]]:
    return [(domain, f) for domain, report in reports.items() for f in report.findings if f.changes]


def test_the_zones_give_fixes_to_verify(reports) -> None:
    cases = _cases(reports)
    assert len(cases) >= 30, "the test zones should exercise many fixes"
    assert len({f.id for _, f in cases}) >= 15


def test_every_record_a_fix_names_in_the_domain_is_a_change(reports) -> None:
    """A fix that spells out a record in the customer's zone carries it as a change, so it is verified."""
    missing = []
    for domain, report in reports.items():
        for f in report.findings:
            names = [m.group(1).lower() for m in RECORD_LINE.finditer(f.fix or "")]
            own = [n for n in names if n == domain or n.endswith("." + domain)]
            # a fix that first asks the customer which is meant (a filter in front of the provider) changes nothing by itself
            if own and not f.changes and "Ask the customer whether" not in (f.fix or ""):
                missing.append(f"{domain} {f.id}: {f.fix}")
    assert not missing, "\n".join(missing)


DOMAINS = checked_domains(DnsTestServer())  # the zones are read, the server is not started


def test_a_record_to_remove_is_named_with_the_ttl_it_is_published_with(reports) -> None:
    """A `; remove:` line is the record as the zone has it, TTL included (review 2 #4)."""
    zones = DnsTestServer().data
    wrong = []
    for domain, report in reports.items():
        for f in report.findings:
            for c in f.changes:
                if c.action != "remove":
                    continue
                rdataset = zones.nodes.get(dns.name.from_text(c.name), {}).get(dns.rdatatype.from_text(c.rdtype))
                if rdataset is not None and rdataset.ttl != c.ttl:
                    wrong.append(f"{domain} {f.id}: {c.line} (published with TTL {rdataset.ttl})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_fix_works_when_applied(domain) -> None:
    problems = []
    with DnsTestServer() as server:
        # checked here, by the same server as after each fix: on a loaded machine a look-up of the shared
        # run may time out, and an error turning into an answer is no new fail of the fix
        before = check_domains([domain], _options(server))[0]
        afters = []
        for finding in [f for f in before.findings if f.changes]:
            with _applied(server, finding, domain):
                afters.append((finding, check_domains([domain], _options(server))[0]))
    for finding, after in afters:
        count_before = Counter(f.id for f in before.findings)[finding.id]
        count_after = Counter(f.id for f in after.findings)[finding.id]
        new_fails = {f.id for f in after.findings if f.severity is Severity.FAIL} - {
            f.id for f in before.findings if f.severity is Severity.FAIL
        }
        if count_after >= count_before:
            problems.append(f"{domain} {finding.id}: still there after {[c.line for c in finding.changes]}")
        if new_fails:
            problems.append(f"{domain} {finding.id}: the fix brings new fails {sorted(new_fails)}")
    assert not problems, "\n".join(problems)


def _txt_at(server: DnsTestServer, name: str) -> list[str]:
    node = server.data.nodes.get(dns.name.from_text(name), {})
    rdataset = node.get(dns.rdatatype.TXT)
    return [b"".join(rd.strings).decode("ascii", "replace") for rd in rdataset] if rdataset is not None else []


def _apply_all(server: DnsTestServer, findings: list[Finding], domain: str) -> None:
    """Every finding's changes at once, each record once, as a DNS admin pastes the whole --fixes output."""
    done: set[tuple[str, str, str, str]] = set()
    for finding in findings:
        for change in finding.changes:
            key = (change.action, change.name.lower(), change.rdtype, change.value)
            if key in done:
                continue
            done.add(key)
            one = replace(finding, changes=[change])
            _apply(server, one, domain)


# the new-user review's shapes: p=none without rua; p=quarantine with pct=200 and a bare rua address;
# pct and t=y together; p=none with sp=none and a !size; the malformed record; pct=0 next to a typo
REVIEW_DMARC = ["nonenorua", "quarbad", "quarpct", "nonesub", "bad", "noreports", "subweak", "pctzero"]


@pytest.mark.parametrize("domain", [f"{name}.a-dmarc.example" for name in REVIEW_DMARC])
def test_all_dmarc_fixes_of_a_record_make_one_record(domain) -> None:
    """Pasting every DMARC fix of a domain leaves exactly one v=DMARC1 record (RFC 7489 §6.6.3: two are no
    policy at all), and every finding those fixes were for is gone."""
    with DnsTestServer() as server:
        before = check_domains([domain], _options(server))[0]
        fixes = [f for f in before.findings if f.check == "dmarc" and f.changes]
        assert fixes, f"{domain}: the zone should give DMARC fixes"
        proposed = {c.value for f in fixes for c in f.changes if c.action == "add"}
        assert len(proposed) == 1, f"{domain}: the fixes propose different records {sorted(proposed)}"
        _apply_all(server, fixes, domain)
        published = [t for t in _txt_at(server, f"_dmarc.{domain}") if t.lower().startswith("v=dmarc1")]
        after = check_domains([domain], _options(server))[0]
    assert len(published) == 1, f"{domain}: {published}"
    left = {f.id for f in fixes} & {f.id for f in after.findings}
    assert not left, f"{domain}: {sorted(left)} still there after {published}"
    assert not [f for f in after.findings if f.check == "dmarc" and f.severity is Severity.FAIL]


def test_the_review_records_are_combined_keeping_the_customers_tags() -> None:
    with DnsTestServer() as server:
        reports = {d: r for d, r in zip(
            ["nonenorua.a-dmarc.example", "quarbad.a-dmarc.example"],
            check_domains(["nonenorua.a-dmarc.example", "quarbad.a-dmarc.example"], _options(server)))}
    plain = {f.id: f for f in reports["nonenorua.a-dmarc.example"].findings}
    line = ('_dmarc.nonenorua.a-dmarc.example. 300 IN TXT '
            '"v=DMARC1; p=none; rua=mailto:dmarc-reports@a-dmarc.example"')
    assert not plain["dmarc.policy-none"].changes  # raising p is advice (review 3 #7)
    assert plain["dmarc.no-reports"].changes[-1].line == line
    bad = {f.id: f for f in reports["quarbad.a-dmarc.example"].findings}
    # the customer's own mailbox gets its mailto: and wins over a suggested one; pct=200 goes
    line = '_dmarc.quarbad.a-dmarc.example. 300 IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@a-dmarc.example"'
    assert bad["dmarc.syntax"].changes[-1].line == line
    assert bad["dmarc.no-reports"].changes[-1].line == line
