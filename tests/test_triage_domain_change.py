"""Changing the customer domain of a session makes its DNS step stale (review 2 #22): the checks of the
old domain no longer count as recorded, the triage runs them again for the new domain, the ticket is
refused until then, and the history keeps the old check."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER, FakeActions, StrictPrompter

from threer.ticket.build import build_ticket
from threer.ticket.model import TicketIncomplete
from threer.triage.engine import TriageEngine, parse_answer
from threer.triage.flow import MissingAnswers, NoPrompter, run_flow
from threer.triage.session import same_domain
from support_sessions import partner_config

ZONES = [Path(__file__).parent / "zones" / "t-triage.zone", Path(__file__).parent / "zones" / "t-triage-moved.zone"]


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _finished(store) -> TriageEngine:
    engine = TriageEngine.new(store, clock=Clock(), actions=FakeActions())
    run_flow(engine, NoPrompter(), COMPLETE_ANSWERS)
    return engine


def _change_domain(engine: TriageEngine, domain: str) -> None:
    engine.record("intake.customer", parse_answer("intake.customer", {"name": "Florist AB", "domain": domain}))


def test_a_new_domain_makes_the_dns_step_stale_on_both_backends(any_store) -> None:
    engine = _finished(any_store)
    assert engine.session().complete
    _change_domain(engine, "florist.example")
    session = engine.session()
    assert session.stale == ["review.dns"] and session.missing == ["review.dns"]
    assert not session.complete and session.progress() == (13, 14)
    assert engine.next_step().id == "review.dns"
    # the old check is still there to read (nothing was deleted); it goes to the history once re-run
    assert session.steps["review.dns"].answer["domain"] == "contoso.com"
    with pytest.raises(TicketIncomplete) as refused:
        build_ticket(session, partner_config(), now=NOW)
    assert refused.value.missing_steps == ["review.dns"]


def test_the_flow_runs_the_dns_step_again_for_the_new_domain(any_store) -> None:
    engine = _finished(any_store)
    _change_domain(engine, "florist.example")
    prompter = StrictPrompter([("review.dns", {"note": "checked again after the domain changed"})])
    session = run_flow(engine, prompter, {})
    prompter.assert_done()
    assert engine.actions.calls[-1] == ("dns", "florist.example")
    assert session.complete and session.stale == []
    dns = session.steps["review.dns"]
    assert dns.answer["domain"] == "florist.example" and dns.revision == 2
    history = [h for h in any_store.answer_history(engine.session_id) if h["step_id"] == "review.dns"]
    assert len(history) == 1 and history[0]["data"]["answer"]["domain"] == "contoso.com"
    build_ticket(session, partner_config(), now=NOW)  # no longer refused


def test_change_of_customer_then_the_dns_step_as_with_change_on_a_finished_session(any_store) -> None:
    """`triage --resume ID --change intake.customer`: the change, then the flow goes on to the stale step."""
    engine = _finished(any_store)
    prompter = StrictPrompter([("intake.customer", {"name": "Florist AB", "domain": "florist.example"}),
                               ("review.dns", {"note": ""})])
    run_flow(engine, prompter, {}, start_at="intake.customer", only_start=True)
    assert engine.session().stale == ["review.dns"]
    session = run_flow(engine, prompter, {})
    prompter.assert_done()
    assert session.complete and session.answer("review.dns").domain == "florist.example"


def test_the_same_domain_written_differently_keeps_the_dns_step() -> None:
    assert same_domain("Contoso.COM.", "contoso.com")
    assert same_domain("bücher.example", "xn--bcher-kva.example")
    assert not same_domain("contoso.com", "florist.example")


def test_the_same_domain_given_again_keeps_the_dns_step(any_store) -> None:
    engine = _finished(any_store)
    _change_domain(engine, "jane@CONTOSO.com")
    session = engine.session()
    assert session.stale == [] and session.complete


def test_a_check_that_keeps_disagreeing_does_not_loop(any_store) -> None:
    class Elsewhere(FakeActions):
        def dns(self, domain, evidence=None):
            result = super().dns(domain, evidence)
            result.fields["domain"] = "other.example"
            return result

    engine = _finished(any_store)
    engine.actions = Elsewhere()
    _change_domain(engine, "florist.example")
    prompter = StrictPrompter([("review.dns", {"note": ""})])
    session = run_flow(engine, prompter, {})
    prompter.assert_done()
    assert session.missing == ["review.dns"]  # still not complete: the ticket stays refused


def test_no_terminal_names_the_dns_step_after_a_domain_change(any_store) -> None:
    engine = _finished(any_store)
    _change_domain(engine, "florist.example")
    with pytest.raises(MissingAnswers) as missing:
        run_flow(engine, NoPrompter(), {})
    assert missing.value.missing == ["review.dns"]


# -- the command, with a real loopback DNS server ------------------------------------------------------

@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=ZONES) as server:
        yield server


@pytest.fixture
def triage(invoke, dns):
    def _triage(*args: str):
        host, port = dns.address
        return invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                      "--nameserver", f"{host}:{port}", *args)

    return _triage


def _write(tmp_path: Path, name: str, answers: dict) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(answers))
    return str(path)


def _show(invoke, session_id: str) -> dict:
    result = invoke("sessions", "show", session_id, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_script_changing_the_domain_is_refused_until_the_dns_step_is_given(tmp_path, triage, invoke) -> None:
    first = {"partner": PARTNER, **COMPLETE_ANSWERS,
             "intake.customer": {"name": "Contoso Ltd", "domain": "contoso-triage.test"}}
    result = triage("--answers", _write(tmp_path, "a.json", first))
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    assert invoke("ticket", session_id).exit_code == 0

    moved = {"intake.customer": {"name": "Florist AB", "domain": "florist-triage.test"}}
    result = triage("--resume", session_id, "--answers", _write(tmp_path, "b.json", moved))
    assert result.exit_code == 2, result.stderr
    said = " ".join(result.stderr.split())
    assert ("review.dns checked contoso-triage.test, and the customer domain is now florist-triage.test: "
            "it must be recorded again. No answer for review.dns") in said
    assert "Traceback" not in said
    doc = _show(invoke, session_id)
    assert doc["customer_domain"] == "florist-triage.test"  # the change itself is kept
    assert doc["missing"] == ["review.dns"]
    ticket = invoke("ticket", session_id)
    assert ticket.exit_code == 1 and ticket.stdout == ""
    assert "missing steps: review.dns" in " ".join(ticket.stderr.split())

    result = triage("--resume", session_id, "--answers", _write(tmp_path, "c.json", {"review.dns": "checked again"}))
    assert result.exit_code == 0, result.stderr
    doc = _show(invoke, session_id)
    assert doc["missing"] == [] and doc["steps"]["review.dns"]["answer"]["domain"] == "florist-triage.test"
    ticket = invoke("ticket", session_id)
    assert ticket.exit_code == 0, ticket.stderr
    assert "florist-triage.test" in ticket.stdout and "contoso-triage.test" not in ticket.stdout


def test_script_giving_the_new_domain_and_the_dns_step_together(tmp_path, triage, invoke) -> None:
    first = {"partner": PARTNER, **COMPLETE_ANSWERS,
             "intake.customer": {"name": "Contoso Ltd", "domain": "contoso-triage.test"}}
    session_id = triage("--answers", _write(tmp_path, "a.json", first)).stdout.strip()
    both = {"intake.customer": {"name": "Florist AB", "domain": "florist-triage.test"}, "review.dns": ""}
    result = triage("--resume", session_id, "--answers", _write(tmp_path, "b.json", both))
    assert result.exit_code == 0, result.stderr
    doc = _show(invoke, session_id)
    assert doc["missing"] == [] and doc["steps"]["review.dns"]["answer"]["domain"] == "florist-triage.test"
