"""`threer ticket` through the real command: formats, files, refusals, secrets, the clipboard."""

from __future__ import annotations

import email
import email.policy
import json
import os
import stat
from email.parser import BytesParser
from pathlib import Path

import pytest
from support_sessions import ESCALATION, incomplete_session, make_session, write_partner_config

from threer.env import Environment
from threer.store import Store


@pytest.fixture
def store(threer_env: Environment) -> Store:
    return Store(threer_env.db_path)


@pytest.fixture
def configured(threer_env: Environment) -> None:
    write_partner_config(threer_env.config_path)


@pytest.fixture
def session_id(store: Store, configured: None) -> str:
    return make_session(store)


def test_text_to_stdout(invoke, session_id: str) -> None:
    result = invoke("ticket", session_id)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("To: support@provider.example\nSubject: Escalation: contoso.com - ")
    assert f"Triage ID: {session_id}\n" in result.stdout
    assert "Expected First Response: " in result.stdout
    assert result.stderr == ""


def test_session_id_is_case_insensitive(invoke, session_id: str) -> None:
    assert invoke("ticket", session_id.lower()).exit_code == 0


def test_incomplete_exits_1_with_the_exact_missing_steps(invoke, store: Store, configured: None) -> None:
    session_id = incomplete_session(store, missing=["review.dns", "research.kb", "outcome"])
    result = invoke("ticket", session_id)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"Error: Triage {session_id} is not complete; missing steps: review.dns, research.kb, outcome." \
        in " ".join(result.stderr.split())


def test_missing_partner_details_exit_1_and_name_the_command(invoke, store: Store) -> None:
    session_id = make_session(store)
    result = invoke("ticket", session_id)
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())
    assert "partner.domain, partner.control_panel_url, partner.support_address" in err
    assert "threer config set partner.domain" in err


def test_unknown_id_exits_2(invoke, session_id: str) -> None:
    result = invoke("ticket", "20240101-ZZZZ")
    assert result.exit_code == 2
    assert "No triage session '20240101-ZZZZ'" in result.stderr


def test_unknown_id_without_a_database_exits_2_and_creates_nothing(invoke, threer_env: Environment) -> None:
    result = invoke("ticket", "20240101-ZZZZ")
    assert result.exit_code == 2
    assert "threer sessions list" in result.stderr
    assert not threer_env.db_path.exists()


