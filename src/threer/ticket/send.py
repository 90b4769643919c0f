"""Sending a ticket to the provider's desk over SMTP (`threer ticket ID --send`).

`ticket_message` builds the e-mail: the text format as its body, the JSON ticket attached for desks
that read structured data, and a fixed subject tag with the triage id ("[threer 20261201-ABCD]") so the
desk's replies thread. `send_message` hands it to the configured server (STARTTLS, implicit TLS or,
on a trusted network only, none), logging in when a user is set. Every failure is a `SendFailed` that
says what happened and that nothing was sent, except a final reply lost after the whole message went
(`SendUncertain`: it may have been accepted); success returns only once the server accepted the
message for the recipient, so nothing is recorded as sent that was not.
"""

from __future__ import annotations

import email.policy
import ipaddress
import os
import secrets
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from threer.config import SmtpConfig
from threer.errors import BadInput, ExitStatus, ThreerError
from threer.ticket.formats.eml import header_safe, set_subject
from threer.ticket.formats.json import render_json
from threer.ticket.formats.text import render_text
from threer.ticket.model import Ticket

PASSWORD_ENV = "THREER_SMTP_PASSWORD"
KEYRING_SERVICE = "threer-smtp"


def subject_tag(triage_id: str) -> str:
    return f"[threer {triage_id}]"


class SendFailed(ThreerError):
    """The server did not accept the ticket; nothing was sent."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.INCOMPLETE) -> None:
        super().__init__(f"{message} Nothing was sent.", status)


class SendUncertain(ThreerError):
    """The server got the whole ticket but its answer never came: it may have been accepted, or not."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitStatus.INCOMPLETE)


class _SMTP(smtplib.SMTP):
    """Notes when the message's end (CRLF.CRLF after DATA) has gone to the server: from then on only the
    server's final reply says whether it took the message, and a lost reply leaves that unknown."""

    body_sent = False

    def send(self, s: Any) -> None:
        super().send(s)
        if isinstance(s, bytes) and s.endswith(b"\r\n.\r\n"):
            self.body_sent = True


class _SMTP_SSL(_SMTP, smtplib.SMTP_SSL):
    pass


@dataclass(frozen=True)
class Sent:
    message_id: str
    sent_at: datetime
    recipient: str
    server: str  # host:port


def sender_address(smtp: SmtpConfig) -> str:
    """From: smtp.from_address, else the login user when it is an address."""
    if smtp.from_address:
        return smtp.from_address
    if smtp.user and "@" in smtp.user:
        return smtp.user
    raise BadInput("Sending needs a From address: set it with `threer config set smtp.from_address "
                   "you@partner.example`.")


