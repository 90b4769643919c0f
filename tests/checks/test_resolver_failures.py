"""error is never ok or fail: answers threer cannot use are `error`, and a dead name server fails over.

Real loopback DNS servers: one serving the zones, one in "dead" mode (answers nothing), one in
"wrong-type" mode (an A record for every question, as a captive portal or DNS filter does).
"""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks import CheckOptions, check_domains
from threer.checks.resolver import LookupStatus, Resolver
from threer.findings import Severity


@pytest.fixture(scope="module")
def good():
    with DnsTestServer() as server:
        yield server


def ask(server, name, rdtype, **kwargs):
    async def main():
        return await resolver_for(server, **kwargs).query(name, rdtype)

    return asyncio.run(main())


def test_an_answer_of_the_wrong_type_is_an_error() -> None:
    with DnsTestServer(mode="wrong-type") as portal:
        lookup = ask(portal, "b-good.example", "TXT")
    assert lookup.status is LookupStatus.MALFORMED and lookup.is_error
    assert "answered a TXT question with A records" in lookup.detail


def test_an_empty_answer_without_soa_is_an_error() -> None:
    with DnsTestServer(faults={"b-good.example": "empty"}) as server:
        lookup = ask(server, "b-good.example", "MX")
    assert lookup.is_error and "empty answer" in lookup.detail


def test_a_real_no_records_answer_is_still_nodata(good) -> None:
    assert ask(good, "b-good.example", "SRV").status is LookupStatus.NODATA


def test_truncated_with_no_tcp_answer_is_an_error() -> None:
    with DnsTestServer(faults={"b-good.example": "truncate-no-tcp"}) as server:
        lookup = ask(server, "b-good.example", "TXT", timeout=0.5, deadline=1.0)
    assert lookup.is_error and lookup.status is LookupStatus.TIMEOUT


def test_a_resolver_answering_everything_with_an_address_checks_nothing(invoke) -> None:
    """No mx.missing / spf.missing / dmarc.missing from a captive portal: could not check, a partial result."""
    with DnsTestServer(mode="wrong-type") as portal:
        result = invoke("check-dns", "b-good.example", "--dns-only", "--json", "--profile", "none",
                        "--nameserver", f"127.0.0.1:{portal.port}")
    import json

    domain = json.loads(result.stdout)["domains"][0]
    findings = domain["findings"]
    assert not [f for f in findings if f["severity"] in ("fail", "ok") and f["check"] in ("mx", "spf", "dmarc")]
    assert {f["id"] for f in findings} >= {"mx.lookup-error", "spf.lookup-error", "dmarc.lookup-error"}
    assert domain["summary"]["fail"] == 0  # nothing is called wrong that was not seen
    # ... and the run could not complete (SPEC: exit 3 when every answer is an error): the portal's
    # address answers to address questions are no more to be trusted than the rest
    assert result.exit_code == 3
    assert "captive portal" in result.stderr and "b-good.example" in result.stderr


def test_a_filter_that_rewrites_a_few_answers_does_not_stop_the_run(invoke) -> None:
    with DnsTestServer(faults={("_dmarc.b-good.example", "TXT"): "wrong-type"}) as server:
        result = invoke("check-dns", "b-good.example", "--dns-only", "--json", "--profile", "none",
                        "--nameserver", f"127.0.0.1:{server.port}")
    import json

    findings = json.loads(result.stdout)["domains"][0]["findings"]
    assert "dmarc.lookup-error" in {f["id"] for f in findings}
    assert result.exit_code in (0, 1)  # the other answers stand: the domain was checked


