"""Real SMTP servers on loopback (aiosmtpd) for the ticket-sending tests: plain, STARTTLS, implicit TLS,
with or without a login, refusing recipients on request. Each records what it accepted.

    with smtp_server(starttls=ca, users={"sam": "right"}) as server:
        ... server.port, server.messages (email.message.EmailMessage), server.logins
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


@dataclass
class Recorder:
    refuse_recipients: bool = False
    data_delay: float = 0.0  # seconds to wait before the final reply to DATA (a slow content filter)
    drop_after_data: bool = False  # close the connection instead of giving the final reply
    messages: list[EmailMessage] = field(default_factory=list)
    tls_used: list[bool] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list) -> str:
        if self.refuse_recipients:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.messages.append(msg)  # type: ignore[arg-type]
        self.tls_used.append(server.transport.get_extra_info("ssl_object") is not None)
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        if self.drop_after_data:
            server.transport.close()
        return "250 2.0.0 Ok: queued"


class _TLSController(Controller):
    """Implicit TLS: the stock readiness probe would wrap its socket with the server's context."""

    def _trigger_server(self) -> None:
        client = ssl.create_default_context()
        client.check_hostname = False
        client.verify_mode = ssl.CERT_NONE
        with socket.create_connection((self.hostname, self.port), 1.0) as raw:
            with client.wrap_socket(raw) as s:
                s.recv(1024)


@dataclass
class Server:
    port: int
    recorder: Recorder

    @property
    def messages(self) -> list[EmailMessage]:
        return self.recorder.messages

    @property
    def logins(self) -> list[str]:
        return self.recorder.logins


def server_context(ca: trustme.CA) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "localhost").configure_cert(ctx)
    return ctx


@contextmanager
def smtp_server(*, starttls: trustme.CA | None = None, implicit_tls: trustme.CA | None = None,
                users: dict[str, str] | None = None, refuse_recipients: bool = False, data_delay: float = 0.0,
                drop_after_data: bool = False) -> Iterator[Server]:
    recorder = Recorder(refuse_recipients=refuse_recipients, data_delay=data_delay, drop_after_data=drop_after_data)

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        if isinstance(data, LoginPassword):
            login, password = data.login.decode(), data.password.decode()
            if users and users.get(login) == password:
                recorder.logins.append(login)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    kwargs: dict[str, Any] = {}
    if users is not None:
        kwargs.update(authenticator=authenticate, auth_require_tls=starttls is not None or implicit_tls is not None)
    if starttls is not None:
        kwargs.update(tls_context=server_context(starttls), require_starttls=True)
    port = free_port()
    if implicit_tls is not None:
        controller: Controller = _TLSController(recorder, hostname=HOST, port=port,
                                                ssl_context=server_context(implicit_tls), **kwargs)
    else:
        controller = Controller(recorder, hostname=HOST, port=port, **kwargs)
    controller.start()
    try:
        yield Server(port=port, recorder=recorder)
    finally:
        controller.stop()
