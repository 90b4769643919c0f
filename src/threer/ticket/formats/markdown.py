"""The `markdown` format, for ticket systems that render CommonMark/GFM.

Typed text is escaped (no heading, list, link, HTML, table or emphasis can come from it); multi-line
text is a block quote; error text is a fenced code block whose fence is longer than any run of
backticks inside it.
"""

from __future__ import annotations

import re

from threer.ticket.formats import TicketFormat
from threer.ticket.layout import format_due, format_when, team_words, value_lines, visible
from threer.ticket.model import Fact, Ticket

_MD_ALWAYS = set("\\`*_[]<>&~|{}$^")
_MD_WORD_START = set("@#!")  # mentions, issue references, GitLab merge requests: only where a word starts
_MD_LINE_START = re.compile(r"^(\d+)([.)])")


def md_escape(line: str) -> str:
    """One line of typed text made literal in CommonMark/GFM: nothing in it can format, link or start a block."""
    line = visible(line)
    out = ["\\" + ch if ch in _MD_ALWAYS or (ch in _MD_WORD_START and (i == 0 or not line[i - 1].isalnum())) else ch
           for i, ch in enumerate(line)]
    text = "".join(out)
    stripped = text.lstrip(" \t")
    lead = text[: len(text) - len(stripped)]
    if stripped and stripped[0] in "-+=:":
        stripped = "\\" + stripped  # a list marker, setext underline or quote at the start of a line
    stripped = _MD_LINE_START.sub(r"\1\\\2", stripped)  # "1." or "1)" would start an ordered list
    # leading spaces would make an indented code block: keep the indentation as no-break spaces
    lead = lead.replace("\t", "    ").replace(" ", "&#160;")
    return lead + stripped


def _md_fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _md_fact(fact: Fact) -> list[str]:
    if not fact.items:
        return _md_value(fact.label, fact.value)
    out = [f"- **{fact.label}:**", ""]
    for item in fact.items:
        lines = [md_escape(line) for line in value_lines(item)]
        out.append(f"  - {lines[0]}".rstrip())
        out.extend(f"    {line}".rstrip() if line else "    &#160;" for line in lines[1:])
    out.append("")
    return out


def _md_value(label: str, value: str, *, indent: str = "") -> list[str]:
    lines = value_lines(value)
    if len(lines) == 1:
        return [f"{indent}- **{label}:** {md_escape(lines[0])}"]
    out = [f"{indent}- **{label}:**", ""]
    quoted = [md_escape(line) for line in lines]
    for i, line in enumerate(quoted):
        nxt = quoted[i + 1] if i + 1 < len(quoted) else ""
        hard_break = "\\" if line and nxt else ""  # keep the line breaks of the typed text
        out.append(f"{indent}  > {line}{hard_break}".rstrip() if line else f"{indent}  >")
    out.append("")
    return out


def render_markdown(ticket: Ticket) -> str:
    md: list[str] = [f"# {md_escape(ticket.subject)}", ""]
    zone = ticket.timezone
    md += _md_value("To", ticket.recipient)
    md += _md_value("Partner Domain", ticket.partner.domain)
    md += _md_value("Control Panel URL", ticket.partner.control_panel_url or "not applicable")
    md += _md_value("Customer Name", ticket.customer.name)
    md += _md_value("Customer Domain Name", ticket.customer.domain)
    md += _md_value("Triage ID", ticket.triage_id)
    md += _md_value("Triage Started", format_when(ticket.created_at, zone))
    md += _md_value("Triage Closed", format_when(ticket.closed_at, zone) if ticket.closed_at else "not closed")
    if ticket.first_response:
        first = ticket.first_response
        md += _md_value("Expected First Response",
                        f"{format_due(first)} ({first.business_hours} business hours for {team_words(ticket)}, "
                        f"counted from {format_when(first.counted_from, first.timezone)})")
    else:
        md += _md_value("Expected First Response", "none (resolved at the partner level)")
    md += ["", "## Details of the Issue", ""]
    md += _md_value("Issue", ticket.issue.description)
    md += _md_value("Affected user(s)", ticket.issue.affected_users)
    md += _md_value("Started", ticket.issue.started)
    md += ["", "## Error Messages (verbatim)", ""]
    if ticket.error_messages is None:
        md += ["No error shown."]
    else:
        body = "\n".join(value_lines(ticket.error_messages))
        fence = _md_fence(body)
        md += [f"{fence}text", body, fence]
        if ticket.error_analysis:
            md += ["", "What threer read in it:", ""]
            md += [f"- {md_escape(line)}" for line in ticket.error_analysis]
    md += ["", "## Steps Taken to Replicate and Resolve"]
    phase = None
    for number, step in enumerate(ticket.steps, 1):
        if step.phase != phase:
            phase = step.phase
            md += ["", f"### {phase}"]
        md += ["", f"#### {number}. {step.title} (`{step.id}`)", ""]
        if step.status == "not_applicable":
            md += _md_value("Not applicable", step.reason or "")
        for fact in step.facts:
            md += _md_fact(fact)
    md += ["", "## Outcome", ""]
    if ticket.outcome.decision == "escalate":
        md += _md_value("Decision", f"escalate to {team_words(ticket)}")
    else:
        md += _md_value("Decision", "resolved at the partner level")
        md += _md_value("Resolution", ticket.outcome.resolution)
    if ticket.outcome.summary:
        md += _md_value("Summary", ticket.outcome.summary)
    if ticket.partner.technician:
        md += _md_value("Technician", ticket.partner.technician)
    if ticket.redacted:
        md += ["", "Text that looked like a password or secret was replaced by \\[REDACTED\\]."]
    # one blank line between blocks; the fenced error text is one entry, so its own blank lines stay
    blocks = [line for i, line in enumerate(md) if line or (i > 0 and md[i - 1])]
    return "\n".join(blocks).strip("\n") + "\n"


FORMAT = TicketFormat(name="markdown", suffix=".md", summary="Markdown for ticket systems that render it",
                      render=lambda ticket, width: render_markdown(ticket))
