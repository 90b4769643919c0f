"""The escalation ticket: built from a complete triage session, rendered for e-mail, ticket systems,
machines, or as an e-mail draft (SPEC §3).

One module a concern:
- `model`: the Ticket and its parts, `TicketIncomplete`;
- `build`: `build_ticket` from a session and the config (refuses an incomplete one, exit 1);
- `scan`: which answer fields were typed, flagged or masked as secrets;
- `layout`: what the human-readable formats share (control characters made visible, times, dates);
- `formats/`: one module per format (`text`, `markdown`, `json`, `eml`), found by `formats.names()`;
- `drafts`: the text and .eml drafts written at the end of a triage.

Text people typed (and text from DNS answers) is carried verbatim but can never pass for the
ticket's own layout; each format module says how. Everywhere but json, control characters (escape
sequences, bidi overrides) are shown as `\\x1b`-style escapes instead of being sent to a terminal or
mail client.
"""

from __future__ import annotations

from threer.ticket import formats
from threer.ticket.build import SUBJECT_SUMMARY_MAX, build_ticket, make_subject
from threer.ticket.drafts import write_private, write_ticket_draft
from threer.ticket.formats.eml import render_eml
from threer.ticket.formats.json import render_json, ticket_document
from threer.ticket.formats.markdown import md_escape, render_markdown
from threer.ticket.formats.text import TOP_LABELS, render_text
from threer.ticket.model import (
    RESPONSE_HOURS,
    TEXT_WIDTH,
    TICKET_VERSION,
    CustomerDetails,
    Fact,
    FirstResponse,
    IssueDetails,
    OutcomeDetails,
    PartnerDetails,
    SecretWarning,
    Ticket,
    TicketIncomplete,
    TicketStep,
)
from threer.ticket.scan import scan_session

__all__ = [
    "FORMATS", "RESPONSE_HOURS", "SUBJECT_SUMMARY_MAX", "TEXT_WIDTH", "TICKET_VERSION", "TOP_LABELS",
    "CustomerDetails", "Fact", "FirstResponse", "IssueDetails", "OutcomeDetails", "PartnerDetails",
    "SecretWarning", "Ticket", "TicketIncomplete", "TicketStep",
    "build_ticket", "make_subject", "md_escape", "render", "render_eml", "render_json", "render_markdown",
    "render_text", "scan_session", "ticket_document", "write_private", "write_ticket_draft",
]

FORMATS = formats.names()


def render(ticket: Ticket, fmt: str = "text", *, width: int = TEXT_WIDTH) -> str | bytes:
    """The ticket in format `fmt` (str for text formats, bytes for eml). ValueError for an unknown one."""
    return formats.get(fmt).render(ticket, width)
