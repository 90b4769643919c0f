"""A real HTTPS server on 127.0.0.1 for the tests of the HTTPS checks (autodiscover, MTA-STS, OWA).

Certificates come from trustme: `Pki` holds a CA the client is told to trust and a second CA it is
not, and issues leaf certificates that are valid, for another name, expired or untrusted.
`HttpsTestServer` serves a table of routes (status, body, content type, redirect, delay) on an
ephemeral loopback port, one certificate per server; tests point threer at it through
`connect_overrides`, so `https://mta-sts.contoso.test/` reaches it without the system resolver.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import trustme


class Pki:
    """A trusted CA, an untrusted one, and the leaf certificates the tests serve."""

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name="threer test CA")
        self.rogue_ca = trustme.CA(organization_name="threer untrusted CA")

    def client_context(self) -> ssl.SSLContext:
        """What threer gets as `verify`: trusts only the test CA."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        self.ca.configure_trust(context)
        return context

    def valid(self, *names: str, days: int = 90) -> trustme.LeafCert:
        now = datetime.now(timezone.utc)
        return self.ca.issue_cert(*names, not_before=now - timedelta(days=1), not_after=now + timedelta(days=days))

    def expired(self, *names: str) -> trustme.LeafCert:
        now = datetime.now(timezone.utc)
        return self.ca.issue_cert(*names, not_before=now - timedelta(days=400), not_after=now - timedelta(days=3))

    def untrusted(self, *names: str) -> trustme.LeafCert:
        return self.rogue_ca.issue_cert(*names)


@dataclass
class Route:
    """What the server answers for one path."""

    status: int = 200
    body: bytes = b""
    content_type: str | None = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (the timeout tests)
    send_length: bool = True  # False: no Content-Length, the body ends when the connection closes

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Route:
        return cls(status=status, body=b"", content_type=None, headers={"Location": location})


NOT_FOUND = Route(status=404, body=b"not found\n")


class _TlsHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address, handler, *, tls: ssl.SSLContext, owner: HttpsTestServer) -> None:
        self.tls = tls
        self.owner = owner
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        # The handshake runs in the request's own thread so a slow or failing client blocks no one.
        request.settimeout(10)
        try:
            tls_socket = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            self.owner.handshake_failures += 1
            return
        try:
            super().finish_request(tls_socket, client_address)
        finally:
            try:
                tls_socket.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TlsHttpServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - keep test output quiet
        pass

    def _answer(self) -> None:
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner.requests.append((self.command, self.headers.get("Host", ""), path))
        route = owner.routes.get(path, owner.default)
        if route.delay and owner.stopping.wait(route.delay):
            return
        self.send_response(route.status)
        if route.content_type is not None:
            self.send_header("Content-Type", route.content_type)
        for name, value in route.headers.items():
            self.send_header(name, value)
        if route.send_length:
            self.send_header("Content-Length", str(len(route.body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(route.body)
            except OSError:
                pass  # the client stopped reading (size cap): that is the point of the test
        self.close_connection = True

    do_GET = _answer
    do_HEAD = _answer
    do_POST = _answer


class HttpsTestServer:
    """An HTTPS server on 127.0.0.1 and an ephemeral port, in a background thread.

        with HttpsTestServer(pki.valid("mta-sts.contoso.test"), {"/.well-known/mta-sts.txt": Route(body=...)}) as srv:
            probe(url, connect_overrides=srv.overrides("mta-sts.contoso.test"), verify=pki.client_context())
    """

    def __init__(self, cert: trustme.LeafCert, routes: dict[str, Route] | None = None, *, default: Route = NOT_FOUND) -> None:
        self.cert = cert
        self.routes: dict[str, Route] = dict(routes or {})
        self.default = default
        self.requests: list[tuple[str, str, str]] = []  # (method, Host header, path)
        self.handshake_failures = 0
        self.stopping = threading.Event()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(tls)
        self._httpd = _TlsHttpServer(("127.0.0.1", 0), _Handler, tls=tls, owner=self)
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._httpd.server_address[:2]
        return str(host), int(port)

    def overrides(self, *hosts: str) -> dict[str, tuple[str, int]]:
        """connect_overrides sending each of `hosts` to this server."""
        return {host: self.address for host in hosts}

    def start(self) -> HttpsTestServer:
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> HttpsTestServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextmanager
def refusing_address() -> Iterator[tuple[str, int]]:
    """A loopback address where nothing listens: bound but not listening, so connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[0], sock.getsockname()[1]


@pytest.fixture(scope="session")
def pki() -> Pki:
    return Pki()