def test_output_file(invoke, session_id: str, tmp_path: Path) -> None:
    target = tmp_path / "out" / "ticket.md"
    target.parent.mkdir()
    result = invoke("ticket", session_id, "--format", "markdown", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert f"Ticket written to {target}" in " ".join(result.stderr.split())
    assert target.read_text(encoding="utf-8").startswith("# Escalation: contoso.com")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    again = invoke("ticket", session_id, "-f", "markdown", "-o", str(target))  # overwriting a file is fine
    assert again.exit_code == 0


def test_output_to_a_directory_is_refused(invoke, session_id: str, tmp_path: Path) -> None:
    result = invoke("ticket", session_id, "--output", str(tmp_path))
    assert result.exit_code == 2
    assert "is a folder" in result.stderr
    assert result.stdout == ""


def test_output_to_an_unwritable_path(invoke, session_id: str, tmp_path: Path) -> None:
    result = invoke("ticket", session_id, "--output", str(tmp_path / "no" / "such" / "dir" / "t.txt"))
    assert result.exit_code == 2
    assert "Cannot write" in result.stderr and "Choose another --output path" in " ".join(result.stderr.split())
    if os.geteuid() != 0:  # root can write anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        result = invoke("ticket", session_id, "--output", str(locked / "t.txt"))
        assert result.exit_code == 2
        assert "Permission denied" in result.stderr


def test_json_format(invoke, session_id: str) -> None:
    result = invoke("ticket", session_id, "--format", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["version"] == 1 and doc["triage_id"] == session_id
    assert doc["customer"]["domain"] == "contoso.com"


def test_eml_to_stdout_parses(invoke, session_id: str) -> None:
    result = invoke("ticket", session_id, "--format", "eml")
    assert result.exit_code == 0
    msg = BytesParser(policy=email.policy.default).parsebytes(result.stdout_bytes)
    assert msg["To"] == "support@provider.example"
    assert msg["X-Unsent"] == "1"
    assert msg["Subject"].startswith("Escalation: contoso.com - ")
    assert f"Triage ID: {session_id}" in msg.get_content()


def test_eml_to_file_parses(invoke, session_id: str, tmp_path: Path) -> None:
    target = tmp_path / "ticket.eml"
    result = invoke("ticket", session_id, "--format", "eml", "--output", str(target))
    assert result.exit_code == 0
    with target.open("rb") as fh:
        msg = BytesParser(policy=email.policy.default).parse(fh)
    assert msg["X-Threer-Triage-Id"] == session_id
    assert msg.get_content_type() == "text/plain"
    assert b"\r\n" in target.read_bytes()


def test_unknown_format_is_a_usage_error(invoke, session_id: str) -> None:
    result = invoke("ticket", session_id, "--format", "pdf")
    assert result.exit_code == 2


def test_secrets_are_flagged_on_stderr_and_redacted_on_request(invoke, store: Store, configured: None) -> None:
    answers = json.loads(json.dumps(ESCALATION))
    answers["review.server_rules"] = "none; the admin password: Adm1n-Pa55 was used"
    session_id = make_session(store, answers)
    result = invoke("ticket", session_id)
    assert result.exit_code == 0
    err = " ".join(result.stderr.split())
    assert "Warning: review.server_rules.found looks like it contains a password." in err
    assert "--redact" in err
    assert "Adm1n-Pa55" in result.stdout and "Adm1n-Pa55" not in result.stderr
    redacted = invoke("ticket", session_id, "--redact", "--format", "json")
    assert redacted.exit_code == 0
    assert "Adm1n-Pa55" not in redacted.stdout
    doc = json.loads(redacted.stdout)
    assert doc["redacted"] is True
    assert doc["warnings"] == [{"field": "review.server_rules.found", "kind": "password", "line": 1}]


def test_resolved_session_is_refused(invoke, store: Store, configured: None) -> None:
    answers = {**ESCALATION, "outcome": {"decision": "resolved", "resolution": "Added the autodiscover CNAME."}}
    session_id = make_session(store, answers)
    result = invoke("ticket", session_id)
    assert result.exit_code == 1 and result.stdout == ""
    assert "resolved at the partner level" in result.stderr
    assert f"--resume {session_id} --change outcome" in " ".join(result.stderr.split())


# -- the clipboard: real programs on a PATH of our own -------------------------------------

def fake_tool(folder: Path, name: str, script: str) -> None:
    folder.mkdir(exist_ok=True)
    tool = folder / name
    tool.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    tool.chmod(0o755)


def test_copy_uses_the_clipboard_tool(invoke, session_id: str, tmp_path: Path) -> None:
    bin_dir, clip = tmp_path / "bin", tmp_path / "clipboard.txt"
    fake_tool(bin_dir, "xclip", f'/bin/cat > "{clip}"')
    result = invoke("ticket", session_id, "--copy",
                    env={"PATH": str(bin_dir), "DISPLAY": ":0", "WAYLAND_DISPLAY": None})
    assert result.exit_code == 0, result.stderr
    assert "Copied to the clipboard with xclip." in result.stderr
    assert clip.read_text(encoding="utf-8") == result.stdout  # and it was printed too


def test_copy_of_eml_copies_the_text(invoke, session_id: str, tmp_path: Path) -> None:
    bin_dir, clip = tmp_path / "bin", tmp_path / "clipboard.txt"
    fake_tool(bin_dir, "wl-copy", f'/bin/cat > "{clip}"')
    target = tmp_path / "t.eml"
    result = invoke("ticket", session_id, "-f", "eml", "-o", str(target), "--copy",
                    env={"PATH": str(bin_dir), "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": None})
    assert result.exit_code == 0
    assert clip.read_text(encoding="utf-8").startswith("To: support@provider.example\n")
    assert target.exists()


def test_copy_without_a_clipboard_tool_still_prints(invoke, session_id: str, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = invoke("ticket", session_id, "--copy", env={"PATH": str(empty)})
    assert result.exit_code == 0
    assert "No clipboard tool found" in " ".join(result.stderr.split())
    assert result.stdout.startswith("To: support@provider.example")


def test_copy_when_the_tool_fails(invoke, session_id: str, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "xsel", 'echo "xsel: Can\'t open display" >&2; exit 1')
    result = invoke("ticket", session_id, "--copy", env={"PATH": str(bin_dir), "DISPLAY": ":0",
                                                           "WAYLAND_DISPLAY": None})
    assert result.exit_code == 0
    err = " ".join(result.stderr.split())
    assert "Could not copy to the clipboard (xsel: xsel: Can't open display)" in err
    assert result.stdout.startswith("To: ")


def test_help_has_an_example(invoke) -> None:
    result = invoke("ticket", "--help")
    assert result.exit_code == 0
    assert "Example: threer ticket" in result.stdout
    for option in ("--format", "--output", "--copy", "--redact"):
        assert option in result.stdout


def test_output_dash_is_standard_output(invoke, session_id: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("ticket", session_id, "--format", "markdown", "--output", "-")
    assert result.exit_code == 0, result.stderr
    assert "Contoso" in result.stdout and "Ticket written to" not in result.stderr
    assert not (tmp_path / "-").exists()
    assert invoke("ticket", session_id, "--format", "markdown").stdout == result.stdout
