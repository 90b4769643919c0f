"""The `text` format: plain text ready to paste into an e-mail.

Every label is threer's; a typed value sits after its label on the same line when it is one short
line, otherwise every line of it is indented under the label behind a "| " bar. A line of a note that
reads "Customer Domain Name: evil.com" becomes "    | Customer Domain Name: evil.com", never a field
of its own.
"""

from __future__ import annotations

import re
import textwrap

from threer.ticket.formats import TicketFormat
from threer.ticket.layout import format_due, format_when, team_words, value_lines
from threer.ticket.model import TEXT_WIDTH, Fact, Ticket

TOP_LABELS = (
    "To", "Subject", "Partner Domain", "Control Panel URL", "Customer Name", "Customer Domain Name", "Triage ID",
    "Triage Started", "Triage Closed", "Expected First Response", "Details of the Issue",
    "Error Messages (verbatim)", "Steps Taken to Replicate and Resolve", "Outcome",
)


# A DNS record in zone-file form as a fix gives it ("name. TTL IN TYPE value"): kept whole on a line when
# text is wrapped, so it can be copied from the mail in one piece
_RECORD = re.compile(
    r'\S+\. \d+ IN (?:TXT "(?:[^"\\]|\\.)*"(?: "(?:[^"\\]|\\.)*")*|MX \d+ \S+|CNAME \S+|SRV \d+ \d+ \d+ \S+'
    r'|TLSA \d+ \d+ \d+ \S+|AAAA \S+|A \S+)'
)
_KEEP = "\ue000"  # stands for a space inside a record while the text is wrapped (a private-use character)


def _wrap(text: str, width: int) -> list[str]:
    """Wrapped between words; a record is one piece, on a line of its own when it does not fit."""
    glued = _RECORD.sub(lambda m: m.group(0).replace(" ", _KEEP), text)
    pieces = textwrap.wrap(glued, width, break_long_words=False, break_on_hyphens=False, expand_tabs=False,
                           replace_whitespace=False)
    return [piece.replace(_KEEP, " ") for piece in pieces]


class _TextWriter:
    def __init__(self, width: int) -> None:
        self.width = max(width, 40)
        self.lines: list[str] = []

    def blank(self) -> None:
        if self.lines and self.lines[-1] != "":
            self.lines.append("")

    def plain(self, indent: int, text: str) -> None:
        """threer's own words, wrapped."""
        self.lines.extend(textwrap.wrap(text, self.width, initial_indent=" " * indent,
                                        subsequent_indent=" " * (indent + 2), break_long_words=False,
                                        break_on_hyphens=False) or [" " * indent])

    def field(self, indent: int, label: str, value: str) -> None:
        """`Label: value` on one line when the value is one short line, else a barred block under the label."""
        lines = value_lines(value)
        head = f"{' ' * indent}{label}:"
        if len(lines) == 1 and len(head) + 1 + len(lines[0]) <= self.width:
            self.lines.append(f"{head} {lines[0]}".rstrip())
            return
        self.lines.append(head)
        self.block(indent + 2, lines, wrap=True)

    def items(self, indent: int, label: str, items: list[str]) -> None:
        """A list under its label, one "| - item" a line (wrapped items continue under their text)."""
        self.lines.append(f"{' ' * indent}{label}:")
        bar = " " * (indent + 2) + "| "
        for item in items:
            for n, line in enumerate(value_lines(item)):
                pieces = _wrap(line, max(self.width - len(bar) - 2, 20)) or [line]
                for i, piece in enumerate(pieces):
                    self.lines.append(f"{bar}{'- ' if n == 0 and i == 0 else '  '}{piece}".rstrip())

    def fact(self, indent: int, fact: Fact) -> None:
        if fact.items:
            self.items(indent, fact.label, fact.items)
        else:
            self.field(indent, fact.label, fact.value)

    def block(self, indent: int, lines: list[str], *, wrap: bool) -> None:
        bar = " " * indent + "| "
        for line in lines:
            if not line or (wrap and not line.strip()):  # verbatim text keeps even a line of spaces
                self.lines.append(bar.rstrip())
                continue
            pieces = [line]
            if wrap and len(bar) + len(line) > self.width:
                pieces = _wrap(line, self.width - len(bar)) or [line]
            self.lines.extend(bar + piece for piece in pieces)

    def text(self) -> str:
        while self.lines and self.lines[-1] == "":
            self.lines.pop()
        return "\n".join(self.lines) + "\n"


