"""Ticket drafts on disk: the text and .eml files an escalation at the end of a triage leaves behind."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from threer.config import Config
from threer.errors import ExitStatus, ThreerError
from threer.ticket.build import build_ticket
from threer.ticket.formats.eml import render_eml
from threer.ticket.formats.text import render_text
from threer.triage.session import TriageSession

if TYPE_CHECKING:
    from threer.env import Environment

def write_ticket_draft(session: TriageSession, config: Config, env: Environment, now: datetime, *,
                       redact: bool = False, counted_from: datetime | None = None) -> Path:
    """Write the text and .eml drafts under THREER_HOME/tickets/; return the text one's path
    (`counted_from`: see build_ticket)."""
    ticket = build_ticket(session, config, now=now, redact_secrets=redact, counted_from=counted_from)
    folder = env.home / "tickets"
    text_path = folder / f"{ticket.triage_id}.txt"
    try:
        from threer.files import make_private_folder

        make_private_folder(folder)
        write_private(text_path, render_text(ticket).encode("utf-8"))
        write_private(folder / f"{ticket.triage_id}.eml", render_eml(ticket))
    except OSError as exc:
        raise ThreerError(
            f"Cannot write the ticket draft in {folder} ({exc.strerror or exc}). "
            f"Write it elsewhere with `threer ticket {ticket.triage_id} --output FILE`.",
            ExitStatus.INCOMPLETE,
        ) from None
    return text_path


def remove_ticket_drafts(triage_id: str, env: Environment) -> list[Path]:
    """Remove the drafts of a session that is no longer escalated (resolved after all); return what went."""
    removed = []
    for suffix in (".txt", ".eml"):
        path = env.home / "tickets" / f"{triage_id}{suffix}"
        try:
            path.unlink()
            removed.append(path)
        except FileNotFoundError:
            continue
        except OSError:
            continue  # left for the technician; the session itself says it is resolved
    return removed


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only (0600, even over an older file; tickets carry customer details)."""
    from threer.files import write_private_file

    write_private_file(path, data)
