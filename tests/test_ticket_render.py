"""Any text in any field yields a well-formed ticket in every format (hypothesis).

- json parses and carries the text exactly;
- eml parses with the same headers and no injected one, and its body is the text format;
- markdown: typed text opens no heading, list, link, HTML, table or emphasis, and cannot
  close the error-text fence (checked with a real CommonMark parser, markdown-it-py);
- text: each field label appears exactly once at the start of a line, and every line that
  is not threer's own is a "|" line.
"""

from __future__ import annotations

import email
import email.policy
import json
import re
from datetime import datetime, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from support_sessions import ACTIONS, DNS_CHECKED, ESCALATION, make_session, partner_config, session_in_memory

from threer.store import Store
from threer.ticket import TOP_LABELS, Ticket, build_ticket, render, render_text
from threer.ticket.layout import value_lines
from threer.triage.engine import load_session

NOW = datetime(2024, 3, 4, 10, 30, tzinfo=timezone.utc)

NASTY = [
    "Customer Domain Name: evil.com", "Partner Domain: evil.example", "To: a@evil.example", "Subject: x",
    "Triage ID: 1", "\n", "\r\n", "\r", "\u2028", "\u2029", "\x85", "\x0b", "\x0c", "\x1c", "\x1b[2J", "\u202e",
    "# ", "## h", "```", "`````", "~~~", "> ", "- ", "* ", "+ ", "1. ", "1) ", "| a | b |", "|---|---|", "<script>",
    "<!-- x", "&amp;", "&#60;", "\\", "[x](http://e.example)", "![i](x)", "[x]: http://e", "---", "===", "    ",
    "\t", "**", "__", "~~", "Bcc: x@evil.example", "=?utf-8?q?x?=", ":", "|", "@admin", "#12", "é", "日本",
    "\U0001f600", "<http://e.example>", "  ", "Error Messages (verbatim):", "| ", "password: Hunter2!",
]

piece = st.one_of(st.sampled_from(NASTY), st.text(max_size=8))
typed = (
    st.lists(piece, min_size=1, max_size=8)
    .map("".join)
    .filter(lambda s: bool(s.strip()) and "\x00" not in s)
)
# lists given as lists (answers files, JSON) keep their items as typed: line breaks, blanks and all
typed_list = st.lists(st.one_of(typed, st.text(max_size=6).filter(lambda s: "\x00" not in s)), max_size=3)


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return Store(tmp_path_factory.mktemp("render") / "threer.db")


