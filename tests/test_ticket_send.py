"""`threer ticket ID --send` against real SMTP servers on loopback: plain, STARTTLS, implicit TLS, login
refused, server down, recipient refused; the confirmation; nothing recorded as sent that was not accepted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import trustme
from support_sessions import make_session, partner_config
from support_smtp import HOST, free_port, smtp_server

from threer.config import SmtpConfig, save_config
from threer.errors import BadInput
from threer.env import Environment
from threer.store import Store
from threer.ticket.send import check_settings, plain_login_warning
from threer.triage.engine import load_session


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def session_id(threer_env: Environment) -> str:
    with Store(threer_env.db_path) as store:
        return make_session(store)


def configure(env: Environment, tmp_path: Path, **smtp) -> None:
    config = partner_config()
    config.smtp = SmtpConfig(host=HOST, from_address="sam@partner.example", timeout=10, **smtp)
    save_config(config, env.config_path)


def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def sent_record(env: Environment, session_id: str) -> tuple:
    with Store(env.db_path) as store:
        s = load_session(store, session_id)
    return s.ticket_sent_at, s.ticket_message_id


def test_plain_send_carries_the_tag_the_body_and_the_json(invoke, threer_env, session_id, tmp_path) -> None:
    with smtp_server() as server:
        configure(threer_env, tmp_path, port=server.port, security="none")
        result = invoke("ticket", session_id, "--send", "--yes")
        assert result.exit_code == 0, result.stderr
    assert len(server.messages) == 1 and server.recorder.tls_used == [False]
    msg = server.messages[0]
    assert msg["Subject"].startswith(f"[threer {session_id}] Escalation: contoso.com - ")
    assert msg["To"] == "support@provider.example" and msg["From"] == "sam@partner.example"
    assert msg["X-Threer-Triage-Id"] == session_id
    body = msg.get_body(("plain",)).get_content()
    assert f"Triage ID: {session_id}" in body and "Customer Domain Name: contoso.com" in body
    attachment = next(msg.iter_attachments())
    assert attachment.get_content_type() == "application/json"
    assert attachment.get_filename() == f"ticket-{session_id}.json"
    doc = json.loads(attachment.get_content())
    assert doc["version"] == 1 and doc["triage_id"] == session_id
    sent_at, message_id = sent_record(threer_env, session_id)
    assert sent_at is not None and message_id == msg["Message-ID"]
    assert f"Message-ID {message_id}" in result.stderr
    # what was sent was shown first
    assert f"Subject: [threer {session_id}]" in result.stdout and "Attached: ticket-" in result.stdout
    assert "Steps Taken to Replicate and Resolve:" in result.stdout


def test_starttls_with_login(invoke, threer_env, session_id, tmp_path, ca) -> None:
    with smtp_server(starttls=ca, users={"sam@partner.example": "right"}) as server:
        configure(threer_env, tmp_path, port=server.port, security="starttls", user="sam@partner.example",
                  ca_bundle=ca_file(ca, tmp_path))
        result = invoke("ticket", session_id, "--send", "--yes", env={"THREER_SMTP_PASSWORD": "right"})
        assert result.exit_code == 0, result.stderr
    assert server.logins == ["sam@partner.example"] and server.recorder.tls_used == [True]
    assert sent_record(threer_env, session_id)[1] == server.messages[0]["Message-ID"]


def test_implicit_tls(invoke, threer_env, session_id, tmp_path, ca) -> None:
    with smtp_server(implicit_tls=ca) as server:
        configure(threer_env, tmp_path, port=server.port, security="tls", ca_bundle=ca_file(ca, tmp_path))
        result = invoke("ticket", session_id, "--send", "--yes")
        assert result.exit_code == 0, result.stderr
    assert server.recorder.tls_used == [True] and sent_record(threer_env, session_id)[0] is not None


def test_an_untrusted_certificate_sends_nothing(invoke, threer_env, session_id, tmp_path, ca) -> None:
    with smtp_server(starttls=ca) as server:
        configure(threer_env, tmp_path, port=server.port, security="starttls")  # the system CAs only
        result = invoke("ticket", session_id, "--send", "--yes")
    assert result.exit_code == 3
    assert "could not be verified" in result.stderr and "Nothing was sent." in result.stderr
    assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)


def test_a_server_without_starttls_is_refused_when_starttls_is_asked(invoke, threer_env, session_id,
                                                                     tmp_path) -> None:
    with smtp_server() as server:
        configure(threer_env, tmp_path, port=server.port, security="starttls")
        result = invoke("ticket", session_id, "--send", "--yes")
    assert result.exit_code == 3 and "does not offer STARTTLS" in result.stderr
    assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)


def test_login_refused(invoke, threer_env, session_id, tmp_path, ca) -> None:
    with smtp_server(starttls=ca, users={"sam@partner.example": "right"}) as server:
        configure(threer_env, tmp_path, port=server.port, user="sam@partner.example", ca_bundle=ca_file(ca, tmp_path))
        result = invoke("ticket", session_id, "--send", "--yes", env={"THREER_SMTP_PASSWORD": "wrong"})
    assert result.exit_code == 2
    assert "refused the login for sam@partner.example (535" in result.stderr
    assert "Nothing was sent." in result.stderr and "Traceback" not in result.stderr
    assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)


def test_server_down(invoke, threer_env, session_id, tmp_path) -> None:
    port = free_port()  # nothing listens there
    configure(threer_env, tmp_path, port=port, security="none")
    result = invoke("ticket", session_id, "--send", "--yes")
    assert result.exit_code == 3
    assert f"Could not connect to the SMTP server {HOST}:{port}" in result.stderr
    assert "Nothing was sent." in result.stderr
    assert sent_record(threer_env, session_id) == (None, None)


def test_recipient_refused(invoke, threer_env, session_id, tmp_path) -> None:
    with smtp_server(refuse_recipients=True) as server:
        configure(threer_env, tmp_path, port=server.port, security="none")
        result = invoke("ticket", session_id, "--send", "--yes")
    assert result.exit_code == 2
    assert "refused the recipient (support@provider.example: 550 5.1.1" in result.stderr
    assert "partner.support_address" in result.stderr and "Nothing was sent." in result.stderr
    assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)


@pytest.mark.parametrize("server_does, words", [
    ({"data_delay": 3.0}, "received the whole ticket but gave no answer within 1 s"),
    ({"drop_after_data": True}, "received the whole ticket but closed the connection before answering"),
])
def test_a_lost_final_reply_says_the_outcome_is_unknown(invoke, threer_env, session_id, server_does, words) -> None:
    with smtp_server(**server_does) as server:
        config = partner_config()
        config.smtp = SmtpConfig(host=HOST, port=server.port, security="none", from_address="sam@partner.example",
                                 timeout=1)
        save_config(config, threer_env.config_path)
        result = invoke("ticket", session_id, "--send", "--yes")
    assert result.exit_code == 3, result.stderr
    stderr = " ".join(result.stderr.split())
    assert words in stderr and "may have been accepted or not" in stderr
    assert "Nothing was sent" not in stderr and "Traceback" not in stderr
    message_id = server.messages[0]["Message-ID"]  # the server did get it
    assert f"Message-ID {message_id}" in stderr and f"[threer {session_id}]" in stderr
    assert sent_record(threer_env, session_id) == (None, None)


def test_without_a_terminal_and_without_yes(invoke, threer_env, session_id, tmp_path) -> None:
    with smtp_server() as server:
        configure(threer_env, tmp_path, port=server.port, security="none")
        result = invoke("ticket", session_id, "--send")
    assert result.exit_code == 2 and "add --yes to send from a script" in result.stderr
    assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)


@pytest.mark.parametrize("smtp, env, words", [
    ({"host": None}, {}, "Sending needs the SMTP server: `threer config set smtp.host"),
    ({"user": "sam@partner.example"}, {}, "no password was found: set THREER_SMTP_PASSWORD"),
    ({"ca_bundle": Path("/nonexistent/ca.pem")}, {}, "smtp.ca_bundle /nonexistent/ca.pem is not a file"),
])
def test_settings_that_cannot_work_are_exit_2(invoke, threer_env, session_id, tmp_path, smtp, env, words) -> None:
    config = partner_config()
    config.smtp = SmtpConfig(**{"host": HOST, "from_address": "sam@partner.example", **smtp})
    save_config(config, threer_env.config_path)
    result = invoke("ticket", session_id, "--send", "--yes", env={"THREER_SMTP_PASSWORD": "", **env})
    assert result.exit_code == 2, result.stdout
    assert words in result.stderr


@pytest.mark.parametrize("host", ["smtp.partner.example", "localhost.partner.example", "mail"])
def test_a_login_without_encryption_to_another_machine_is_refused(host: str) -> None:
    smtp = SmtpConfig(host=host, security="none", user="sam@partner.example", from_address="sam@partner.example")
    with pytest.raises(BadInput) as refused:
        check_settings(smtp, "secret")
    assert refused.value.exit_status == 2
    assert f"the password would cross the network to {host} unencrypted" in refused.value.message
    assert "smtp.security starttls" in refused.value.message and "smtp.plain_login true" in refused.value.message
    assert plain_login_warning(smtp) is None
    # the help desk says it knows: allowed, with a warning said before sending
    allowed = smtp.model_copy(update={"plain_login": True})
    check_settings(allowed, "secret")
    assert f"the password for sam@partner.example goes to {host} unencrypted" in (plain_login_warning(allowed) or "")
    # without a login there is no password to protect
    check_settings(smtp.model_copy(update={"user": None}), None)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "LOCALHOST.", "::1", "[::1]",
                                  "::ffff:127.0.0.1"])
def test_a_login_without_encryption_on_this_machine_is_allowed(host: str) -> None:
    smtp = SmtpConfig(host=host, security="none", user="sam@partner.example", from_address="sam@partner.example")
    check_settings(smtp, "secret")
    assert plain_login_warning(smtp.model_copy(update={"plain_login": True})) is None


def test_a_plain_login_to_a_loopback_relay_sends(invoke, threer_env, session_id, tmp_path) -> None:
    with smtp_server(users={"sam@partner.example": "right"}) as server:
        configure(threer_env, tmp_path, port=server.port, security="none", user="sam@partner.example")
        result = invoke("ticket", session_id, "--send", "--yes", env={"THREER_SMTP_PASSWORD": "right"})
    assert result.exit_code == 0, result.stderr
    assert server.logins == ["sam@partner.example"] and len(server.messages) == 1
    assert "unencrypted" not in result.stderr


def test_plain_login_is_a_config_key(invoke, threer_env) -> None:
    assert invoke("config", "set", "smtp.plain_login", "true").exit_code == 0
    assert "plain_login = true" in invoke("config", "show").stdout
    assert invoke("config", "set", "smtp.plain_login", "maybe").exit_code == 2


def test_send_does_not_mix_with_output_options(invoke, session_id) -> None:
    for extra in (["--format", "json"], ["--output", "x.txt"], ["--copy"]):
        result = invoke("ticket", session_id, "--send", "--yes", *extra)
        assert result.exit_code == 2 and "--send sends the text ticket" in result.stderr
    assert invoke("ticket", session_id, "--yes").exit_code == 2


def test_the_password_is_never_in_the_config(invoke, threer_env, tmp_path) -> None:
    result = invoke("config", "set", "smtp.password", "hunter2")
    assert result.exit_code == 2 and "never written to the config file" in result.stderr
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text('[smtp]\nhost = "127.0.0.1"\npassword = "hunter2"\n', encoding="utf-8")
    result = invoke("config", "show")
    assert result.exit_code == 2 and "never kept in the config file" in result.stderr


def test_asks_before_sending_and_before_sending_again(invoke, threer_env, session_id, tmp_path,
                                                      monkeypatch) -> None:
    import threer.cli.ticket as cli_ticket

    monkeypatch.setattr(cli_ticket, "is_interactive", lambda: True)
    with smtp_server() as server:
        configure(threer_env, tmp_path, port=server.port, security="none")
        declined = invoke("ticket", session_id, "--send", input="n\n")
        assert declined.exit_code == 0 and "Send this to support@provider.example?" in declined.stdout
        assert server.messages == [] and sent_record(threer_env, session_id) == (None, None)

        accepted = invoke("ticket", session_id, "--send", input="y\n")
        assert accepted.exit_code == 0, accepted.stderr
        first = sent_record(threer_env, session_id)
        assert len(server.messages) == 1 and first[1] == server.messages[0]["Message-ID"]

        again = invoke("ticket", session_id, "--send", input="n\n")
        assert "This ticket was already sent on" in again.stdout and first[1] in again.stdout
        assert len(server.messages) == 1 and sent_record(threer_env, session_id) == first

        resent = invoke("ticket", session_id, "--send", input="y\n")
        assert resent.exit_code == 0
        assert len(server.messages) == 2 and sent_record(threer_env, session_id)[1] == server.messages[1]["Message-ID"]
        assert server.messages[1]["Message-ID"] != first[1]


@pytest.mark.slow
def test_confirmation_in_a_real_terminal(tmp_path: Path) -> None:
    """On a pseudo-terminal, --send shows the message and asks; 'n' sends nothing, 'y' sends once."""
    import pexpect
    from support_pty import ANSI, EXPECT_TIMEOUT, pty_env, spawn_threer

    env = pty_env(tmp_path)
    home = Environment(home=Path(env["THREER_HOME"]), config_path=Path(env["THREER_CONFIG"]))
    with Store(home.db_path) as store:
        session_id = make_session(store)
    with smtp_server() as server:
        configure(home, tmp_path, port=server.port, security="none")
        child = spawn_threer(["ticket", session_id, "--send"], env)
        child.expect(r"Send this to support@provider\.example\? \[y/N\]", timeout=EXPECT_TIMEOUT)
        shown = ANSI.sub("", child.before)
        assert f"[threer {session_id}]" in shown and "Attached: ticket-" in shown
        child.sendline("n")
        child.expect("Not sent.", timeout=EXPECT_TIMEOUT)
        child.expect(pexpect.EOF, timeout=EXPECT_TIMEOUT)
        assert server.messages == []

        child = spawn_threer(["ticket", session_id, "--send"], env)
        child.expect(r"\[y/N\]", timeout=EXPECT_TIMEOUT)
        child.sendline("y")
        child.expect("Message-ID", timeout=EXPECT_TIMEOUT)
        child.expect(pexpect.EOF, timeout=EXPECT_TIMEOUT)
        child.close()
        assert child.exitstatus == 0 and len(server.messages) == 1
    assert sent_record(home, session_id)[1] == server.messages[0]["Message-ID"]


def test_the_sent_ticket_counts_from_its_send_and_a_resend_keeps_that_time(invoke, threer_env, session_id,
                                                                          tmp_path) -> None:
    # review 3 #24: the date promised is the one sessions list --escalated tracks, whenever exported or re-sent
    with smtp_server() as server:
        configure(threer_env, tmp_path, port=server.port, security="none")
        assert invoke("ticket", session_id, "--send", "--yes").exit_code == 0
        first_sent, _ = sent_record(threer_env, session_id)
        assert invoke("ticket", session_id, "--send", "--yes").exit_code == 0
    assert sent_record(threer_env, session_id)[0] == first_sent
    bodies = [json.loads(next(m.iter_attachments()).get_content()) for m in server.messages]
    listed = json.loads(invoke("sessions", "list", "--escalated", "--json").stdout)["sessions"][0]
    exported = json.loads(invoke("ticket", session_id, "--format", "json").stdout)
    counted = {doc["first_response"]["counted_from"] for doc in [*bodies, exported]}
    dues = {doc["first_response"]["due"] for doc in [*bodies, exported]}
    assert len(counted) == 1 and len(dues) == 1
    from datetime import datetime

    assert datetime.fromisoformat(counted.pop()) == datetime.fromisoformat(listed["first_response"]["counted_from"])
    assert datetime.fromisoformat(dues.pop()) == datetime.fromisoformat(listed["first_response"]["due"])
