"""`threer triage` in a real pseudo-terminal: type the first steps, Ctrl-C, resume, finish, export.

The DNS step asks a loopback DNS server (tests/support_dnsserver.py) serving a small zone written
here, so the check table is real and no test needs the internet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from support_dnsserver import DnsTestServer
from support_pty import (
    CTRL_C,
    RESUME_LINE,
    answer,
    answer_multiline,
    choose,
    prompt_pattern,
    pty_env,
    run_threer,
    screen_text,
    session_json,
    spawn_threer,
    tick,
    wait_exit,
    wait_prompt,
)

pytestmark = pytest.mark.slow

# contoso.example: delegated, an MX and SPF, but no DMARC record (a finding to show in the table)
CONTOSO_ZONE = """\
$ORIGIN contoso.example.
$TTL 300
@     IN SOA ns1.contoso.example. hostmaster.contoso.example. 2026112601 3600 600 86400 60
@     IN NS  ns1.contoso.example.
ns1   IN A   127.0.0.1
@     IN MX  10 mail.contoso.example.
mail  IN A   127.0.0.2
@     IN TXT "v=spf1 mx -all"
"""

ERRORS_HEADING = "Exact error messages, codes or bounce text (or: no error shown)"
ERROR_TEXT = "0x800CCC0E: the connection to the server was interrupted"
STARTED = re.compile(r"Triage (\d{8}-[0-9A-Z]{4})(?:\x1b\[[0-9;]*m)* started")


@pytest.fixture
def nameserver(tmp_path: Path) -> Iterator[str]:
    """IP:PORT of a loopback DNS server that knows contoso.example."""
    zone = tmp_path / "contoso.zone"
    zone.write_text(CONTOSO_ZONE, encoding="ascii")
    with DnsTestServer(zone_files=[zone]) as server:
        host, port = server.address
        yield f"{host}:{port}"


def triage_args(nameserver: str, *extra: str) -> list[str]:
    return ["triage", "--dns-only", "--dns-timeout", "1", "--profile", "none", "--nameserver", nameserver, *extra]


def type_partner_details(child: pexpect.spawn) -> None:
    child.expect_exact("First, your partner details")
    answer(child, "Your partner domain", "partner.example")
    answer(child, "Your Control Panel URL", "https://cp.partner.example/")
    answer(child, "support address for escalations", "escalations@provider.example")
    answer(child, "Your name (optional)", "Sam")


def type_intake(child: pexpect.spawn) -> None:
    answer(child, "Customer name", "Contoso Ltd")
    answer(child, "Customer domain", "Jane@Contoso.example")
    answer(child, "The issue, in your words", "Outlook keeps asking for a password")
    answer(child, "Affected user(s)", "jane@contoso.example")
    answer(child, "When did it start?", "Monday 9am")
    answer_multiline(child, ERRORS_HEADING, ERROR_TEXT)


def type_replicate_to_outcome(child: pexpect.spawn) -> None:
    choose(child, "Can you replicate the error?", 2)  # intermittent
    answer(child, "How did you try?", "signed in on a test PC")
    choose(child, "Operating system", 2)  # macOS
    answer(child, "OS version", "14.5")
    choose(child, "Mail client", 1)  # Outlook for Mac
    answer(child, "Mail client version", "16.86")
    tick(child, "Services confirmed as enabled", [0, 1])
    answer(child, "Other services", "")
    answer(child, "Note (optional)", "")
    # review.dns: threer runs the checks against the loopback server and shows the table
    child.expect_exact("DNS checks for contoso.example")
    answer(child, "Your note on the DNS results", "no DMARC record; told the customer's DNS admin")
    choose(child, "Can the user log in to Outlook Web Access?", 0)
    choose(child, "Can they send from OWA?", 0)
    choose(child, "Can they receive in OWA?", 1)  # no
    answer(child, "Note (optional)", "")
    answer(child, "Server-side rules in the Control Panel", "no server-side rules")
    answer(child, "Rules in the mail client", "one rule moving mail to Archive")
    child.expect_exact("Searching past cases and the knowledge base")
    # the sample KB may or may not match this text: tick the first match if a list is offered
    if child.expect([r"\?(?:\x1b\[[0-9;]*m)*\s*Which of these did you try",
                     r"\?(?:\x1b\[[0-9;]*m)*\s*What matched"]) == 0:
        child.send(" \r")
        wait_prompt(child, "Did one of them fix it?")
        child.send("\r")  # none of them fixed it
        wait_prompt(child, "What matched")
    child.send("recreated the Outlook profile, no change\r")
    type_articles(child, "kb-0014")
    answer(child, "Outcome", "did not help")
    answer(child, "Search queries used", "outlook mac password loop")
    answer(child, "Links consulted", "")
    answer(child, "Outcome", "nothing new")
    choose(child, "Resolved here, or escalate", 1)  # escalate
    wait_prompt(child, "Does it need the provider's engineering team")
    child.send("n")
    answer(child, "One-line summary", "Outlook for Mac keeps asking for the password")


def type_articles(child: pexpect.spawn, text: str) -> None:
    """research.kb: the articles research.prior found come first when there were any (none ticked, none
    fixed it here), then the text field for the articles typed."""
    if child.expect([prompt_pattern("Which of these articles did you read or try?"),
                     prompt_pattern("Articles consulted")]) == 0:
        child.send("\r")
        wait_prompt(child, "Did one of them fix it?")
        child.send("\r")
        wait_prompt(child, "Other articles consulted")
    child.send(text + "\r")


def test_pause_with_ctrl_c_resume_finish_and_export(tmp_path: Path, nameserver: str) -> None:
    env = pty_env(tmp_path)
    log = tmp_path / "terminal.log"  # what the terminal showed, kept for a failing run

    # first use: partner details, then the first three steps typed, then Ctrl-C
    child = spawn_threer(triage_args(nameserver), env, log=log)
    type_partner_details(child)
    child.expect(STARTED)
    session_id = child.match.group(1)
    type_intake(child)
    wait_prompt(child, "Can you replicate the error?")
    child.send(CTRL_C)
    child.expect(RESUME_LINE)
    assert child.match.group(1) == session_id
    assert wait_exit(child) == 130

    config = (tmp_path / "config" / "config.toml").read_text(encoding="utf-8")
    assert 'domain = "partner.example"' in config and "escalations@provider.example" in config
    saved = session_json(session_id, env)
    assert saved["recorded"] == 3 and saved["missing"][0] == "replicate.reproduced"
    assert saved["steps"]["intake.customer"]["answer"]["domain"] == "contoso.example"
    assert saved["steps"]["intake.issue"]["answer"]["started"] == "Monday 9am"
    assert saved["steps"]["intake.errors"]["answer"]["messages"] == ERROR_TEXT

    # resume: what is recorded is shown, then the next step; no partner questions this time
    child = spawn_threer(triage_args(nameserver, "--resume", session_id), env, log=log)
    child.expect_exact("Resuming")
    shown = screen_text(child.before)
    assert "First, your partner details" not in shown
    assert "Contoso Ltd" in shown and "Outlook keeps asking for a password" in shown
    assert re.search(r"replicate\.reproduced\s+— not recorded", shown)
    child.expect_exact("step 4 of 14")
    type_replicate_to_outcome(child)
    child.expect_exact("Ticket draft written to")
    child.expect_exact(session_id)
    assert wait_exit(child) == 0
    terminal = screen_text(log.read_text(encoding="utf-8"))
    assert "dmarc" in terminal.lower()  # the DNS table named the missing DMARC record
    assert (tmp_path / "home" / "tickets" / f"{session_id}.txt").exists()

    done = session_json(session_id, env)
    assert done["status"] == "escalated" and done["recorded"] == 14 and done["missing"] == []

    ticket = run_threer(["ticket", session_id, "--format", "text"], env)
    assert ticket.returncode == 0, ticket.stderr
    for typed in ["partner.example", "https://cp.partner.example/", "Contoso Ltd", "contoso.example",
                  "Outlook keeps asking for a password", ERROR_TEXT, "signed in on a test PC", "macOS 14.5",
                  "Outlook for Mac 16.86", "no server-side rules", "one rule moving mail to Archive",
                  "kb-0014", "outlook mac password loop", session_id]:
        assert typed in ticket.stdout, typed


def test_error_text_prompt_is_visible_on_an_80_column_terminal(tmp_path: Path, nameserver: str) -> None:
    env = pty_env(tmp_path, COLUMNS="80", LINES="24")
    child = spawn_threer(triage_args(nameserver), env, size=(24, 80))
    type_partner_details(child)
    answer(child, "Customer name", "Contoso Ltd")
    answer(child, "Customer domain", "contoso.example")
    answer(child, "The issue, in your words", "Outlook keeps asking for a password")
    answer(child, "Affected user(s)", "jane")
    answer(child, "When did it start?", "today")
    child.expect_exact(ERRORS_HEADING)
    try:
        child.expect(prompt_pattern("Exact error messages"), timeout=2)
        child.send("0x800CCC0E")
        child.expect_exact("0x800CCC0E", timeout=3)  # what is typed shows on screen
    finally:
        child.send(CTRL_C)
        wait_exit(child)


def test_an_invalid_partner_detail_is_asked_again(tmp_path: Path) -> None:
    env = pty_env(tmp_path)
    child = spawn_threer(["triage", "--dns-only", "--profile", "none"], env)
    answer(child, "Your partner domain", "partner.example")
    answer(child, "Your Control Panel URL", "")
    answer(child, "support address for escalations", "not an address")
    child.expect_exact("is not an e-mail address")
    child.send("\x15escalations@provider.example\r")  # Ctrl-U first, in case the typo is still in the field
    answer(child, "Your name (optional)", "")
    try:
        child.expect(STARTED)
        config = (tmp_path / "config" / "config.toml").read_text(encoding="utf-8")
        assert 'support_address = "escalations@provider.example"' in config
    finally:
        if child.isalive():
            child.send(CTRL_C)
        wait_exit(child)


PASTED_BOUNCE = """\
This is the mail system at host smtp.partner-mail.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

                   The mail system