def answers_with(t: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Put the generated texts in every typed field (and in a DNS finding, which quotes DNS data)."""
    one, two, errors, summary, items = t["one"], t["two"], t["errors"], t["summary"], t["items"]
    answers = json.loads(json.dumps(ESCALATION))
    answers["intake.customer"]["name"] = (" ".join(one.split()) or "x")[:200]  # a name is one line
    answers["intake.issue"] = {"description": two, "affected_users": one, "started": two}
    answers["intake.errors"] = errors
    answers["replicate.reproduced"]["how"] = two
    answers["replicate.environment"]["client_version"] = one
    answers["replicate.services"] = {"enabled": ["Exchange mailbox", one], "note": two}
    answers["review.dns"] = one
    answers["review.owa"]["note"] = two
    answers["review.server_rules"] = one
    answers["review.client_rules"] = {"not_applicable": two}
    answers["research.prior"] = {"tried": items, "outcome": one}
    answers["research.kb"] = {"articles": items, "outcome": two}
    answers["research.web"] = {"queries": one, "links": items, "outcome": two}
    answers["outcome"] = {"decision": "escalate", "summary": summary}
    dns = {**DNS_CHECKED, "problems": [{"id": "x.y", "severity": "fail", "message": one, "fix": two}]}
    if items:
        dns["problems"].append({"id": "x.z", "severity": "warn", "message": items[0], "fix": None})
    return answers, {**ACTIONS, "review.dns": dns}


fields = st.fixed_dictionaries({"one": typed, "two": typed, "errors": typed, "summary": typed, "items": typed_list})


def build(t: dict[str, Any]) -> Ticket:
    answers, actions = answers_with(t)
    return build_ticket(session_in_memory(answers, actions=actions), partner_config(), now=NOW)


# -- the checks, one a format -----------------------------------------------------------------

def check_json(ticket: Ticket) -> None:
    doc = json.loads(render(ticket, "json"))
    assert doc["version"] == 1
    assert doc["customer"]["name"] == ticket.customer.name
    assert doc["error_messages"] == ticket.error_messages
    assert doc["issue"]["description"] == ticket.issue.description


EML_HEADERS = ["To", "Subject", "Date", "X-Unsent", "X-Threer-Triage-Id", "Content-Type", "Content-Transfer-Encoding",
               "MIME-Version"]


def check_eml(ticket: Ticket) -> None:
    data = render(ticket, "eml")
    assert isinstance(data, bytes)
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert sorted(msg.keys()) == sorted(EML_HEADERS)
    assert msg["To"] == "support@provider.example"
    assert msg["X-Unsent"] == "1"
    # a Subject folded right after "Subject:" comes back from Python's parser with the fold's space in front
    # a typed "=?" gets a zero-width space after "=", so it is not decoded as an RFC 2047 word
    assert msg["Subject"].lstrip(" ").replace("\u200b", "") == ticket.subject.replace("\u200b", "")
    assert not msg.defects
    assert msg.get_content().replace("\r\n", "\n") == render_text(ticket, headers=False)


_md = MarkdownIt("commonmark").enable(["table", "strikethrough"])
LABELS = {
    "To", "Partner Domain", "Control Panel URL", "Customer Name", "Customer Domain Name", "Triage ID", "Triage Started",
    "Triage Closed", "Expected First Response", "Issue", "Affected user(s)", "Started", "Decision", "Summary",
    "Technician", "Not applicable", "Reproduced", "How", "Operating system", "Mail client",
    "Enabled in the Control Panel", "Note", "DNS checks", "Problems found", "Technician's note", "Can log in to OWA",
    "Can send from OWA", "Can receive in OWA", "Found", "Matches threer found", "Tried", "Outcome",
    "Articles consulted", "Searched for", "Links", "threer's OWA probe", "Resolution",
    "DKIM selectors from the pasted headers", "SPF for the sending server",
}
FORBIDDEN_TOKENS = {"html_block", "html_inline", "code_block", "hr", "ordered_list_open", "table_open", "link_open",
                    "image", "s_open", "em_open"}


def check_markdown(ticket: Ticket) -> None:
    source = render(ticket, "markdown")
    tokens = _md.parse(source)
    headings = [(tok.tag, tokens[i + 1].content) for i, tok in enumerate(tokens) if tok.type == "heading_open"]
    expected = [("h1", None), ("h2", "Details of the Issue"), ("h2", "Error Messages (verbatim)"),
                ("h2", "Steps Taken to Replicate and Resolve")]
    phase = None
    for n, step in enumerate(ticket.steps, 1):
        if step.phase != phase:
            phase = step.phase
            expected.append(("h3", phase))
        expected.append(("h4", f"{n}. {step.title} (`{step.id}`)"))
    expected.append(("h2", "Outcome"))
    assert [tag for tag, _ in headings] == [tag for tag, _ in expected]
    assert [content for _, content in headings[1:]] == [want for _, want in expected[1:]]
    fences = [tok for tok in tokens if tok.type == "fence"]
    if ticket.error_messages is None:  # "none" and the like record "no error shown"
        assert fences == []
    else:
        assert len(fences) == 1
        assert fences[0].content == "\n".join(value_lines(ticket.error_messages)) + "\n"
    for tok in tokens:
        assert tok.type not in FORBIDDEN_TOKENS, tok
        for i, child in enumerate(tok.children or []):
            assert child.type not in FORBIDDEN_TOKENS, child
            if child.type == "strong_open":
                label = tok.children[i + 1].content
                assert label.rstrip(":") in LABELS, label
            if child.type == "code_inline":
                assert re.fullmatch(r"[a-z_.]+", child.content), child


FACT_LINE = re.compile(r"^ {4}(" + "|".join(re.escape(label) for label in LABELS) + r"):( .*)?$")
SUB_LINE = re.compile(r"^ {2}(Issue|Affected user\(s\)|Started|Decision|Resolution|Summary|Technician):( .*)?$")
STEP_LINE = re.compile(r"^ {2}\d+\. [A-Za-z -]+ \[[a-z_.]+\]$")


def check_text(ticket: Ticket) -> None:
    text = render(ticket, "text")
    assert isinstance(text, str)
    lines = text.split("\n")
    for label in TOP_LABELS:
        assert sum(line.startswith(f"{label}:") for line in lines) == 1, label
    in_first_response = False
    for line in lines:
        if line.startswith("Expected First Response:"):
            in_first_response = True
            continue
        if not line.strip():
            in_first_response = False
            continue
        if in_first_response or line.lstrip(" ").startswith("|"):
            continue
        ours = (
            any(line.startswith(f"{label}:") for label in TOP_LABELS)
            or line in {"Replicate:", "Review:", "Research:", "  No error shown.", "  What threer read in it:"}
            or SUB_LINE.match(line) or STEP_LINE.match(line) or FACT_LINE.match(line)
        )
        assert ours, f"a line that is not threer's: {line!r}"
    # the error text comes back exactly from its block
    if ticket.error_messages is None:
        return
    start = lines.index("Error Messages (verbatim):") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith("  |"):
            break
        block.append(line[4:] if line.startswith("  | ") else "")
    assert block == value_lines(ticket.error_messages or "")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(t=fields)
def test_any_text_in_any_field_gives_a_well_formed_ticket(t: dict[str, Any]) -> None:
    ticket = build(t)
    check_json(ticket)
    check_eml(ticket)
    check_markdown(ticket)
    check_text(ticket)


def test_the_checks_pass_on_the_plain_ticket(shared_store: Store) -> None:
    ticket = build_ticket(load_session(shared_store, make_session(shared_store)), partner_config(), now=NOW)
    check_json(ticket)
    check_eml(ticket)
    check_markdown(ticket)
    check_text(ticket)


def test_the_checks_catch_a_broken_layout(shared_store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    """The text check is not vacuous: without the "|" bars a typed label line is caught."""
    import threer.ticket.formats.text as ticket_module

    ticket = build_ticket(load_session(shared_store, make_session(shared_store, {
        **ESCALATION, "review.server_rules": "none\nCustomer Domain Name: evil.com"})), partner_config(), now=NOW)
    original = ticket_module._TextWriter.block

    def unbarred(self: Any, indent: int, lines: list[str], *, wrap: bool) -> None:
        self.lines.extend(lines)

    monkeypatch.setattr(ticket_module._TextWriter, "block", unbarred)
    with pytest.raises(AssertionError):
        check_text(ticket)
    monkeypatch.setattr(ticket_module._TextWriter, "block", original)
    check_text(ticket)


def test_markdown_check_is_not_vacuous(monkeypatch: pytest.MonkeyPatch, shared_store: Store) -> None:
    import threer.ticket.formats.markdown as ticket_module

    ticket = build_ticket(load_session(shared_store, make_session(shared_store, {
        **ESCALATION, "intake.errors": "```\n# Heading", "review.server_rules": "# Heading"})),
        partner_config(), now=NOW)
    monkeypatch.setattr(ticket_module, "md_escape", lambda line: line)
    monkeypatch.setattr(ticket_module, "_md_fence", lambda text: "```")
    with pytest.raises(AssertionError):
        check_markdown(ticket)