def render_text(ticket: Ticket, *, width: int = TEXT_WIDTH, headers: bool = True) -> str:
    """Plain text for pasting into an e-mail. `headers=False` leaves out the To and Subject lines."""
    w = _TextWriter(width)
    if headers:
        w.lines.append(f"To: {ticket.recipient}")
        w.lines.append(f"Subject: {ticket.subject}")
        w.blank()
    zone = ticket.timezone
    w.field(0, "Partner Domain", ticket.partner.domain)
    w.field(0, "Control Panel URL", ticket.partner.control_panel_url or "not applicable")
    w.field(0, "Customer Name", ticket.customer.name)
    w.field(0, "Customer Domain Name", ticket.customer.domain)
    w.field(0, "Triage ID", ticket.triage_id)
    w.field(0, "Triage Started", format_when(ticket.created_at, zone))
    w.field(0, "Triage Closed", format_when(ticket.closed_at, zone) if ticket.closed_at else "not closed")
    if ticket.first_response:
        first = ticket.first_response
        w.lines.append(f"Expected First Response: {format_due(first)}")
        w.plain(2, f"({first.business_hours} business hours for {team_words(ticket)}, counted from "
                   f"{format_when(first.counted_from, first.timezone)} in {first.timezone} working hours)")
    else:
        w.lines.append("Expected First Response: none (resolved at the partner level)")
    w.blank()
    w.lines.append("Details of the Issue:")
    w.field(2, "Issue", ticket.issue.description)
    w.field(2, "Affected user(s)", ticket.issue.affected_users)
    w.field(2, "Started", ticket.issue.started)
    w.blank()
    w.lines.append("Error Messages (verbatim):")
    if ticket.error_messages is None:
        w.lines.append("  No error shown.")
    else:
        w.block(2, value_lines(ticket.error_messages), wrap=False)
        if ticket.error_analysis:
            w.blank()
            w.lines.append("  What threer read in it:")
            w.block(2, ticket.error_analysis, wrap=True)
    w.blank()
    w.lines.append("Steps Taken to Replicate and Resolve:")
    phase = None
    for number, step in enumerate(ticket.steps, 1):
        if step.phase != phase:
            phase = step.phase
            w.blank()
            w.lines.append(f"{phase}:")
        w.lines.append(f"  {number}. {step.title} [{step.id}]")
        if step.status == "not_applicable":
            w.field(4, "Not applicable", step.reason or "")
        for fact in step.facts:
            w.fact(4, fact)
    w.blank()
    w.lines.append("Outcome:")
    if ticket.outcome.decision == "escalate":
        w.field(2, "Decision", f"escalate to {team_words(ticket)}")
    else:
        w.field(2, "Decision", "resolved at the partner level")
        w.field(2, "Resolution", ticket.outcome.resolution)
    if ticket.outcome.summary:
        w.field(2, "Summary", ticket.outcome.summary)
    if ticket.partner.technician:
        w.field(2, "Technician", ticket.partner.technician)
    if ticket.redacted:
        w.blank()
        w.plain(0, "Text that looked like a password or secret was replaced by [REDACTED].")
    return w.text()


FORMAT = TicketFormat(name="text", suffix=".txt", summary="plain text to paste into an e-mail",
                      render=lambda ticket, width: render_text(ticket, width=width))
