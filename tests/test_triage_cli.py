"""`threer triage` and `threer sessions` end to end through the real command, a real SQLite file and
a real loopback DNS server."""

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import yaml
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER

from threer.store import Store
from threer.triage.engine import TriageEngine, parse_answer

ZONE = Path(__file__).parent / "zones" / "t-triage.zone"


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=[ZONE]) as server:
        yield server


@pytest.fixture
def triage(invoke, dns):
    def _triage(*args: str):
        host, port = dns.address
        return invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                      "--nameserver", f"{host}:{port}", *args)

    return _triage


def write_answers(tmp_path, answers, name="answers.json"):
    path = tmp_path / name
    if name.endswith(".json"):
        path.write_text(json.dumps(answers))
    else:
        path.write_text(yaml.safe_dump(answers))
    return path


def complete(**changes):
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS, **changes}
    answers["intake.customer"] = {"name": "Contoso Ltd", "domain": "contoso-triage.test"}
    return answers


def session_json(invoke, session_id):
    result = invoke("sessions", "show", session_id, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_scripted_triage_records_every_step(tmp_path, triage, invoke, threer_env):
    result = triage("--answers", str(write_answers(tmp_path, complete())))
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    doc = session_json(invoke, session_id)
    assert doc["status"] == "escalated" and doc["missing"] == [] and doc["recorded"] == 14
    dns = doc["steps"]["review.dns"]["answer"]
    assert dns["checked"] is True and dns["domain"] == "contoso-triage.test"
    assert dns["note"] == "autodiscover CNAME missing"
    assert sum(dns["summary"].values()) > 0
    # partner details from the file were saved to the config
    assert "partner.example" in threer_env.config_path.read_text()
    assert "saved outcome (14/14)" in result.stderr


def test_yaml_answers_and_resolved_case(tmp_path, triage, invoke):
    answers = complete(outcome={"decision": "resolved", "resolution": "Re-created the Outlook profile."})
    result = triage("--answers", str(write_answers(tmp_path, answers, "a.yaml")))
    assert result.exit_code == 0, result.stderr
    assert "Resolved" in result.stderr
    assert session_json(invoke, result.stdout.strip())["status"] == "resolved"


def test_missing_answers_are_one_error_listing_them_all(tmp_path, triage, threer_env):
    answers = {k: v for k, v in complete().items() if k not in {"partner", "review.owa", "research.web"}}
    result = triage("--answers", str(write_answers(tmp_path, answers)))
    assert result.exit_code == 2
    assert result.stdout == ""
    err = " ".join(result.stderr.split())
    for key in ("partner.domain", "partner.control_panel_url", "partner.support_address", "review.owa",
                "research.web"):
        assert key in err
    assert "--answers" in err
    assert not threer_env.db_path.exists() or not Store(threer_env.db_path).list_sessions()


def test_no_answers_file_and_no_terminal(invoke):
    result = invoke("triage", input="")
    assert result.exit_code == 2
    assert "intake.customer" in result.stderr and "--answers" in result.stderr


def test_invalid_answers_are_reported_before_anything_is_saved(tmp_path, triage, threer_env):
    answers = complete(**{"intake.customer": {"name": "X", "domain": "-bad-.test"}, "bogus.step": 1})
    result = triage("--answers", str(write_answers(tmp_path, answers)))
    assert result.exit_code == 2
    assert "intake.customer" in result.stderr and "bogus.step" in result.stderr
    assert not threer_env.db_path.exists() or not Store(threer_env.db_path).list_sessions()


def test_resume_continues_and_keeps_what_is_recorded(tmp_path, triage, invoke, threer_env):
    store = Store(threer_env.db_path)
    engine = TriageEngine.new(store, clock=lambda: datetime.now(timezone.utc))
    for step in ("intake.customer", "intake.issue", "intake.errors"):
        raw = complete()[step]
        engine.record(step, parse_answer(step, raw))
    store.close()
    rest = {k: v for k, v in complete().items() if k not in {"intake.customer", "intake.issue", "intake.errors"}}
    result = triage("--resume", engine.session_id.lower(), "--answers", str(write_answers(tmp_path, rest)))
    assert result.exit_code == 0, result.stderr
    assert "Resuming" in result.stderr and "3/14 recorded" in result.stderr
    doc = session_json(invoke, engine.session_id)
    assert doc["recorded"] == 14
    assert doc["steps"]["intake.customer"]["revision"] == 1


def test_answers_for_recorded_steps_change_them(tmp_path, triage, invoke):
    first = triage("--answers", str(write_answers(tmp_path, complete())))
    session_id = first.stdout.strip()
    change = {"replicate.reproduced": {"reproduced": "intermittent", "how": "one send in three fails"}}
    result = triage("--resume", session_id, "--answers", str(write_answers(tmp_path, change, "c.json")))
    assert result.exit_code == 0, result.stderr
    step = session_json(invoke, session_id)["steps"]["replicate.reproduced"]
    assert step["answer"]["reproduced"] == "intermittent" and step["revision"] == 2


def test_change_needs_resume(triage):
    result = triage("--change", "intake.issue")
    assert result.exit_code == 2 and "--resume" in result.stderr


def test_unknown_resume_id(triage):
    result = triage("--resume", "20990101-ZZZZ")
    assert result.exit_code == 2 and "sessions list" in result.stderr


def test_corrupt_database_is_reported_not_overwritten(tmp_path, triage, threer_env):
    threer_env.home.mkdir(parents=True)
    threer_env.db_path.write_bytes(b"garbage" * 50)
    result = triage("--answers", str(write_answers(tmp_path, complete())))
    assert result.exit_code == 3
    assert "corrupt" in result.stderr and "Traceback" not in result.stderr
    assert threer_env.db_path.read_bytes() == b"garbage" * 50


def test_unwritable_home(tmp_path, invoke, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("THREER_HOME", str(blocker / "sub"))
    result = invoke("sessions", "list")
    assert result.exit_code == 3 and "THREER_HOME" in result.stderr


def test_sessions_list_delete_and_purge(tmp_path, triage, invoke):
    ids = [triage("--answers", str(write_answers(tmp_path, complete()))).stdout.strip() for _ in range(2)]
    listed = json.loads(invoke("sessions", "list", "--json").stdout)
    assert {s["id"] for s in listed["sessions"]} == set(ids)
    human = invoke("sessions", "list")
    assert ids[0] in human.stdout and "Contoso Ltd" in human.stdout
    assert invoke("sessions", "delete", ids[0]).exit_code == 2  # no terminal, no --yes
    assert invoke("sessions", "delete", ids[0], "--yes").exit_code == 0
    assert invoke("sessions", "show", ids[0]).exit_code == 2
    purged = invoke("sessions", "purge", "--older-than", "0", "--yes", "--json")
    assert json.loads(purged.stdout)["purged"] == [ids[1]]
    assert json.loads(invoke("sessions", "list", "--json").stdout)["sessions"] == []


def test_sessions_show_human(tmp_path, triage, invoke):
    session_id = triage("--answers", str(write_answers(tmp_path, complete()))).stdout.strip()
    out = invoke("sessions", "show", session_id).stdout
    assert "review.client_rules" in out and "not applicable" in out and "14/14 recorded" in out


def test_escalation_writes_the_ticket_and_flags_secrets(tmp_path, triage, threer_env):
    answers = complete(**{"intake.issue": {"description": "cannot sign in", "affected_users": "jane",
                                           "started": "today, her password: Winter2026!"}})
    result = triage("--answers", str(write_answers(tmp_path, answers)))
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    draft = threer_env.home / "tickets" / f"{session_id}.txt"
    assert draft.exists() and (threer_env.home / "tickets" / f"{session_id}.eml").exists()
    text = draft.read_text()
    assert "Customer Domain Name" in text and "Ticket draft written to" in result.stderr
    assert "Winter2026!" not in text and "[REDACTED]" in text  # no terminal to ask: masked by default
    assert "Winter2026!" not in (threer_env.home / "tickets" / f"{session_id}.eml").read_text()
    err = " ".join(result.stderr.split())
    assert err.index("Warning:") < err.index("Ticket draft written to")
    assert f"threer ticket {session_id}" in err


def test_partner_details_missing_at_escalation(tmp_path, invoke, dns, threer_env):
    # a resolved-only partner may have no config yet: the triage still refuses to start without it
    answers = {k: v for k, v in complete().items() if k != "partner"}
    host, port = dns.address
    result = invoke("triage", "--no-input", "--answers", str(write_answers(tmp_path, answers)), "--profile", "none",
                    "--dns-only", "--nameserver", f"{host}:{port}")
    assert result.exit_code == 2 and "partner.support_address" in result.stderr


def test_resume_keeps_the_dns_settings_the_session_started_with(tmp_path, triage, invoke, threer_env, dns,
                                                                  monkeypatch):
    first = triage("--answers", str(write_answers(tmp_path, complete())))
    assert first.exit_code == 0, first.stderr
    session_id = first.stdout.strip()
    before = session_json(invoke, session_id)["steps"]["review.dns"]["answer"]["problems"]
    # elsewhere, without any DNS option: the resumed DNS step still asks the loopback server
    monkeypatch.chdir(tmp_path)
    change = write_answers(tmp_path, {"review.dns": "checked again"}, "again.json")
    result = invoke("triage", "--no-input", "--resume", session_id, "--answers", str(change))
    assert result.exit_code == 0, result.stderr
    dns_answer = session_json(invoke, session_id)["steps"]["review.dns"]["answer"]
    assert dns_answer["checked"] is True and dns_answer["note"] == "checked again"
    assert dns_answer["problems"] == before  # the same server's answers, not "does not exist" from the system's
    assert not any(p["id"] == "ns.not-found" for p in dns_answer["problems"])
    store = Store(threer_env.db_path)
    host, port = dns.address
    assert store.settings(session_id) == {"profile": "none", "nameservers": [f"{host}:{port}"], "timeout": 3.0,
                                          "dns_only": True, "ca_bundle": None}


def test_an_option_given_on_resume_overrides_and_is_kept(tmp_path, triage, invoke, threer_env):
    first = triage("--answers", str(write_answers(tmp_path, complete())))
    session_id = first.stdout.strip()
    again = write_answers(tmp_path, {"review.dns": "with a longer deadline"}, "again.json")
    result = invoke("triage", "--no-input", "--resume", session_id, "--dns-timeout", "7", "--answers", str(again))
    assert result.exit_code == 0, result.stderr
    settings = Store(threer_env.db_path).settings(session_id)
    assert settings["timeout"] == 7.0 and settings["dns_only"] is True and settings["profile"] == "none"


def test_a_profile_file_is_kept_by_its_full_path(tmp_path, invoke, threer_env, monkeypatch, dns):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "provider.toml").write_text('name = "provider"\n', encoding="utf-8")
    host, port = dns.address
    result = invoke("triage", "--no-input", "--profile", "provider.toml", "--dns-only", "--nameserver",
                    f"{host}:{port}", "--answers", str(write_answers(tmp_path, complete())))
    session_id = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else None
    store = Store(threer_env.db_path)
    sessions = store.list_sessions()
    assert sessions, result.stderr
    assert store.settings(sessions[0]["id"])["profile"] == str(tmp_path / "provider.toml")
    assert session_id is None or session_id == sessions[0]["id"]


def test_a_bad_nameserver_is_a_usage_error_before_a_session_starts(invoke, threer_env, tmp_path):
    result = invoke("triage", "--no-input", "--nameserver", "not-an-ip", "--answers",
                    str(write_answers(tmp_path, complete())))
    assert result.exit_code == 2
    assert "not a name server address" in result.stderr
    assert not threer_env.db_path.exists() or not Store(threer_env.db_path).list_sessions()


def test_dns_against_a_dead_resolver_is_a_failed_action_and_another_server_fixes_it(threer_env, dns):
    import socket

    from threer.config import Config
    from threer.triage.actions import CheckSettings, DefaultActions

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        dead = silent.getsockname()
        changed: list[list[str]] = []
        actions = DefaultActions(Store(threer_env.db_path), Config(),
                                 CheckSettings(profile="none", nameservers=[dead], timeout=0.5, dns_only=True),
                                 on_nameservers=changed.append)
        first = actions.dns("contoso-triage.test")
        assert first.failed, first.fields["summary"]
    host, port = dns.address
    actions.use_nameservers([f"{host}:{port}"])
    assert changed == [[f"{host}:{port}"]]
    second = actions.dns("contoso-triage.test")
    assert not second.failed and second.fields["summary"]["ok"] > 0


def test_scripted_escalation_after_marking_a_fix_is_refused_unless_the_file_says_it_did_not_hold(
        tmp_path, triage, invoke, threer_env):
    marked = {"articles": ["kb-0001 solved"], "outcome": "clearing the saved password fixed it"}
    refused = triage("--answers", str(write_answers(tmp_path, complete(**{"research.kb": marked}))))
    assert refused.exit_code == 2
    said = " ".join(refused.stderr.split())
    assert ("the research marked the KB article kb-0001 (research.kb) as the fix that solved it, and the outcome "
            "escalates") in said and "fix_did_not_hold: true" in said
    assert json.loads(invoke("sessions", "list", "--json").stdout)["sessions"] == []  # nothing recorded

    answers = complete(**{"research.kb": marked,
                          "outcome": {"decision": "escalate", "fix_did_not_hold": True}})
    result = triage("--answers", str(write_answers(tmp_path, answers)))
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    ticket = invoke("ticket", session_id)
    assert ticket.exit_code == 0, ticket.stderr
    assert "Marked as the fix, but it did not hold (escalated anyway)" in ticket.stdout and "kb-0001" in ticket.stdout


def test_changing_a_scripted_escalation_to_mark_a_fix_needs_the_outcome_to_say_so(tmp_path, triage, invoke):
    session_id = triage("--answers", str(write_answers(tmp_path, complete()))).stdout.strip()
    marked = {"research.prior": {"tried": ["kb-0001"], "worked": ["kb-0001"], "outcome": "it fixed it"}}
    result = triage("--resume", session_id, "--answers", str(write_answers(tmp_path, marked, "change.json")))
    assert result.exit_code == 2 and "fix_did_not_hold" in result.stderr
    assert session_json(invoke, session_id)["steps"]["research.prior"]["revision"] == 1  # not changed


def test_changing_an_escalated_session_says_its_ticket_was_issued_and_the_correction_keeps_the_due_time(
        tmp_path, triage, invoke, threer_env):
    session_id = triage("--answers", str(write_answers(tmp_path, complete()))).stdout.strip()
    with Store(threer_env.db_path) as store:  # as if escalated on a Monday morning weeks ago
        store.conn.execute("UPDATE sessions SET closed_at = '2026-11-02T09:00:00+00:00' WHERE id = ?", (session_id,))
    change = {"intake.issue": {"description": "Outlook asks for the password every hour",
                               "affected_users": "jane@contoso-triage.test", "started": "Monday"},
              "outcome": {"decision": "escalate", "engineering": True}}
    result = triage("--resume", session_id, "--answers", str(write_answers(tmp_path, change, "change.json")))
    assert result.exit_code == 0, result.stderr
    said = " ".join(result.stderr.split())
    assert (f"Triage {session_id} is escalated: its ticket was already issued (written on 2026-11-02 09:00 UTC, "
            "when it was escalated). The changed answers make a corrected ticket, written at the end; its expected "
            "first response still counts from 2026-11-02 09:00 UTC.") in said
    assert "Corrected ticket draft written to" in said and "it replaces the ticket written on 2026-11-02 09:00 UTC" in said
    draft = " ".join((threer_env.home / "tickets" / f"{session_id}.txt").read_text(encoding="utf-8").split())
    assert "every hour" in draft and "72 business hours" in draft and "counted from 2026-11-02 09:00" in draft
    with Store(threer_env.db_path) as store:
        assert store.get_session_row(session_id)["closed_at"] == "2026-11-02T09:00:00+00:00"


def test_a_new_escalation_is_not_told_about_an_earlier_ticket(tmp_path, triage):
    result = triage("--answers", str(write_answers(tmp_path, complete())))
    assert "already issued" not in result.stderr and "Corrected" not in result.stderr


def test_an_answers_file_fills_in_partner_details_but_never_replaces_them(tmp_path, triage, invoke, threer_env):
    """A colleague's or a sample file must not change where every later ticket goes."""
    assert triage("--answers", str(write_answers(tmp_path, complete()))).exit_code == 0
    before = threer_env.config_path.read_text()
    assert "partner.example" in before
    other = {**PARTNER, "domain": "other-partner.example", "support_address": "someone@elsewhere.example"}
    result = triage("--answers", str(write_answers(tmp_path, {**complete(), "partner": other}, "other.json")))
    assert result.exit_code == 2
    message = " ".join(result.stderr.split())
    assert "partner.domain: the file gives 'other-partner.example', the config has 'partner.example'" in message
    assert "partner.support_address: the file gives 'someone@elsewhere.example'" in message
    assert "threer config set partner.domain VALUE" in message
    assert threer_env.config_path.read_text() == before  # nothing replaced, nothing recorded
    assert invoke("sessions", "list", "--json").stdout.count('"id"') == 1
    # the same details again are no conflict
    assert triage("--answers", str(write_answers(tmp_path, complete(), "same.json"))).exit_code == 0


@pytest.mark.parametrize("option, ok", [
    ("fabrikam-triage.test", False),  # another customer: which one the call is about is not guessed
    ("jane@Contoso-Triage.test", True),  # the same domain, written another way
])
def test_customer_domain_and_the_files_domain_must_agree(tmp_path, triage, invoke, option, ok):
    result = triage("--customer-domain", option, "--answers", str(write_answers(tmp_path, complete())))
    if ok:
        assert result.exit_code == 0, result.stderr
        assert session_json(invoke, result.stdout.strip())["steps"]["intake.customer"]["answer"]["domain"] == \
            "contoso-triage.test"
        return
    assert result.exit_code == 2
    assert ("intake.customer: domain is 'contoso-triage.test' in the file but --customer-domain gives "
            "'fabrikam-triage.test'") in " ".join(result.stderr.split())
    assert '"id"' not in invoke("sessions", "list", "--json").stdout  # nothing recorded


def test_customer_domain_fills_in_a_file_that_gives_only_the_name(tmp_path, triage, invoke):
    answers = complete()
    answers["intake.customer"] = {"name": "Contoso Ltd"}
    result = triage("--customer-domain", "contoso-triage.test", "--answers", str(write_answers(tmp_path, answers)))
    assert result.exit_code == 0, result.stderr
    assert session_json(invoke, result.stdout.strip())["steps"]["intake.customer"]["answer"]["domain"] == \
            "contoso-triage.test"
