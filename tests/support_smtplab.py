"""Real SMTP servers on loopback for the smtp and dane checks (the ticket-sending tests have support_smtp.py).

`SmtpLab` starts, on one port shared by several loopback addresses, one server an address:
aiosmtpd with STARTTLS over a trustme certificate (good, wrong name, expired, and a good and a
wrong-name one behind the two addresses of one MX host), aiosmtpd without STARTTLS, a server that accepts and never greets, and one that greets, reads EHLO and hangs up.
The addresses match tests/zones/k-smtp.zone, so `--smtp-port lab.port` reaches them.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from datetime import datetime, timedelta, timezone

import trustme
from aiosmtpd.controller import Controller

GOOD = "127.0.11.1"
PLAIN = "127.0.11.2"
WRONG_NAME = "127.0.11.3"
EXPIRED = "127.0.11.4"
SILENT = "127.0.11.5"
DROPPER = "127.0.11.6"
CLOSED = "127.0.11.7"  # nothing listens here
# the two addresses of one MX host (mx.two.k-smtp.example): a good server and one with another name's certificate
TWO_GOOD = "127.0.11.9"
TWO_BAD = "127.0.11.10"
ADDRESSES = (GOOD, PLAIN, WRONG_NAME, EXPIRED, SILENT, DROPPER, CLOSED, TWO_GOOD, TWO_BAD)


class _Handler:
    async def handle_DATA(self, server, session, envelope):  # pragma: no cover - the probe sends no mail
        return "250 OK"


def free_port(addresses=ADDRESSES) -> int:
    """A TCP port free on every one of `addresses`."""
    for _ in range(50):
        probe = socket.socket()
        probe.bind((addresses[0], 0))
        port = probe.getsockname()[1]
        sockets = [probe]
        try:
            for address in addresses[1:]:
                s = socket.socket()
                sockets.append(s)
                s.bind((address, port))
            return port
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError("no port free on every lab address")


class _RawServer:
    """A bare TCP server in its own thread: `silent` never greets; `dropper` greets, reads EHLO, closes."""

    def __init__(self, address: str, port: int, mode: str) -> None:
        self.address, self.port, self.mode = address, port, mode
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    async def _client(self, reader, writer) -> None:
        try:
            if self.mode == "silent":
                await reader.read()  # wait for the client to give up
            else:
                writer.write(b"220 dropper.k-smtp.example ESMTP\r\n")
                await writer.drain()
                await reader.readline()
        finally:
            writer.close()

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._client, self.address, self.port))
        self.server = server
        self.ready.set()
        self.loop.run_forever()
        server.close()
        self.loop.run_until_complete(server.wait_closed())
        self.loop.close()

    def start(self) -> "_RawServer":
        self.thread.start()
        self.ready.wait(5)
        return self

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


class SmtpLab:
    """Every lab server started; `ca` is the trustme CA to trust (`ca_file` as a PEM path)."""

    def __init__(self, tmp_path, now: datetime | None = None) -> None:
        self.now = now or datetime.now(timezone.utc)
        self.ca = trustme.CA()
        self.ca_file = str(tmp_path / "lab-ca.pem")
        self.ca.cert_pem.write_to_path(self.ca_file)
        self.port = free_port()
        self.certs = {
            GOOD: self.ca.issue_cert("mx.good.k-smtp.example"),
            WRONG_NAME: self.ca.issue_cert("mail.elsewhere.example"),
            EXPIRED: self.ca.issue_cert(
                "mx.expired.k-smtp.example",
                not_before=self.now - timedelta(days=400),
                not_after=self.now - timedelta(days=35),
            ),
            TWO_GOOD: self.ca.issue_cert("mx.two.k-smtp.example"),
            TWO_BAD: self.ca.issue_cert("mail.elsewhere.example"),
        }
        self._controllers: list[Controller] = []
        self._raw: list[_RawServer] = []

    def _context(self, address: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.certs[address].configure_cert(context)
        return context

    def start(self) -> "SmtpLab":
        for address in (GOOD, WRONG_NAME, EXPIRED, PLAIN, TWO_GOOD, TWO_BAD):
            kwargs = {"tls_context": self._context(address)} if address in self.certs else {}
            controller = Controller(
                _Handler(), hostname=address, port=self.port, server_hostname=f"lab-{address}", ready_timeout=10, **kwargs
            )
            controller.start()
            self._controllers.append(controller)
        self._raw = [_RawServer(SILENT, self.port, "silent").start(), _RawServer(DROPPER, self.port, "dropper").start()]
        return self

    def stop(self) -> None:
        for controller in self._controllers:
            controller.stop()
        for raw in self._raw:
            raw.stop()

    def __enter__(self) -> "SmtpLab":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def leaf_der(lab: SmtpLab, address: str) -> bytes:
    """The DER of the leaf certificate a lab server presents."""
    pem = lab.certs[address].cert_chain_pems[0].bytes()
    return ssl.PEM_cert_to_DER_cert(pem.decode())
