"""`threer ticket ID`: the escalation ticket of a complete triage session, to stdout, a file or the clipboard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape

from threer.cli.app import app_context
from threer.cli.output import emit_text, emit_ticket, is_interactive, print_warning, stderr_console, stdout_console
from threer.errors import BadInput, ExitStatus, NotFound, ThreerError

if TYPE_CHECKING:
    from threer.ticket import Ticket

__all__ = ["register", "copy_to_clipboard"]

CLIPBOARD_TIMEOUT = 5.0


def register(app: typer.Typer) -> None:
    app.command("ticket")(ticket_command)


def ticket_command(
    ctx: typer.Context,
    session_id: str = typer.Argument(..., metavar="ID", help="The triage session id, e.g. 20261126-7K3P."),
    fmt: str = typer.Option(
        "text", "--format", "-f", metavar="FORMAT",
        help="text (to paste into an e-mail), markdown (ticket systems), json, or eml (an e-mail draft); "
        "any other format under threer/ticket/formats/ too.",
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write to FILE instead of stdout (- is stdout).",
                                          metavar="FILE"),
    copy: bool = typer.Option(False, "--copy", help="Also copy the ticket to the clipboard."),
    redact: bool = typer.Option(False, "--redact", help="Mask text that looks like a password or secret."),
    send: bool = typer.Option(False, "--send", help="Send it to partner.support_address over SMTP (the smtp.* "
                              "config keys), after showing it and asking."),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --send: do not ask (for scripts); also sends again."),
) -> None:
    """Write the escalation ticket for a triage session, or send it to the provider's desk.

    Refused (exit 1, the missing steps listed) until every step is recorded and the partner
    details are set. Text that looks like a password or secret is flagged on stderr first.
    --send shows what will be sent and asks; the sent time and Message-ID are kept in the session.

    Example: threer ticket 20261126-7K3P --format eml --output ticket.eml

    Example: threer ticket 20261126-7K3P --send
    """
    from threer.config import load_config
    from threer.store import open_store
    from threer.store_open import store_exists
    from threer.triage.engine import load_session

    from threer.ticket import formats

    env = app_context(ctx).env
    fmt = fmt.lower()
    if fmt not in formats.names():
        raise BadInput(f"--format {fmt} is not a ticket format; use one of {', '.join(formats.names())}.")
    if send and (output is not None or copy or fmt != "text"):
        raise BadInput("--send sends the text ticket with the JSON one attached; leave out --format, --output "
                       "and --copy (run them separately).")
    if yes and not send:
        raise BadInput("--yes only goes with --send.")
    config = load_config(env.config_path)
    if not store_exists(env, config):  # nothing was ever saved: do not create a database just to say so
        raise NotFound(f"No triage session {session_id!r}. Run `threer sessions list` to see the ids.")
    if output is not None and str(output) == "-":
        output = None  # `--output -` is standard output, as for other tools (a file named "-": its full path)
    if output is not None and output.is_dir():
        raise BadInput(f"--output {output} is a folder; give a file name such as {output / 'ticket.txt'}.")
    with open_store(env, config) as store:
        session = load_session(store, session_id)
    if session.status == "resolved":
        # a ticket addressed to the provider for a solved problem is one paste away from a wrong escalation
        raise ThreerError(
            f"Triage {session.id} was resolved at the partner level, so there is nothing to escalate. To escalate "
            f"after all, change its outcome: threer triage --resume {session.id} --change outcome",
            ExitStatus.PROBLEMS,
        )
    from threer.ticket import build_ticket, render, render_text

    now = env.clock().replace(microsecond=0)  # to the second, as the session records the sent time
    # the first send starts the provider's clock now (the sent time recorded); a correction sent again keeps
    # the first sent time; an export counts from the send, else the escalation
    first_send = send and session.ticket_sent_at is None
    ticket = build_ticket(session, config, now=now, redact_secrets=redact, counted_from=now if first_send else None)
    _warn(ticket, redact)
    if send:
        _send(env, session, ticket, config, yes=yes, now=now)
        return

    data = render(ticket, fmt)
    if output is not None:
        _write(output, data)
        stderr_console().print(f"Ticket written to {output}", markup=False, highlight=False)
    else:
        emit_ticket(data)
    if copy:
        text = data if isinstance(data, str) else render_text(ticket)
        copied, message = copy_to_clipboard(text)
        if copied:
            stderr_console().print(message, markup=False, highlight=False)
        else:
            print_warning(message)


def _send(env: Any, session: Any, ticket: "Ticket", config: Any, *, yes: bool, now: Any) -> None:
    """Show, confirm, send, record: the session says sent only once the server accepted the message."""
    from threer.store import open_store
    from threer.ticket.send import (check_settings, plain_login_warning, send_message, sender_address, smtp_password,
                                    ticket_message)

    smtp = config.smtp
    password = smtp_password(smtp)
    check_settings(smtp, password)  # before asking anything: settings that cannot work fail now
    if (warning := plain_login_warning(smtp)) is not None:
        print_warning(warning)
    interactive = is_interactive()
    if not yes and not interactive:
        raise BadInput("Sending asks for confirmation on a terminal; add --yes to send from a script.")
    msg = ticket_message(ticket, sender=sender_address(smtp), now=now)
    attachment = next(msg.iter_attachments())
    out = stdout_console()
    for label in ("From", "To", "Subject"):
        out.print(f"[bold]{label}:[/] {escape(' '.join(str(msg[label]).split()))}")  # unfolded
    out.print(f"[bold]Attached:[/] {escape(str(attachment.get_filename()))} (the ticket as JSON)")
    out.print(f"[bold]Through:[/] {escape(smtp.host or '')}:{smtp.effective_port} ({smtp.security}"
              f"{', as ' + escape(smtp.user) if smtp.user else ''})")
    out.print()
    emit_text(str(msg.get_body(("plain",)).get_content()).rstrip("\n"))
    out.print()
    if session.ticket_sent_at and not yes:
        when = session.ticket_sent_at.astimezone().strftime("%Y-%m-%d %H:%M %Z")
        if not typer.confirm(f"This ticket was already sent on {when} (Message-ID {session.ticket_message_id}). "
                             "Send it again?", default=False):
            stderr_console().print("Not sent.", markup=False)
            return
    elif not yes and not typer.confirm(f"Send this to {ticket.recipient}?", default=False):
        stderr_console().print("Not sent.", markup=False)
        return
    sent = send_message(msg, smtp, password, now=now)
    try:
        with open_store(env, config) as store:
            # sent again (a correction): the provider's clock still runs from the first send
            store.update_session(session.id, env.clock(), ticket_sent_at=session.ticket_sent_at or sent.sent_at,
                                 ticket_message_id=sent.message_id)
    except ThreerError as exc:
        raise ThreerError(f"The ticket was sent (Message-ID {sent.message_id}) but could not be recorded in the "
                          f"session: {exc.message}", ExitStatus.INCOMPLETE) from None
    stderr_console().print(f"Sent to {escape(sent.recipient)} through {escape(sent.server)}; Message-ID "
                           f"{escape(sent.message_id)}.", highlight=False, soft_wrap=True)


def _warn(ticket: "Ticket", redacted: bool) -> None:
    if not ticket.warnings:
        return
    for warning in ticket.warnings:
        print_warning(warning.describe())
    if redacted:
        print_warning("These are replaced by [REDACTED] in the ticket.")
    else:
        print_warning("Check before sending; `--redact` replaces them with [REDACTED].")


def _write(path: Path, data: str | bytes) -> None:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        from threer.ticket import write_private

        write_private(path, raw)
    except IsADirectoryError:
        raise BadInput(f"--output {path} is a folder; give a file name.") from None
    except OSError as exc:
        raise BadInput(f"Cannot write {path} ({exc.strerror or exc}). Choose another --output path.") from None


def _clipboard_commands() -> list[list[str]]:
    """Clipboard tools worth trying here, most fitting first."""
    wayland = bool(os.environ.get("WAYLAND_DISPLAY"))
    x11 = bool(os.environ.get("DISPLAY"))
    candidates: list[list[str]] = []
    if sys.platform == "darwin":
        candidates.append(["pbcopy"])
    if sys.platform == "win32":
        candidates.append(["clip"])
    if wayland:
        candidates.append(["wl-copy"])
    if x11:
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    candidates.append(["clip.exe"])  # Windows Subsystem for Linux
    if not wayland:
        candidates.append(["wl-copy"])
    if not x11:
        candidates += [["xclip", "-selection", "clipboard"], ["xsel", "--clipboard", "--input"]]
    candidates.append(["pbcopy"])
    seen: set[str] = set()
    found = []
    for command in candidates:
        if command[0] not in seen and shutil.which(command[0]):
            seen.add(command[0])
            found.append(command)
    return found


def copy_to_clipboard(text: str) -> tuple[bool, str]:
    """Copy with the first clipboard tool that works. Returns (copied, a sentence for the user)."""
    commands = _clipboard_commands()
    if not commands:
        return False, ("No clipboard tool found (wl-copy, xclip, xsel, pbcopy or clip.exe); "
                       "the ticket was not copied. Copy it from the output instead.")
    failures = []
    for command in commands:
        name = Path(command[0]).stem
        # clip.exe reads the console code page unless given UTF-16 with a byte-order mark
        payload = ("\ufeff" + text).encode("utf-16-le") if name == "clip" else text.encode("utf-8")
        try:
            done = subprocess.run(command, input=payload, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=CLIPBOARD_TIMEOUT, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            failures.append(f"{name}: {type(exc).__name__}")
            continue
        if done.returncode == 0:
            return True, f"Copied to the clipboard with {name}."
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        failures.append(f"{name}: {detail[0] if detail else f'exit status {done.returncode}'}")
    return False, f"Could not copy to the clipboard ({'; '.join(failures)}); the ticket was not copied."
