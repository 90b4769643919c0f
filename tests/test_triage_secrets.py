"""Secrets typed during a triage (review 3 #5, #21): flagged before the ticket draft is written, and
masked in the past case a resolved session becomes, which every technician can search. Real
command, real SQLite file, the loopback DNS server."""

import json
from pathlib import Path

import pytest
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER

ZONE = Path(__file__).parent / "zones" / "t-triage.zone"


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=[ZONE]) as server:
        yield server


@pytest.fixture
def triage(invoke, dns, tmp_path):
    def _triage(**changes):
        answers = {"partner": PARTNER, **COMPLETE_ANSWERS, **changes}
        answers["intake.customer"] = {"name": "Contoso Ltd", "domain": "contoso-triage.test"}
        path = tmp_path / "answers.json"
        path.write_text(json.dumps(answers))
        host, port = dns.address
        return invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                      "--nameserver", f"{host}:{port}", "--answers", str(path))

    return _triage


def test_a_password_in_the_dns_note_is_flagged_before_the_draft(triage, threer_env):
    result = triage(**{"review.dns": "SPF still the old ISP's; DNS admin (Pete) to change it. "
                                     "password for the DNS panel is Hunter2!"})
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    err = " ".join(result.stderr.split())
    assert "Warning: review.dns.note looks like it contains a password." in err
    assert err.index("review.dns.note looks like") < err.index("Ticket draft written to")
    for ext in ("txt", "eml"):
        text = (threer_env.home / "tickets" / f"{session_id}.{ext}").read_text()
        assert "Hunter2" not in text and "[REDACTED]" in text


def test_a_password_in_a_resolved_session_is_flagged_and_masked_in_the_past_case(triage, invoke):
    result = triage(outcome={"decision": "resolved", "summary": "SPF replaced, password was reset to Welcome123",
                             "resolution": "Customer DNS admin replaced the SPF record; "
                                           "the password is Summer2026 for their DNS panel"})
    assert result.exit_code == 0, result.stderr
    session_id = result.stdout.strip()
    err = " ".join(result.stderr.split())
    assert "Warning: outcome.resolution looks like it contains a password." in err
    assert "Warning: outcome.summary looks like it contains a password." in err
    assert "replaced by [REDACTED]" in err and f"threer sessions delete {session_id}" in err
    # the search never finds the case by the secret, and the case shows it masked
    for secret in ("Summer2026", "Welcome123"):
        found = json.loads(invoke("kb", "search", secret, "--json").stdout)
        assert f"case:{session_id}" not in [r["id"] for r in found["results"]], secret
    shown = invoke("kb", "show", f"case:{session_id}").stdout
    assert "Summer2026" not in shown and "Welcome123" not in shown and "[REDACTED]" in shown
    assert "the password is [REDACTED] for their DNS panel" in " ".join(shown.split())
    # the session itself keeps what was typed (deleting it removes both)
    doc = json.loads(invoke("sessions", "show", session_id, "--json").stdout)
    assert "Summer2026" in doc["steps"]["outcome"]["answer"]["resolution"]


def test_a_resolved_session_without_secrets_says_nothing_of_them(triage):
    result = triage(outcome={"decision": "resolved", "resolution": "Re-created the Outlook profile."})
    assert result.exit_code == 0, result.stderr
    assert "Warning" not in result.stderr and "REDACTED" not in result.stderr
