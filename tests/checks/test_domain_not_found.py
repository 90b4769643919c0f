"""A domain that does not exist gets one clear finding, not a "missing" fail from every check.

Against the real loopback DNS server: `gone.example` is in no test zone, so it answers NXDOMAIN.
"""

from __future__ import annotations

import json
import time

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CHECKS, CONNECTING, DEPENDS_ON_DOMAIN, MX_HOST_CHECKS, CheckOptions, check_domains
from threer.checks.ns import FINDING_IDS as NS_IDS
from threer.findings import Severity

GONE = "gone.example"


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def report_for(server, domain=GONE, **options):
    options.setdefault("timeout", 3.0)
    options.setdefault("dns_only", True)
    return check_domains([domain], CheckOptions(nameservers=[server.address], **options))[0]


@pytest.mark.parametrize("profile", ["m365", "google", None])
def test_a_missing_domain_gets_one_fail_and_one_note(server, profile) -> None:
    report = report_for(server, profile=profile)
    assert [(f.id, f.severity) for f in report.findings] == [
        ("ns.not-found", Severity.FAIL),
        ("ns.checks-skipped", Severity.INFO),
    ]
    not_found, skipped = report.findings
    assert "spelling" in not_found.fix and "registrar" in not_found.fix
    # --dns-only: the connecting checks (smtp) do not run, and spf-ip runs only for --ip addresses
    assert skipped.observed == {"skipped": [c for c in DEPENDS_ON_DOMAIN if c in CHECKS and c not in CONNECTING]}
    assert GONE in skipped.message and "not judged" in skipped.message
    assert report.summary.fail == 1 and report.summary.info == 1 and not report.partial
    assert {"ns.not-found", "ns.checks-skipped"} <= NS_IDS


def test_no_fix_offers_records_for_a_domain_that_does_not_exist(server) -> None:
    report = report_for(server, profile="m365")
    for finding in report.findings:
        assert "Add" not in (finding.fix or ""), finding


def test_without_the_ns_check_the_missing_domain_is_still_said_once(server) -> None:
    report = report_for(server, profile="m365", checks=("mx", "spf"))
    assert [f.id for f in report.findings] == ["ns.not-found", "ns.checks-skipped"]
    assert report.findings[1].observed == {"skipped": ["mx", "spf"]}


def test_the_ns_check_alone_is_unchanged(server) -> None:
    report = report_for(server, profile="m365", checks=("ns",))
    assert [f.id for f in report.findings] == ["ns.not-found"]


def test_when_existence_is_unknown_nothing_is_skipped(make_dns_server) -> None:
    # the domain's SOA and NS questions time out: whether it exists is not known, so every check
    # reports what it saw (errors stay errors; nothing is hidden behind a skip)
    faulty = make_dns_server(faults={(GONE, "SOA"): "timeout", (GONE, "NS"): "timeout"})
    report = report_for(faulty, profile="m365", timeout=1.0)
    by_check = {f.check for f in report.findings}
    assert "ns.checks-skipped" not in {f.id for f in report.findings}
    assert "ns.not-found" not in {f.id for f in report.findings}
    assert set(CHECKS) - set(CONNECTING) - set(MX_HOST_CHECKS) <= by_check  # no MX host: nothing to probe
    assert any(f.id == "ns.lookup-error" and f.severity is Severity.ERROR for f in report.findings)
    assert report.partial


def test_one_nxdomain_answer_is_enough_when_the_other_question_failed(make_dns_server) -> None:
    faulty = make_dns_server(faults={(GONE, "SOA"): "servfail"})
    report = report_for(faulty, profile="m365")
    assert [f.id for f in report.findings] == ["ns.not-found", "ns.checks-skipped"]


def test_the_skipped_checks_are_stopped_not_waited_for(make_dns_server) -> None:
    # a question only the dmarc check asks never gets an answer; the report must not wait for it
    faulty = make_dns_server(faults={(f"_dmarc.{GONE}", "TXT"): "timeout"})
    started = time.monotonic()
    report = report_for(faulty, profile="m365", timeout=4.0)
    assert time.monotonic() - started < 2.0
    assert [f.id for f in report.findings] == ["ns.not-found", "ns.checks-skipped"]


def test_check_dns_exit_code_and_output(invoke, server) -> None:
    ns = ["--nameserver", f"127.0.0.1:{server.port}"]
    result = invoke("check-dns", GONE, "--profile", "m365", "--dns-only", *ns)
    assert result.exit_code == 1, result.output
    assert "[ns.not-found]" in result.stdout and "[ns.checks-skipped]" in result.stdout
    assert "mx.missing" not in result.stdout and "fix: Add" not in result.stdout

    document = json.loads(invoke("check-dns", GONE, "--profile", "m365", "--dns-only", "--json", *ns).stdout)
    assert [f["id"] for f in document["domains"][0]["findings"]] == ["ns.not-found", "ns.checks-skipped"]


def test_an_existing_domain_in_the_same_run_is_judged_in_full(server) -> None:
    reports = check_domains(
        [GONE, "b-good.example"],
        CheckOptions(profile="m365", nameservers=[server.address], timeout=3.0, dns_only=True),
    )
    assert len(reports[0].findings) == 2
    assert "ns.checks-skipped" not in {f.id for f in reports[1].findings}
    assert set(CHECKS) - set(CONNECTING) <= {f.check for f in reports[1].findings}