<orders@tailspin.example>: host mx.tailspin.example[198.51.100.40] said: 550
    5.1.1 <orders@tailspin.example>: Recipient address rejected: User unknown
    (in reply to RCPT TO command)
"""
def words(text: str) -> re.Pattern[str]:
    """`text` on screen however the terminal wrapped and styled it."""
    return re.compile(r"(?:\s|\x1b\[[0-9;]*m)+".join(re.escape(w) for w in text.split()))


PASTE_START, PASTE_END = "\x1b[200~", "\x1b[201~"  # bracketed paste, as a terminal sends a paste


def test_a_pasted_bounce_is_read_and_its_summary_shown_at_80_columns(tmp_path: Path, nameserver: str) -> None:
    env = pty_env(tmp_path, COLUMNS="80", LINES="30")
    child = spawn_threer(triage_args(nameserver), env, size=(30, 80))
    type_partner_details(child)
    child.expect(STARTED)
    session_id = child.match.group(1)
    answer(child, "Customer name", "Contoso Ltd")
    answer(child, "Customer domain", "contoso.example")
    answer(child, "The issue, in your words", "Mail to a supplier bounces")
    answer(child, "Affected user(s)", "orders desk")
    answer(child, "When did it start?", "today")
    child.expect_exact(ERRORS_HEADING)
    # the whole hint to finish the field is on screen, wrapped, not cut
    child.expect(words("To finish: Esc then Enter (or Alt+Enter)."))
    child.expect_exact("\x1b[?2004h")
    child.send(PASTE_START + PASTED_BOUNCE.replace("\n", "\r") + PASTE_END)
    child.send("\x1b\r")
    child.expect_exact("Saved Error messages (3/14 recorded)")
    child.expect_exact("threer read a bounce in it:")
    child.expect_exact("A bounce from Postfix: permanent.")
    child.expect(words("Status 5.1.1: a permanent failure"))
    child.expect(words("Failed recipient: orders@tailspin.example."))
    child.expect(words("the research step searches with 550 5.1.1, 5.1.1"))
    wait_prompt(child, "Can you replicate the error?")
    child.send(CTRL_C)
    assert wait_exit(child) == 130
    errors = session_json(session_id, env)["steps"]["intake.errors"]["answer"]
    assert errors["messages"] == PASTED_BOUNCE.strip()
    assert errors["analysis"]["status"] == "5.1.1"


def test_an_outcome_decided_before_a_later_change_is_confirmed_and_a_stale_draft_removed(tmp_path: Path,
                                                                                        nameserver: str) -> None:
    import json

    from support_prompter import COMPLETE_ANSWERS, PARTNER

    env = pty_env(tmp_path)
    answers = {"partner": PARTNER, **COMPLETE_ANSWERS, "intake.customer": {"name": "Contoso", "domain": "contoso.example"}}
    (tmp_path / "a.json").write_text(json.dumps(answers), encoding="utf-8")
    first = run_threer([*triage_args(nameserver), "--no-input", "--answers", str(tmp_path / "a.json")], env)
    assert first.returncode == 0, first.stderr
    session_id = first.stdout.strip().splitlines()[-1]
    tickets = tmp_path / "home" / "tickets"
    assert sorted(p.name for p in tickets.iterdir()) == [f"{session_id}.eml", f"{session_id}.txt"]

    # later the KB article turns out to fix it: the KB answer is changed, and the escalation is not kept
    child = spawn_threer([*triage_args(nameserver), "--resume", session_id, "--change", "research.kb"], env)
    type_articles(child, "\x15kb-0001")
    answer(child, "Outcome", "\x15recreating the profile fixed it")
    child.expect_exact("The outcome was recorded before some answers were changed:")
    wait_prompt(child, "Keep this outcome?")
    child.send("n")
    wait_prompt(child, "Resolved here, or escalate")
    child.send("\x1b[A\r")  # the recorded "escalate" is the default: one up is "resolved"
    child.expect(words("To finish: Esc then Enter"))
    child.expect_exact("\x1b[?2004h")
    child.send("recreated the Outlook profile (kb-0001)\x1b\r")
    answer(child, "One-line summary", "")
    child.expect_exact("Resolved.")
    child.expect_exact("ticket draft written when it was to be escalated is removed")
    assert wait_exit(child) == 0
    assert list(tickets.iterdir()) == []
    assert session_json(session_id, env)["status"] == "resolved"


def test_an_article_found_is_read_in_full_and_marked_solved_at_research_kb(tmp_path: Path, nameserver: str) -> None:
    """research.kb offers the KB articles research.prior found: open one (paged; PAGER=cat here), tick it,
    mark it as the one that solved it."""
    import json

    from support_prompter import COMPLETE_ANSWERS, PARTNER

    env = pty_env(tmp_path, PAGER="cat")
    answers = {"partner": PARTNER, **{k: v for k, v in COMPLETE_ANSWERS.items()
                                      if k not in ("research.kb", "research.web", "outcome")},
               "intake.customer": {"name": "Contoso", "domain": "contoso.example"}}
    (tmp_path / "a.json").write_text(json.dumps(answers), encoding="utf-8")
    log = tmp_path / "terminal.log"
    child = spawn_threer([*triage_args(nameserver), "--answers", str(tmp_path / "a.json")], env, log=log)
    child.expect(STARTED)
    session_id = child.match.group(1)
    wait_prompt(child, "Which of these articles did you read or try?")
    child.send("\r")  # nothing ticked yet
    wait_prompt(child, "Did one of them fix it?")
    child.send("\x1b[A\r")  # up from the first choice wraps to the last: "Read one of these in full first…"
    wait_prompt(child, "Which one? (q leaves the page)")
    child.send("\r")  # the first article
    wait_prompt(child, "Which of these articles did you read or try?")  # back at the list after the page
    child.send(" \r")  # tick the first
    wait_prompt(child, "Did one of them fix it?")
    child.send("\x1b[B\r")  # ✓ solved: the first
    answer(child, "Other articles consulted", "")
    answer(child, "Outcome", "clearing the saved password fixed it")
    wait_prompt(child, "Search queries used")
    child.send(CTRL_C)
    assert wait_exit(child) == 130

    saved = session_json(session_id, env)
    first = [m for m in saved["steps"]["research.prior"]["answer"]["matches"] if m["source"] == "kb"][0]
    kb = saved["steps"]["research.kb"]["answer"]
    assert kb["articles"] == [first["id"]] and kb["worked"] == [first["id"]]
    terminal = screen_text(log.read_text(encoding="utf-8"))
    assert f"{first['id']} · article" in terminal  # the article was shown in full, inside the triage
