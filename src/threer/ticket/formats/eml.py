"""The `eml` format: an unsent RFC 5322 draft that a mail client opens for editing.

Headers are built by the stdlib `email` package from single-line values; line breaks in typed text are
folded to spaces in the Subject, so no header can be injected.
"""

from __future__ import annotations

import email.policy
from email.header import Header
from email.message import EmailMessage
from email.utils import format_datetime

from threer.ticket.formats import TicketFormat
from threer.ticket.formats.text import render_text
from threer.ticket.layout import visible
from threer.ticket.model import TEXT_WIDTH, Ticket

def render_eml(ticket: Ticket, *, width: int = TEXT_WIDTH) -> bytes:
    """An unsent RFC 5322 draft a mail client opens for editing (X-Unsent: 1), text/plain UTF-8."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["To"] = ticket.recipient
    set_subject(msg, header_safe(ticket.subject))
    msg["Date"] = format_datetime(ticket.generated_at)
    msg["X-Unsent"] = "1"
    msg["X-Threer-Triage-Id"] = header_safe(ticket.triage_id)
    msg.set_content(render_text(ticket, width=width, headers=False), charset="utf-8")
    return msg.as_bytes()


def set_subject(msg: EmailMessage, subject: str) -> None:
    """Fold (and, when not ASCII, RFC 2047-encode) the Subject here: the email package's own folding
    can double a space next to an encoded word."""
    charset = "us-ascii" if subject.isascii() else "utf-8"
    folded = Header(subject, charset=charset, maxlinelen=76, header_name="Subject").encode(linesep="\n")
    msg.set_raw("Subject", folded)


def header_safe(value: str) -> str:
    """A header value on one line whatever it holds (the email package would refuse CR/LF anyway).

    Typed "=?" gets an invisible zero-width space after "=", so that a mail client shows the
    typed text instead of decoding it as an RFC 2047 encoded word.
    """
    return " ".join(visible(" ".join(value.split())).split()).replace("=?", "=\u200b?")


FORMAT = TicketFormat(name="eml", suffix=".eml", summary="an e-mail draft a mail client opens",
                      render=lambda ticket, width: render_eml(ticket, width=width))
