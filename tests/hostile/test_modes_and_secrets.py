"""File modes (0600 files, 0700 folders, whatever the umask and what was there) and secrets masked whole."""

from __future__ import annotations

import os
import stat

import pytest
from support_sessions import ESCALATION, make_session, write_partner_config

from threer.secrets_scan import find_secrets, redact
from threer.store import Store


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def open_umask():
    old = os.umask(0)
    yield
    os.umask(old)


def test_ticket_output_over_a_0644_file_becomes_0600(invoke, threer_env, tmp_path, open_umask):
    write_partner_config(threer_env.config_path)
    with Store(threer_env.db_path) as store:
        session_id = make_session(store)
    out = tmp_path / "ticket.txt"
    out.write_text("OLDCONTENT")
    os.chmod(out, 0o644)
    result = invoke("ticket", session_id, "--output", str(out))
    assert result.exit_code == 0, result.stderr
    assert mode(out) == 0o600 and "OLDCONTENT" not in out.read_text()


def test_config_database_and_folders_under_umask_000(invoke, threer_env, open_umask):
    result = invoke("config", "set", "partner.domain", "partner.test")
    assert result.exit_code == 0, result.stderr
    assert mode(threer_env.config_path) == 0o600
    assert mode(threer_env.config_path.parent) == 0o700
    invoke("sessions", "list")
    assert mode(threer_env.db_path) == 0o600 and mode(threer_env.home) == 0o700


def test_an_existing_0644_database_is_made_0600(threer_env, open_umask):
    Store(threer_env.db_path).close()
    os.chmod(threer_env.db_path, 0o644)
    Store(threer_env.db_path).close()
    assert mode(threer_env.db_path) == 0o600


@pytest.mark.parametrize("text,masked", [
    ("password: Hunter2!", "password: [REDACTED]"),
    ("pass=Q!w2e3r4", "pass=[REDACTED]"),
    ("pwd=abc123?", "pwd=[REDACTED]"),
    ("passwd: s3cr3t.", "passwd: [REDACTED]"),
    ("PW: Tr0ub4dor&3", "PW: [REDACTED]"),
    ("Server=mail;Password=Pa55,word;User=jane", "Server=mail;Password=[REDACTED];User=jane"),
    ("her password is Sommer2024! now", "her password is [REDACTED] now"),
])
def test_the_whole_value_is_masked(text, masked):
    assert redact(text) == masked


@pytest.mark.parametrize("text", ["pass the test to the next team", "the pass rate is fine", "we passed 5.7.1"])
def test_ordinary_uses_of_pass_are_not_secrets(text):
    assert find_secrets(text) == []


def test_the_subject_line_is_scanned_and_masked(invoke, threer_env):
    write_partner_config(threer_env.config_path)
    answers = {**ESCALATION, "outcome": {"decision": "escalate", "summary": "Login fails, pass=Q!w2e3r4 given"}}
    with Store(threer_env.db_path) as store:
        session_id = make_session(store, answers)
    plain = invoke("ticket", session_id, "--format", "eml")
    assert "password" in plain.stderr.lower() and "--redact" in plain.stderr
    masked = invoke("ticket", session_id, "--format", "eml", "--redact")
    assert masked.exit_code == 0, masked.stderr
    import email
    from email.header import decode_header, make_header

    subject = str(make_header(decode_header(email.message_from_string(masked.stdout)["Subject"])))
    assert "Q!w2e3r4" not in masked.stdout and "pass=[REDACTED] given" in subject
    assert "Q!w2e3r4" in plain.stdout  # without --redact it is flagged, not changed
