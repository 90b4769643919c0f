"""build_ticket: refusal when incomplete, every field of SPEC §3, the response date, secrets, drafts."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from support_sessions import (
    ACTIONS,
    DNS_CHECKED,
    ESCALATION,
    GOLDEN_ID,
    complete_session,
    incomplete_session,
    make_session,
    partner_config,
)

from threer.business_hours import add_business_hours
from threer.config import Config, PartnerConfig
from threer.env import Environment
from threer.errors import ExitStatus
from threer.secrets_scan import REDACTED
from threer.store import Store
from threer.ticket import (
    Ticket,
    TicketIncomplete,
    build_ticket,
    make_subject,
    md_escape,
    render,
    render_text,
    write_ticket_draft,
)
from threer.triage.engine import load_session
from threer.triage.steps import STEP_IDS

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=timezone.utc)  # Monday 10:30 in London (GMT)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "threer.db")


def ticket_for(store: Store, answers: dict | None = None, *, config: Config | None = None, redact: bool = False,
               **kwargs) -> Ticket:
    session_id = make_session(store, answers, **kwargs)
    return build_ticket(load_session(store, session_id), config or partner_config(), now=NOW, redact_secrets=redact)


# -- refusal -----------------------------------------------------------------------------------

def test_incomplete_session_lists_exactly_the_missing_steps(store: Store) -> None:
    session_id = incomplete_session(store, missing=["review.owa", "research.web", "outcome"])
    with pytest.raises(TicketIncomplete) as caught:
        build_ticket(load_session(store, session_id), partner_config(), now=NOW)
    err = caught.value
    assert err.exit_status == ExitStatus.PROBLEMS == 1
    assert err.missing_steps == ["review.owa", "research.web", "outcome"]
    assert err.missing_config == []
    assert "missing steps: review.owa, research.web, outcome." in err.message
    assert f"threer triage --resume {session_id}" in err.message


def test_an_empty_session_misses_all_fourteen_steps(store: Store) -> None:
    session_id = make_session(store, {})
    with pytest.raises(TicketIncomplete) as caught:
        build_ticket(load_session(store, session_id), partner_config(), now=NOW)
    assert caught.value.missing_steps == list(STEP_IDS)


def test_missing_partner_details_name_the_keys_and_the_command(store: Store) -> None:
    session_id = complete_session(store)
    with pytest.raises(TicketIncomplete) as caught:
        build_ticket(load_session(store, session_id), Config(), now=NOW)
    err = caught.value
    assert err.exit_status == 1
    assert err.missing_steps == []
    assert err.missing_config == ["partner.domain", "partner.control_panel_url", "partner.support_address"]
    assert "threer config set partner.domain" in err.message
    assert "threer config set partner.support_address" in err.message
    assert "partner.control_panel_na true" in err.message


def test_missing_steps_and_config_are_reported_together(store: Store) -> None:
    session_id = incomplete_session(store, missing=["outcome"])
    config = Config(partner=PartnerConfig(domain="partner.example", control_panel_na=True))
    with pytest.raises(TicketIncomplete) as caught:
        build_ticket(load_session(store, session_id), config, now=NOW)
    assert caught.value.missing_steps == ["outcome"]
    assert caught.value.missing_config == ["partner.support_address"]


# -- contents ----------------------------------------------------------------------------------

def test_every_required_field_is_there(store: Store) -> None:
    ticket = ticket_for(store, session_id=GOLDEN_ID)
    assert ticket.triage_id == GOLDEN_ID
    assert ticket.subject == ("Escalation: contoso.com - Outlook password prompt loop after migration "
                              f"[triage {GOLDEN_ID}]")
    assert ticket.recipient == "support@provider.example"
    assert ticket.partner.domain == "partner.example"
    assert ticket.partner.control_panel_url == "https://cp.partner.example/"
    assert ticket.customer.name == "Contoso Ltd"
    assert ticket.customer.domain == "contoso.com"  # normalised from Jane@Contoso.COM
    assert ticket.issue.affected_users == "jane@contoso.com, sales@contoso.com"
    assert ticket.issue.started == "Monday 26 February, after the migration"
    assert ticket.error_messages == ESCALATION["intake.errors"]  # verbatim
    assert [s.id for s in ticket.steps] == list(STEP_IDS[3:13])  # Replicate, Review, Research in order
    assert [s.phase for s in ticket.steps] == ["Replicate"] * 3 + ["Review"] * 4 + ["Research"] * 3
    assert ticket.kb_articles == ["kb-0001", "kb-0002"]
    assert ticket.past_cases == ["case:20240115-HJ7K"]
    assert ticket.created_at == datetime(2024, 3, 4, 10, 0, tzinfo=timezone.utc)
    assert ticket.closed_at is not None and ticket.closed_at > ticket.created_at
    assert ticket.outcome.decision == "escalate" and ticket.outcome.team == "support"
    assert ticket.warnings == []


def test_not_applicable_steps_carry_their_reason(store: Store) -> None:
    ticket = ticket_for(store)
    step = next(s for s in ticket.steps if s.id == "review.client_rules")
    assert step.status == "not_applicable"
    assert step.reason == "Jane has never created Outlook rules; confirmed with her."
    text = render_text(ticket)
    assert "    Not applicable:\n      | Jane has never created Outlook rules; confirmed with her." in text


def test_control_panel_not_applicable(store: Store) -> None:
    config = partner_config()
    config.partner.control_panel_url = None
    config.partner.control_panel_na = True
    ticket = ticket_for(store, config=config)
    assert ticket.partner.control_panel_url is None
    assert "\nControl Panel URL: not applicable\n" in render_text(ticket)
    assert "- **Control Panel URL:** not applicable" in render(ticket, "markdown")


def test_no_error_shown(store: Store) -> None:
    ticket = ticket_for(store, {**ESCALATION, "intake.errors": "no error shown"})
    assert ticket.error_messages is None
    assert "Error Messages (verbatim):\n  No error shown.\n" in render_text(ticket)


def test_dns_findings_are_summarised(store: Store) -> None:
    text = render_text(ticket_for(store))
    assert "threer checked contoso.com (profile m365) on 2024-03-04 10:06" in text
    assert "1 fail, 1 warn, 1 info, 9 ok" in text
    assert "FAIL autodiscover.missing: autodiscover.contoso.com has no" in text
    assert "Add CNAME autodiscover ->" in text
    assert "WARN dmarc.policy-none" in text
    assert "autodiscover is missing; the customer's DNS host has been told." in text


def test_dns_checks_that_could_not_run_say_so(store: Store) -> None:
    failed = {"review.dns": {"checked": False, "domain": "contoso.com", "run_error": "no name server answered"}}
    text = render_text(ticket_for(store, actions={**ACTIONS, **failed}))
    assert "threer could not run the DNS checks: no name server answered" in text
    not_run = render_text(ticket_for(store, actions={"research.prior": ACTIONS["research.prior"]}))
    assert "DNS checks: not run by threer\n    Technician's note:" in not_run


def test_clean_dns(store: Store) -> None:
    clean = {**DNS_CHECKED, "summary": {"ok": 12}, "problems": []}
    text = render_text(ticket_for(store, actions={**ACTIONS, "review.dns": clean}))
    assert "GMT: 12 ok" in text.replace("\n      | ", " ")
    assert "Problems found: none" in text


def test_kb_articles_and_past_cases_are_named(store: Store) -> None:
    text = render_text(ticket_for(store))
    assert "| - kb-0001 Outlook keeps prompting for a password (KB article)" in text
    assert "| - case:20240115-HJ7K Fabrikam: password prompts after migration" in text
    assert "Articles consulted:\n      | - kb-0002" in text
    assert "| - https://answers.example.org/outlook-password-loop" in text


def test_owa_probe_is_listed(store: Store) -> None:
    probe = {"probe": [{"id": "owa.reachable", "severity": "ok", "message": "https://outlook.example/owa answers"}]}
    text = render_text(ticket_for(store, actions={**ACTIONS, "review.owa": probe}))
    assert "threer's OWA probe:\n      | - OK owa.reachable: https://outlook.example/owa answers" in text


# -- the response date -------------------------------------------------------------------------

def test_support_gets_24_business_hours(store: Store) -> None:
    ticket = ticket_for(store)
    assert ticket.first_response is not None
    assert ticket.first_response.business_hours == 24
    # counted from the escalation (10:14), not from when the ticket is built (NOW, 10:30)
    assert ticket.first_response.counted_from == ticket.closed_at
    assert ticket.first_response.due == datetime(2024, 3, 7, 10, 14, tzinfo=timezone.utc)  # Thursday 10:14 GMT
    assert "Expected First Response: Thursday 7 March 2024, by 10:14 GMT" in render_text(ticket)


def test_the_first_response_counts_from_the_escalation_or_the_send_whenever_exported(store: Store) -> None:
    from threer.ticket.followup import follow_up

    session_id = make_session(store)
    session = load_session(store, session_id)
    calendar = partner_config().business_hours
    a_day_later = build_ticket(session, partner_config(), now=NOW + timedelta(days=1))
    assert a_day_later.first_response is not None
    assert a_day_later.first_response.due == follow_up(session, calendar, NOW).due  # what sessions list says
    sent = NOW + timedelta(hours=2)
    store.update_session(session_id, sent, ticket_sent_at=sent, ticket_message_id="<x@partner.example>")
    session = load_session(store, session_id)
    after_sending = build_ticket(session, partner_config(), now=NOW + timedelta(days=2))
    assert after_sending.first_response is not None
    assert after_sending.first_response.counted_from == sent
    assert after_sending.first_response.due == follow_up(session, calendar, NOW).due
    # `ticket --send` counts from the moment it sends (the sent time then recorded)
    sending = build_ticket(session, partner_config(), now=NOW + timedelta(days=3), counted_from=NOW + timedelta(days=3))
    assert sending.first_response is not None and sending.first_response.counted_from == NOW + timedelta(days=3)


def test_engineering_gets_72_business_hours_through_the_calendar(store: Store) -> None:
    answers = {**ESCALATION, "outcome": {"decision": "escalate", "engineering": True}}
    config = partner_config(holidays=[date(2024, 3, 8)])
    ticket = ticket_for(store, answers, config=config)
    assert ticket.outcome.team == "engineering"
    assert ticket.first_response is not None and ticket.first_response.business_hours == 72
    expected = add_business_hours(ticket.closed_at, 72, config.business_hours)
    assert ticket.first_response.due == expected
    assert expected.date() == date(2024, 3, 18)  # nine working days, the Friday a holiday
    assert "72 business hours for the provider's engineering team" in render_text(ticket)


def test_resolved_session_has_no_response_date(store: Store) -> None:
    answers = {**ESCALATION, "outcome": {"decision": "resolved", "resolution": "Added the autodiscover CNAME."}}
    ticket = ticket_for(store, answers)
    assert ticket.first_response is None
    text = render_text(ticket)
    assert "Expected First Response: none (resolved at the partner level)" in text
    assert "Resolution: Added the autodiscover CNAME." in text


def test_times_are_shown_in_the_calendar_zone(store: Store) -> None:
    config = partner_config()
    config.business_hours.timezone = "America/New_York"
    text = render_text(ticket_for(store, config=config))
    assert "Triage Started: 2024-03-04 05:00 EST" in text
    # 05:30 is before opening: 8 h Monday, Tuesday and Wednesday from 09:00
    assert "Expected First Response: Wednesday 6 March 2024, by 17:00 EST" in text


# -- subject -----------------------------------------------------------------------------------

def test_subject_is_one_line_and_bounded() -> None:
    subject = make_subject("contoso.com", "first line\r\nBcc: evil@example.com\u2028more " + "word " * 40, "X-1")
    assert "\n" not in subject and "\r" not in subject and "\u2028" not in subject
    assert subject.startswith("Escalation: contoso.com - first line Bcc: evil@example.com more word")
    assert subject.endswith("... [triage X-1]")
    assert len(subject) < 120


def test_subject_defaults_to_the_issue(store: Store) -> None:
    ticket = ticket_for(store, {**ESCALATION, "outcome": {"decision": "escalate"}})
    assert "Outlook keeps asking for the password every few minutes" in ticket.subject


# -- secrets -----------------------------------------------------------------------------------

def secret_answers() -> dict:
    answers = json.loads(json.dumps(ESCALATION))
    answers["intake.issue"]["description"] = "Outlook prompts again.\nCustomer said: my password is Winter2024!"
    answers["review.server_rules"] = "none; admin pwd=Adm1n-Pa55 was used to look"
    answers["review.client_rules"] = {"not_applicable": "used app password abcd efgh ijkl mnop instead"}
    return answers


def test_secrets_are_listed_with_their_field(store: Store) -> None:
    ticket = ticket_for(store, secret_answers())
    found = [(w.field, w.kind, w.line) for w in ticket.warnings]
    assert found == [
        ("intake.issue.description", "password", 2),
        ("review.server_rules.found", "password", 1),
        ("review.client_rules.reason", "app password", 1),
    ]
    assert "Winter2024" in render_text(ticket)  # flagged, not removed, unless asked
    assert ticket.warnings[0].describe() == "intake.issue.description (line 2) looks like it contains a password."


def test_two_secrets_of_one_kind_on_one_line_are_one_warning(store: Store) -> None:
    answers = secret_answers()
    answers["review.server_rules"] = "admin pwd=Adm1n-Pa55 then password: Second-Pa55 on the same line"
    ticket = ticket_for(store, answers, redact=True)
    found = [(w.field, w.kind, w.line) for w in ticket.warnings]
    assert found.count(("review.server_rules.found", "password", 1)) == 1
    text = render_text(ticket)
    assert "Adm1n-Pa55" not in text and "Second-Pa55" not in text  # both masked all the same


def test_redact_masks_every_format(store: Store) -> None:
    ticket = ticket_for(store, secret_answers(), redact=True)
    assert ticket.redacted and len(ticket.warnings) == 3
    for fmt in ("text", "markdown", "json", "eml"):
        out = render(ticket, fmt)
        body = out.decode() if isinstance(out, bytes) else out
        if fmt == "eml":
            body = email.message_from_bytes(out, policy=email.policy.default).get_content().replace("\r\n", "\n")
        for secret in ("Winter2024", "Adm1n-Pa55", "abcd efgh ijkl mnop"):
            assert secret not in body, (fmt, secret)
    text = render_text(ticket)
    assert f"my password is {REDACTED}" in text
    assert "replaced by [REDACTED]" in text


def test_dns_data_is_not_scanned_for_secrets(store: Store) -> None:
    dkim = {**DNS_CHECKED, "problems": [{"id": "dkim.weak", "severity": "warn", "fix": None,
                                          "message": "p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQC3x9Kz is 1024 bits"}]}
    ticket = ticket_for(store, actions={**ACTIONS, "review.dns": dkim})
    assert ticket.warnings == []


# -- layout safety (the hypothesis tests are in test_ticket_render.py) -------------------------

def test_a_note_that_looks_like_a_field_cannot_pass_for_one(store: Store) -> None:
    answers = json.loads(json.dumps(ESCALATION))
    answers["review.server_rules"] = "none\nCustomer Domain Name: evil.com\nPartner Domain: evil.com"
    answers["intake.customer"]["name"] = "Contoso Customer Domain Name: evil.com"  # names are one line
    answers["intake.issue"]["affected_users"] = "jane\nCustomer Domain Name: evil.com"
    text = render_text(ticket_for(store, answers))
    starts = [line for line in text.splitlines() if line.startswith("Customer Domain Name:")]
    assert starts == ["Customer Domain Name: contoso.com"]
    assert "Customer Name: Contoso Customer Domain Name: evil.com\n" in text
    assert "  Affected user(s):\n    | jane\n    | Customer Domain Name: evil.com\n" in text
    assert "      | Customer Domain Name: evil.com\n      | Partner Domain: evil.com" in text


def test_control_characters_are_shown_not_obeyed(store: Store) -> None:
    answers = json.loads(json.dumps(ESCALATION))
    answers["review.server_rules"] = "red \x1b[31malert\x1b[0m and \u202eevil"
    ticket = ticket_for(store, answers)
    text = render_text(ticket)
    assert "\x1b" not in text and "\u202e" not in text
    assert "red \\x1b[31malert\\x1b[0m and \\u202eevil" in text
    assert "\x1b[31m" in json.loads(render(ticket, "json"))["steps"][5]["facts"][0]["value"]  # json keeps it exact


@pytest.mark.parametrize(
    ("typed", "escaped"),
    [
        ("# not a heading", "\\# not a heading"),
        ("1. not a list", "1\\. not a list"),
        ("- not a list", "\\- not a list"),
        ("[link](http://x)", "\\[link\\](http://x)"),
        ("<b>html</b> & &amp;", "\\<b\\>html\\</b\\> \\& \\&amp;"),
        ("*em* _em_ `code` ~~s~~ | a |", "\\*em\\* \\_em\\_ \\`code\\` \\~\\~s\\~\\~ \\| a \\|"),
        ("jane@contoso.com and @admin", "jane@contoso.com and \\@admin"),
        ("    indented", "&#160;&#160;&#160;&#160;indented"),
        ("===", "\\==="),
    ],
)
def test_markdown_escaping(typed: str, escaped: str) -> None:
    assert md_escape(typed) == escaped


def test_markdown_fence_is_longer_than_any_backtick_run(store: Store) -> None:
    answers = {**ESCALATION, "intake.errors": "before\n```\nstill inside ````` here\nafter"}
    md = render(ticket_for(store, answers), "markdown")
    assert "``````text\nbefore\n```\nstill inside ````` here\nafter\n``````\n" in md


# -- eml ---------------------------------------------------------------------------------------

def test_eml_is_an_unsent_draft(store: Store) -> None:
    ticket = ticket_for(store, session_id=GOLDEN_ID)
    msg = email.message_from_bytes(render(ticket, "eml"), policy=email.policy.default)
    assert msg["To"] == "support@provider.example"
    assert msg["Subject"] == ticket.subject
    assert msg["X-Unsent"] == "1"
    assert msg["X-Threer-Triage-Id"] == GOLDEN_ID
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == render_text(ticket, headers=False)


def test_eml_header_injection_is_impossible(store: Store) -> None:
    answers = json.loads(json.dumps(ESCALATION))
    answers["outcome"]["summary"] = "help\r\nBcc: everyone@example.com\nX-Evil: 1"
    ticket = ticket_for(store, answers)
    data = render(ticket, "eml")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert "help Bcc: everyone@example.com X-Evil: 1" in msg["Subject"]
    assert sorted(msg.keys()) == sorted(["To", "Subject", "Date", "X-Unsent", "X-Threer-Triage-Id", "Content-Type",
                                         "Content-Transfer-Encoding", "MIME-Version"])


# -- json --------------------------------------------------------------------------------------

def test_json_is_a_versioned_document(store: Store) -> None:
    doc = json.loads(render(ticket_for(store, session_id=GOLDEN_ID), "json"))
    assert doc["version"] == 1
    assert doc["triage_id"] == GOLDEN_ID
    assert doc["customer"] == {"name": "Contoso Ltd", "domain": "contoso.com"}
    assert doc["first_response"]["business_hours"] == 24
    assert doc["first_response"]["due"] == "2024-03-07T10:14:00Z"
    assert doc["steps"][3]["answer"]["problems"][0]["id"] == "autodiscover.missing"
    assert doc["warnings"] == []


def test_unknown_format_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="unknown ticket format"):
        render(ticket_for(store), "pdf")


# -- drafts on disk ----------------------------------------------------------------------------

def test_write_ticket_draft(tmp_path: Path, store: Store) -> None:
    env = Environment(home=tmp_path / "home", config_path=tmp_path / "config.toml")
    session = load_session(store, complete_session(store))
    path = write_ticket_draft(session, partner_config(), env, NOW)
    assert path == env.home / "tickets" / f"{session.id}.txt"
    assert path.read_text(encoding="utf-8").startswith("To: support@provider.example\n")
    eml = path.with_suffix(".eml")
    assert email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)["X-Unsent"] == "1"
    assert path.stat().st_mode & 0o777 == 0o600


def test_write_ticket_draft_refuses_incomplete(tmp_path: Path, store: Store) -> None:
    env = Environment(home=tmp_path / "home", config_path=tmp_path / "config.toml")
    session = load_session(store, incomplete_session(store))
    with pytest.raises(TicketIncomplete):
        write_ticket_draft(session, partner_config(), env, NOW)


def test_write_ticket_draft_unwritable_home(tmp_path: Path, store: Store) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    env = Environment(home=blocker, config_path=tmp_path / "config.toml")
    session = load_session(store, complete_session(store))
    with pytest.raises(Exception) as caught:
        write_ticket_draft(session, partner_config(), env, NOW)
    assert "Cannot write the ticket draft" in str(caught.value)
    assert f"threer ticket {session.id} --output FILE" in str(caught.value)


def test_blank_lines_in_error_text_are_kept_in_markdown(store: Store) -> None:
    answers = {**ESCALATION, "intake.errors": "first\n\n\n\nlast"}
    md = render(ticket_for(store, answers), "markdown")
    assert "```text\nfirst\n\n\n\nlast\n```\n" in md


def test_a_calendar_that_never_opens_is_a_clear_error(store: Store) -> None:
    from datetime import timedelta

    from threer.errors import BadInput

    # holidays on every Monday for 41 years: the calendar never opens again
    config = partner_config(days=["mon"], holidays=[date(2024, 3, 4) + timedelta(weeks=n) for n in range(41 * 53)])
    with pytest.raises(BadInput, match="expected first response"):
        ticket_for(store, config=config)


def test_a_secret_warning_reads_as_english() -> None:
    from threer.ticket.model import SecretWarning

    assert SecretWarning(field="intake.errors.messages", kind="API key or token", line=1).describe() == (
        "intake.errors.messages looks like it contains an API key or token.")
    assert SecretWarning(field="outcome.summary", kind="password", line=3).describe() == (
        "outcome.summary (line 3) looks like it contains a password.")
