"""A bounce pasted at Intake feeds the session: its summary is stored with the answer, its codes
lead the research queries, its DKIM selector and sending server go to the DNS step (an SPF verdict
against the customer's record, from the real loopback DNS server), and the ticket carries its
summary beside the verbatim text."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER

from threer.store import Store
from threer.triage.engine import TriageEngine, dns_evidence, parse_answer, research_queries

ZONE = """\
$ORIGIN fabrikam-bounce.test.
$TTL 300
@     IN SOA ns1.fabrikam-bounce.test. hostmaster.fabrikam-bounce.test. 2026120101 3600 600 86400 60
@     IN NS  ns1.fabrikam-bounce.test.
ns1   IN A   127.0.0.1
@     IN MX  10 mail.fabrikam-bounce.test.
mail  IN A   127.0.0.1
@     IN TXT "v=spf1 ip4:198.51.100.0/26 ~all"
"""

# an Exchange Online bounce of a message the customer sent, with the original headers below it
BOUNCE = """\
Your message to lee@tailspin.example couldn't be delivered.

Diagnostic information for administrators:

Generating server: DB8PR09MB3311.eurprd09.prod.outlook.com

lee@tailspin.example
Remote server returned '550 5.7.23 The message was rejected because of Sender Policy Framework violation'

Original message headers:

Received: from mailgw.fabrikam-bounce.test (198.51.100.99) by
 DB8PR09MB3311.eurprd09.prod.outlook.com with Microsoft SMTP Server id 15.20.1; Tue, 1 Dec 2026 09:00:05 +0000
DKIM-Signature: v=1; a=rsa-sha256; d=fabrikam-bounce.test; s=gw2026; h=from:to; bh=YQ==; b=Yg==
From: Ana <ana@fabrikam-bounce.test>
Date: Tue, 1 Dec 2026 09:00:00 +0000
"""


@pytest.fixture(scope="module")
def nameserver(tmp_path_factory) -> str:
    zone = tmp_path_factory.mktemp("zone") / "fabrikam.zone"
    zone.write_text(ZONE, encoding="ascii")
    with DnsTestServer(zone_files=[zone]) as server:
        host, port = server.address
        yield f"{host}:{port}"


def test_the_errors_answer_keeps_what_the_bounce_says() -> None:
    answer = parse_answer("intake.errors", BOUNCE)
    assert answer.messages == BOUNCE.strip()  # the verbatim text is kept as pasted
    analysis = answer.analysis
    assert (analysis["kind"], analysis["style"], analysis["status"], analysis["permanent"]) == (
        "bounce", "exchange", "5.7.23", True)
    assert analysis["recipients"] == ["lee@tailspin.example"]
    assert analysis["sending_ip"] == "198.51.100.99"
    assert analysis["dkim"] == [{"d": "fabrikam-bounce.test", "s": "gw2026"}]
    assert analysis["summary"][1].startswith("Status 5.7.23: a permanent failure")


def test_no_analysis_for_text_without_codes_and_a_file_cannot_forge_one() -> None:
    assert parse_answer("intake.errors", "Outlook just hangs").analysis is None
    with pytest.raises(Exception, match="filled in by threer"):
        parse_answer("intake.errors", {"messages": "x", "analysis": {"kind": "bounce"}})


def _engine(tmp_path: Path) -> TriageEngine:
    store = Store(tmp_path / "threer.db")
    engine = TriageEngine.new(store, clock=lambda: datetime(2026, 12, 1, 10, tzinfo=timezone.utc))
    engine.record("intake.customer", parse_answer("intake.customer", {"name": "Fabrikam", "domain": "fabrikam-bounce.test"}))
    engine.record("intake.issue", parse_answer("intake.issue", COMPLETE_ANSWERS["intake.issue"]))
    engine.record("intake.errors", parse_answer("intake.errors", BOUNCE))
    return engine


def test_research_searches_the_exact_codes_first_then_the_diagnostic(tmp_path: Path) -> None:
    session = _engine(tmp_path).session()
    queries = research_queries(session)
    assert queries[0] == session.answer("intake.issue").description[:2000]
    assert queries[1:4] == ["550 5.7.23", "5.7.23",
                            "The message was rejected because of Sender Policy Framework violation"]
    assert BOUNCE.strip() not in queries  # not the whole bounce as one query


def test_the_dns_step_gets_the_selector_of_the_customers_domain_and_the_sending_ip(tmp_path: Path) -> None:
    session = _engine(tmp_path).session()
    assert dns_evidence(session, "fabrikam-bounce.test") == {"dkim_selectors": ["gw2026"], "sending_ip": "198.51.100.99"}
    assert dns_evidence(session, "other.example")["dkim_selectors"] == []  # another domain's signature


def _answers(tmp_path: Path) -> Path:
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS, "intake.errors": BOUNCE,
               "intake.customer": {"name": "Fabrikam", "domain": "fabrikam-bounce.test"},
               "outcome": {"decision": "escalate", "summary": "SPF rejects mail to tailspin"}}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    return path


def test_a_scripted_triage_shows_the_summary_evaluates_spf_and_the_ticket_carries_both(tmp_path, invoke,
                                                                                        nameserver) -> None:
    result = invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                    "--nameserver", nameserver, "--answers", str(_answers(tmp_path)))
    assert result.exit_code == 0, result.stderr
    assert "threer read a bounce in it:" in result.stderr
    assert "DKIM selector from the pasted headers checked: gw2026." in " ".join(result.stderr.split())
    assert "Status 5.7.23: a permanent failure" in result.stderr
    assert "Would 198.51.100.99 (the sending server in the pasted headers) pass SPF for fabrikam-bounce.test? " \
           "softfail, by fabrikam-bounce.test: ~all." in " ".join(result.stderr.split())
    session_id = result.stdout.strip().splitlines()[-1]
    shown = json.loads(invoke("sessions", "show", session_id, "--json").stdout)
    dns = shown["steps"]["review.dns"]["answer"]
    assert dns["spf_ip"] == {"ip": "198.51.100.99", "result": "softfail", "matched": "fabrikam-bounce.test: ~all",
                             "reason": dns["spf_ip"]["reason"]}
    # the selector of the pasted DKIM-Signature was looked up: the zone has no key there
    assert dns["dkim_selectors"] == ["gw2026"]
    assert any(p["id"] == "dkim.missing" and "gw2026._domainkey.fabrikam-bounce.test" in p["message"]
               for p in dns["problems"]), dns["problems"]
    # the sending server also went through the --ip checks: the verdict with its chain, and its reverse DNS
    by_id = {p["id"]: p for p in dns["problems"]}
    assert "Decided by fabrikam-bounce.test → ~all" in by_id["spf-ip.softfail"]["message"]
    assert by_id["rdns.missing"]["message"].startswith("Sending address 198.51.100.99 has no PTR record")
    ticket = invoke("ticket", session_id, "--format", "text")
    assert ticket.exit_code == 0, ticket.stderr
    text = ticket.stdout
    assert "Remote server returned '550 5.7.23 The message was rejected" in text  # verbatim
    assert "What threer read in it:" in text and "| Status 5.7.23: a permanent failure" in text
    assert "SPF for the sending server" in text and "softfail" in text
