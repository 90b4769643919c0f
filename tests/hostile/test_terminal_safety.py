"""No control sequence from outside text reaches the terminal raw: per command and per source.

Sources: typed answers (an answers file), DNS TXT records (SPF and DMARC), KB files, imported
pages, file names and error details. Each test runs the real command and scans stdout and
stderr for any unsafe character (C0 other than newline and tab, DEL, C1, bidi, zero-width).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from support_dnsserver import DnsTestServer
from support_prompter import COMPLETE_ANSWERS, PARTNER

from threer.safe_text import UNSAFE

# clear screen, window title (OSC 0, closed by BEL), hidden link (OSC 8), CSI in C1, RLO, zero width, DEL
HOSTILE = "fixed \x1b[2J\x1b]0;pwn\x07 \x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\ \x9b31m \u202eevil \u200b\u2066x\x7f"
SGR = re.compile(r"\x1b\[[0-9;]*m")  # rich's own colours, on a forced terminal


def assert_clean(*outputs: str, terminal: bool = False) -> None:
    for output in outputs:
        text = SGR.sub("", output) if terminal else output
        found = UNSAFE.search(text)
        assert found is None, f"raw {found.group()!r} reached the output: {output!r}"


def assert_shown(output: str) -> None:
    """The hostile text is there, visibly: the user can still see what was typed."""
    assert "\\x1b[2J" in output and "<U+202E>" in output


ZONE = Path(__file__).parent.parent / "zones" / "t-triage.zone"


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=[ZONE], records=[
        ("spf-hostile.test.", "TXT", '"v=spf1 include:\\027[2J\\027]0;pwn\\007.test -all"'),
        ("spf-hostile.test.", "MX", "10 mx.spf-hostile.test."),
        ("_dmarc.spf-hostile.test.", "TXT", '"v=DMARC1; p=\\027]8;;x\\007reject\\226\\128\\174"'),
        # the control characters rich's Text would drop (BEL, backspace, VT, FF, CR) in a DMARC tag
        ("bel-hostile.test.", "MX", "10 mx.bel-hostile.test."),
        ("_dmarc.bel-hostile.test.", "TXT", '"v=DMARC1; p=none; pwned\\007x\\008\\011\\012\\013@bel-hostile.test"'),
    ]) as server:
        yield server


def _answers(tmp_path: Path, **changes) -> Path:
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS, **changes}
    answers["intake.customer"] = {"name": "Contoso " + HOSTILE, "domain": "contoso-triage.test"}
    path = tmp_path / "answers.json"
    path.write_text(json.dumps(answers), encoding="utf-8")
    return path


@pytest.fixture
def hostile_session(tmp_path, invoke, dns) -> str:
    host, port = dns.address
    outcome = {"decision": "escalate", "summary": "Prompt loop " + HOSTILE}
    result = invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                    "--nameserver", f"{host}:{port}", "--answers",
                    str(_answers(tmp_path, outcome=outcome, **{"intake.errors": "0x800CCC0E " + HOSTILE})))
    assert result.exit_code == 0, result.stderr
    assert_clean(result.stdout, result.stderr)
    return result.stdout.strip()


def test_resolution_from_the_issue_is_shown_escaped(tmp_path, invoke, dns):
    host, port = dns.address
    outcome = {"decision": "resolved", "resolution": "fixed \x1b[2J\x1b]0;pwn\x07"}
    result = invoke("triage", "--no-input", "--profile", "none", "--dns-only", "--dns-timeout", "3",
                    "--nameserver", f"{host}:{port}", "--answers", str(_answers(tmp_path, outcome=outcome)))
    assert result.exit_code == 0, result.stderr
    shown = invoke("sessions", "show", result.stdout.strip())
    assert_clean(shown.stdout, shown.stderr)
    assert "fixed \\x1b[2J\\x1b]0;pwn\\x07" in shown.stdout


def test_sessions_show_and_list_piped(invoke, hostile_session):
    for args in (("sessions", "show", hostile_session), ("sessions", "list")):
        result = invoke(*args)
        assert result.exit_code == 0, result.stderr
        assert_clean(result.stdout, result.stderr)
        assert_shown(result.stdout)


def test_sessions_show_on_a_terminal(invoke, hostile_session):
    result = invoke("sessions", "show", hostile_session, env={"NO_COLOR": None, "FORCE_COLOR": "1", "TERM": "xterm"})
    assert result.exit_code == 0
    assert "\x1b[" in result.stdout  # it really is coloured: rich's own codes are there
    assert_clean(result.stdout, result.stderr, terminal=True)
    assert "\x1b[2J" not in result.stdout and "\x1b]" not in result.stdout


def test_json_stays_exact(invoke, hostile_session):
    result = invoke("sessions", "show", hostile_session, "--json")
    assert_clean(result.stdout, result.stderr)
    document = json.loads(result.stdout)
    assert document["customer_name"] == "Contoso " + HOSTILE  # every character kept, escaped by JSON
    listed = invoke("sessions", "list", "--json")
    assert_clean(listed.stdout)
    assert json.loads(listed.stdout)["sessions"][0]["customer_name"] == "Contoso " + HOSTILE


def test_ticket_on_stdout(invoke, hostile_session, threer_env):
    for fmt in ("text", "markdown", "json", "eml"):
        result = invoke("ticket", hostile_session, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert_clean(result.stdout, result.stderr)


def test_check_dns_table_spf_and_dmarc_text(invoke, dns):
    host, port = dns.address
    args = ("check-dns", "spf-hostile.test", "--profile", "none", "--dns-only", "--nameserver", f"{host}:{port}")
    result = invoke(*args)
    assert result.stdout
    assert_clean(result.stdout, result.stderr)
    assert "\\x1b" in result.stdout
    as_json = invoke(*args, "--json")
    assert_clean(as_json.stdout, as_json.stderr)
    records = json.dumps(json.loads(as_json.stdout))
    assert "\\u001b[2J" in records  # the record itself, exact


def test_control_characters_are_shown_never_dropped(invoke, dns, hostile_session):
    # a message names what the record holds: "pwnedx" for "pwned\x07x" would name text that is not there
    host, port = dns.address
    result = invoke("check-dns", "bel-hostile.test", "--profile", "none", "--dns-only", "--nameserver",
                    f"{host}:{port}")
    assert_clean(result.stdout, result.stderr)
    assert "pwned\\x07x\\x08\\x0b\\x0c\\x0d@bel-hostile.test" in "".join(result.stdout.split())
    shown = invoke("sessions", "show", hostile_session)  # the customer's name holds a BEL: a table cell
    assert_clean(shown.stdout, shown.stderr)
    assert "\\x1b]0;pwn\\x07" in shown.stdout


def test_kb_files_in_index_search_and_show(tmp_path, invoke):
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "hostile.md").write_text(
        f"---\nid: kb-hostile\ntitle: Outlook {HOSTILE}\ntags: [outlook]\n---\n# Outlook\n\nprompt loop {HOSTILE}\n",
        encoding="utf-8")
    (folder / "bad\x1b[2J.md").write_bytes(b"caf\xe9 \x00\x81 not utf-8")
    indexed = invoke("kb", "index", str(folder))
    assert indexed.exit_code == 0, indexed.stderr
    assert_clean(indexed.stdout, indexed.stderr)
    assert "bad\\x1b[2J.md" in indexed.stderr
    for args in (("kb", "search", "outlook prompt loop"), ("kb", "show", "kb-hostile"),
                 ("kb", "search", "outlook prompt loop", "--json")):
        result = invoke(*args)
        assert result.exit_code == 0, result.stderr
        assert_clean(result.stdout, result.stderr)


def test_kb_import_page_and_failures(invoke):
    srv = HTTPServer(host="127.0.0.1", port=0)
    srv.start()
    try:
        body = ("<html><head><title>Outlook &#27;[2J&#27;]0;pwn&#7; &#x202e;</title></head>"
                "<body><main><h1>Outlook</h1><p>prompt loop &#27;[2J &#x9b;31m password</p></main></body></html>")
        srv.expect_request("/a").respond_with_data(body, content_type="text/html; charset=utf-8")
        srv.expect_request("/gone").respond_with_data("\x1b[2J", status=404)
        result = invoke("kb", "import", srv.url_for("/a"))
        assert result.exit_code == 0, result.stderr
        assert_clean(result.stdout, result.stderr)
        failed = invoke("kb", "import", srv.url_for("/gone") + "%1b%5b2J")
        assert_clean(failed.stdout, failed.stderr)
        for args in (("kb", "search", "outlook prompt loop"), ("kb", "search", "outlook prompt loop", "--json")):
            shown = invoke(*args)
            assert shown.exit_code == 0, shown.stderr
            assert_clean(shown.stdout, shown.stderr)
        doc_id = json.loads(invoke("kb", "search", "outlook prompt loop", "--json").stdout)["results"][0]["id"]
        shown = invoke("kb", "show", doc_id)
        assert_clean(shown.stdout, shown.stderr)
    finally:
        srv.clear()
        srv.stop()


@pytest.mark.parametrize("args", [
    ("check-dns", "\x1b]0;pwn\x07.test"),
    ("check-dns", "--from", "list\x1b[2J.txt"),
    ("kb", "show", "\x1b[2J\u202e"),
    ("sessions", "show", "\x1b]0;pwn\x07"),
    ("ticket", "\x1b[2J"),
    ("triage", "--no-input", "--answers", "\x1b[2J.json"),
    ("\x1b]0;pwn\x07",),
    ("sessions", "list", "--status", "\x1b[2J"),
    ("config", "set", "default_profile", "\x1b[2J"),
])
def test_error_details_quote_what_was_typed_visibly(invoke, args):
    result = invoke(*args)
    assert result.exit_code != 0
    assert result.stderr
    assert_clean(result.stdout, result.stderr)
    assert "\\x1b" in result.stderr
