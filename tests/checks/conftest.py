"""DNS fixtures for the check tests: a real loopback DNS server serving tests/zones/, and resolvers on it."""

from __future__ import annotations

import pytest

from support_dnsserver import DnsTestServer, all_zone_files, resolver_for  # noqa: F401 - re-exported for tests


@pytest.fixture
def dns_server():
    """A server with every zone file in tests/zones/ and no faults."""
    with DnsTestServer(zone_files=all_zone_files()) as server:
        yield server


@pytest.fixture
def make_dns_server():
    """Factory: make_dns_server(zone_files=None, faults=None, delay=0, records=None) -> started server."""
    started: list[DnsTestServer] = []

    def _make(zone_files=None, faults=None, delay: float = 0.0, records=None) -> DnsTestServer:
        server = DnsTestServer(zone_files=zone_files, faults=faults, delay=delay, records=records).start()
        started.append(server)
        return server

    yield _make
    for server in started:
        server.stop()