def test_a_dead_first_server_costs_one_timeout_not_one_per_question(good) -> None:
    with DnsTestServer(mode="dead") as dead:
        options = CheckOptions(profile="m365", nameservers=[dead.address, good.address], timeout=4.0, dns_only=True,
                               authoritative_port=good.port)
        report = check_domains(["d-maxx-express.example"], options)[0]
        asked_dead = {(n, t) for n, t, _ in dead.query_log}
    asked_good = {(n, t) for n, t, _ in good.query_log if n.endswith(("d-maxx-express.example", "outlook.com", "microsoft"))}
    assert not [f for f in report.findings if f.severity is Severity.ERROR], [f.id for f in report.findings]
    # only the first wave of questions went to the dead server; every later, dependent one went straight
    # to the good one (before, each question waited for the dead server first)
    assert asked_dead and len(asked_dead) < len(asked_good)
    later = {("selector1-exclusive-dmaxxexpress-example01b._domainkey.d-tenant.onmicrosoft.com", "TXT")}
    assert not (later & asked_dead)


def test_failover_order_is_shared_by_the_questions_of_one_resolver(good) -> None:
    with DnsTestServer(mode="dead") as dead:
        async def main():
            resolver = Resolver([dead.address, good.address], timeout=0.5, deadline=5.0)
            first = await resolver.query("b-good.example", "MX")
            second = await resolver.query("b-good.example", "TXT")
            return first, second

        first, second = asyncio.run(main())
        dead_questions = [(n, t) for n, t, _ in dead.query_log]
    assert first.exists and second.exists
    assert ("b-good.example", "MX") in dead_questions and ("b-good.example", "TXT") not in dead_questions


def test_spf_lookup_failures_under_a_mx_exists_are_errors_not_ok() -> None:
    faults = {"web.d-spf-termfail.example": "servfail", "check.d-spf-termfail.example": "servfail",
              "mx.d-spf-termfail.example": "timeout"}
    with DnsTestServer(faults=faults) as server:
        options = CheckOptions(profile="none", nameservers=[server.address], timeout=2.0, dns_only=True, checks=("spf",))
        report = check_domains(["d-spf-termfail.example"], options)[0]
    ids = [f.id for f in report.findings]
    assert "spf.ok" not in ids and "spf.void-limit" not in ids
    errors = [f for f in report.findings if f.id == "spf.term-error"]
    assert {f.observed["term"] for f in errors} == {
        "a:web.d-spf-termfail.example", "mx:d-spf-termfail.example", "exists:check.d-spf-termfail.example"}
    assert all(f.severity is Severity.ERROR for f in errors)


def test_the_same_spf_record_answered_is_ok() -> None:
    with DnsTestServer() as server:
        options = CheckOptions(profile="none", nameservers=[server.address], timeout=2.0, dns_only=True, checks=("spf",))
        report = check_domains(["d-spf-termfail.example"], options)[0]
    assert [f.id for f in report.findings] == ["spf.ok"]


def test_behind_a_dns_filter_no_address_verdict_is_trusted_and_the_run_exits_3(invoke, tmp_path, monkeypatch) -> None:
    """Review 3 #27: a filter answering every question with an address must not make a sending address
    "blocklisted" (fail, exit 1), nor autodiscover "present": those are errors, and the run exits 3."""
    import json

    config = tmp_path / "config.toml"
    config.write_text('blocklists = ["bl.k-dnsbl.example"]\n', encoding="utf-8")
    monkeypatch.setenv("THREER_CONFIG", str(config))
    with DnsTestServer(mode="wrong-type") as portal:
        result = invoke("check-dns", "b-good.example", "--dns-only", "--json", "--profile", "none", "--timeout", "3",
                        "--ip", "127.0.11.20", "--nameserver", f"127.0.0.1:{portal.port}")
    findings = json.loads(result.stdout)["domains"][0]["findings"]
    assert not [f for f in findings if f["severity"] in ("ok", "warn", "fail")], findings
    untrusted = {f["observed"]["not_trusted"] for f in findings if isinstance(f["observed"], dict) and "not_trusted" in f["observed"]}
    assert {"blocklist.listed", "autodiscover.record-present"} <= untrusted
    listed = next(f for f in findings if f["check"] == "blocklist")
    assert listed["id"] == "blocklist.lookup-error" and listed["message"].startswith("Not known: the DNS server answered")
    assert result.exit_code == 3