def ticket_message(ticket: Ticket, *, sender: str, now: datetime, message_id: str | None = None) -> EmailMessage:
    """The e-mail to the desk: text body, the JSON ticket attached, the triage id in the subject tag."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = sender
    msg["To"] = ticket.recipient
    set_subject(msg, header_safe(f"{subject_tag(ticket.triage_id)} {ticket.subject}"))
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = message_id or new_message_id(ticket.triage_id, sender)
    msg["X-Threer-Triage-Id"] = header_safe(ticket.triage_id)
    msg.set_content(render_text(ticket, headers=False), charset="utf-8")
    msg.add_attachment(render_json(ticket).encode("utf-8"), maintype="application", subtype="json",
                       filename=f"ticket-{ticket.triage_id}.json")
    return msg


def new_message_id(triage_id: str, sender: str) -> str:
    """Unique, short enough to stay on one header line, and naming the triage for whoever reads it."""
    domain = sender.rpartition("@")[2] or "threer.invalid"
    return f"<threer.{triage_id.lower()}.{secrets.token_hex(6)}@{domain}>"


def smtp_password(smtp: SmtpConfig, environ: dict[str, str] | None = None) -> str | None:
    """THREER_SMTP_PASSWORD, else the system keyring (when the `keyring` package is installed)."""
    environ = dict(os.environ) if environ is None else environ
    if environ.get(PASSWORD_ENV):
        return environ[PASSWORD_ENV]
    if not smtp.user or not smtp.host:
        return None
    try:
        import keyring  # optional: threer works without it
    except ImportError:
        return None
    try:
        password: str | None = keyring.get_password(KEYRING_SERVICE, f"{smtp.user}@{smtp.host}")
        return password
    except Exception:  # noqa: BLE001 - no usable keyring backend here: as if nothing were stored
        return None


def check_settings(smtp: SmtpConfig, password: str | None) -> None:
    """Refuse, before connecting, settings that cannot work."""
    if not smtp.host:
        raise BadInput("Sending needs the SMTP server: `threer config set smtp.host smtp.partner.example` "
                       "(and smtp.port, smtp.security, smtp.user as your mail provider says).")
    if smtp.user and not password:
        raise BadInput(f"smtp.user is {smtp.user!r} but no password was found: set {PASSWORD_ENV}, or store it "
                       f"with `keyring set {KEYRING_SERVICE} {smtp.user}@{smtp.host}`.")
    if smtp.user and smtp.security == "none" and not smtp.plain_login and not is_loopback(smtp.host):
        raise BadInput(f"smtp.security is none and smtp.user is set, so the password would cross the network to "
                       f"{smtp.host} unencrypted. Use `threer config set smtp.security starttls` (port 587) or `tls` "
                       "(port 465); only on a network you trust, allow it with `threer config set smtp.plain_login "
                       "true`.")
    if smtp.ca_bundle is not None and not smtp.ca_bundle.is_file():
        raise BadInput(f"smtp.ca_bundle {smtp.ca_bundle} is not a file; give the path of a PEM CA certificate.")


def is_loopback(host: str | None) -> bool:
    """`localhost` or a loopback address (127.0.0.0/8, ::1, ::ffff:127.x): traffic that never leaves the
    machine. A name is not looked up: only what the config says counts."""
    if not host:
        return False
    name = host.strip().strip("[]").rstrip(".").lower()
    if name == "localhost":
        return True
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def plain_login_warning(smtp: SmtpConfig) -> str | None:
    """What to say when smtp.plain_login lets a password go unencrypted to another machine."""
    if smtp.user and smtp.security == "none" and smtp.plain_login and not is_loopback(smtp.host):
        return (f"smtp.plain_login is true: the password for {smtp.user} goes to {smtp.host} unencrypted, readable "
                "by anyone on the network between. Use smtp.security starttls or tls unless that network is yours.")
    return None


def _tls_context(smtp: SmtpConfig) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=str(smtp.ca_bundle) if smtp.ca_bundle else None)
    except (ssl.SSLError, OSError) as exc:
        raise BadInput(f"smtp.ca_bundle {smtp.ca_bundle} cannot be read as a CA certificate ({exc}).") from None


def send_message(msg: EmailMessage, smtp: SmtpConfig, password: str | None, *, now: datetime) -> Sent:
    """Hand `msg` to the server. Returns only when the server accepted it for its recipient."""
    check_settings(smtp, password)
    assert smtp.host is not None
    port = smtp.effective_port
    where = f"{smtp.host}:{port}"
    recipient = str(msg["To"])
    context = _tls_context(smtp) if smtp.security != "none" else None
    client: _SMTP | _SMTP_SSL | None = None
    try:
        if smtp.security == "tls":
            client = _SMTP_SSL(smtp.host, port, timeout=smtp.timeout, context=context)
        else:
            client = _SMTP(smtp.host, port, timeout=smtp.timeout)
        client.ehlo()
        if smtp.security == "starttls":
            if not client.has_extn("starttls"):
                raise SendFailed(f"The SMTP server {where} does not offer STARTTLS, so the ticket would travel "
                                 "unencrypted. Use its TLS port (`threer config set smtp.security tls`), or "
                                 "`smtp.security none` on a trusted network only.")
            client.starttls(context=context)
            client.ehlo()
        if smtp.user:
            if not client.has_extn("auth"):
                raise SendFailed(f"The SMTP server {where} does not offer a login (AUTH), but smtp.user is set. "
                                 "Unset smtp.user if it takes mail without one.", ExitStatus.USAGE)
            client.login(smtp.user, password or "")
        try:
            refused = client.send_message(msg)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            if not client.body_sent:
                raise
            timed_out = isinstance(exc, TimeoutError) or "timed out" in str(exc)
            raise SendUncertain(
                f"The SMTP server {where} received the whole ticket but "
                + (f"gave no answer within {smtp.timeout:g} s" if timed_out else "closed the connection before answering")
                + ", so it may have been accepted or not; the session does not record it as sent. Before sending "
                f"again, ask the desk (or look in your sent mail or the server's log) for Message-ID "
                f"{msg['Message-ID']} or the subject tag {subject_tag(str(msg['X-Threer-Triage-Id']))}; "
                "if it did not arrive, send it again (raise smtp.timeout if the server is slow).") from None
        if refused:  # only possible with several recipients; threer sends to one
            raise SendFailed(f"The SMTP server {where} refused {', '.join(refused)}.", ExitStatus.USAGE)
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            pass  # the message was accepted at the end of DATA; a lost goodbye does not unsend it
        client = None
        return Sent(message_id=str(msg["Message-ID"]), sent_at=now, recipient=recipient, server=where)
    except smtplib.SMTPAuthenticationError as exc:
        raise SendFailed(f"The SMTP server {where} refused the login for {smtp.user} ({_reply(exc)}). Check "
                         f"smtp.user and the password ({PASSWORD_ENV} or the keyring).", ExitStatus.USAGE) from None
    except smtplib.SMTPRecipientsRefused as exc:
        replies = "; ".join(f"{addr}: {_code_text(code, text)}" for addr, (code, text) in exc.recipients.items())
        raise SendFailed(f"The SMTP server {where} refused the recipient ({replies}). Check "
                         "partner.support_address with `threer config show`.", ExitStatus.USAGE) from None
    except smtplib.SMTPSenderRefused as exc:
        raise SendFailed(f"The SMTP server {where} refused the sender {exc.sender} ({_reply(exc)}). Check "
                         "smtp.from_address: it must be an address this server lets you send from.",
                         ExitStatus.USAGE) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise SendFailed(f"The SMTP server {where} does not support what was asked ({exc}).") from None
    except smtplib.SMTPResponseException as exc:
        raise SendFailed(f"The SMTP server {where} answered {_reply(exc)}.") from None
    except ssl.SSLCertVerificationError as exc:
        raise SendFailed(f"The certificate of the SMTP server {where} could not be verified "
                         f"({exc.verify_message or exc.reason}). Check smtp.host, or set smtp.ca_bundle to your "
                         "company's CA certificate.") from None
    except ssl.SSLError as exc:
        raise SendFailed(f"The TLS connection to the SMTP server {where} failed ({exc.reason or exc}). Check that "
                         "smtp.security matches the port (tls for 465, starttls for 587).") from None
    except smtplib.SMTPServerDisconnected as exc:
        raise SendFailed(f"The SMTP server {where} closed the connection ({exc or 'no reason given'}).") from None
    except smtplib.SMTPException as exc:
        raise SendFailed(f"Sending through {where} failed ({exc}).") from None
    except socket.gaierror as exc:
        raise SendFailed(f"The SMTP server name {smtp.host} could not be resolved ({exc.strerror or exc}). "
                         "Check smtp.host.") from None
    except TimeoutError:
        raise SendFailed(f"The SMTP server {where} did not answer within {smtp.timeout:g} s. Check smtp.host and "
                         "smtp.port, or raise smtp.timeout.") from None
    except OSError as exc:
        raise SendFailed(f"Could not connect to the SMTP server {where} ({exc.strerror or exc}). Check smtp.host "
                         "and smtp.port, and that the server is up.") from None
    finally:
        if client is not None:
            try:
                client.close()
            except OSError:
                pass


def _code_text(code: int, text: bytes | str) -> str:
    words = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {' '.join(words.split())}"


def _reply(exc: smtplib.SMTPResponseException) -> str:
    return _code_text(exc.smtp_code, exc.smtp_error)
