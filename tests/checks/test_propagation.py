"""`--propagation`: authoritative servers and (loopback stand-ins for) public resolvers side by side."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import ZONES_DIR, DnsTestServer, resolver_for
from threer.checks.propagation import (
    DEFAULT_PUBLIC_RESOLVERS,
    PublicResolver,
    check_propagation,
    public_resolvers_from_env,
)
from threer.errors import BadInput

OLD_ZONE = ZONES_DIR / "b-alt" / "b-ns-split-old.zone"


@pytest.fixture(scope="module")
def servers():
    """The main server (ns1 and a fresh resolver), the stale secondary on 127.0.0.3, a stale resolver."""
    with DnsTestServer() as main:
        secondary = DnsTestServer(zone_files=[OLD_ZONE], host="127.0.0.3")
        secondary.port = main.port
        with secondary, DnsTestServer(zone_files=[OLD_ZONE]) as stale_resolver:
            yield main, secondary, stale_resolver


def test_stale_servers_are_marked(servers) -> None:
    main, _, stale_resolver = servers
    public = [
        PublicResolver(name="Stale", address=stale_resolver.address),
        PublicResolver(name="Fresh", address=main.address),
    ]

    async def go():
        return await check_propagation(
            "b-ns-split.example", resolver_for(main, timeout=2.0, deadline=3.0), public, authoritative_port=main.port
        )

    view = asyncio.run(go())
    rows = {s.name: s for s in view.servers}
    assert list(rows) == ["ns1.b-ns-split.example", "ns2.b-ns-split.example", "Stale", "Fresh"]
    assert view.current_serial == 2024020202
    assert rows["ns2.b-ns-split.example"].serial == 2024010101
    assert rows["ns2.b-ns-split.example"].stale and rows["Stale"].stale
    assert not rows["ns1.b-ns-split.example"].stale and not rows["Fresh"].stale
    assert rows["Stale"].answers["MX"].values == ["20 oldmail.b-ns-split.example"]
    assert rows["Stale"].answers["MX"].stale and rows["Stale"].answers["MX"].ttl == 300
    assert rows["Stale"].answers["SPF"].stale
    assert not rows["Stale"].answers["DMARC"].stale  # missing everywhere is not stale
    assert rows["Fresh"].answers["SPF"].values == ["v=spf1 ip4:127.0.0.1 -all"]
    assert any("Stale" in note and "300 s" in note for note in view.notes)


def test_dead_public_resolver_is_not_called_stale(servers) -> None:
    main, _, _ = servers
    with DnsTestServer(zone_files=[], faults={"b-ns-split.example": "timeout", "_dmarc.b-ns-split.example": "timeout",
                                               "autodiscover.b-ns-split.example": "timeout"}) as dead:
        public = [PublicResolver(name="Dead", address=dead.address)]

        async def go():
            return await check_propagation(
                "b-ns-split.example", resolver_for(main, timeout=0.5, deadline=1.0), public, authoritative_port=main.port
            )

        view = asyncio.run(go())
    dead_row = view.servers[-1]
    assert dead_row.serial_status == "timeout" and not dead_row.answers["MX"].stale


def test_public_resolvers_default_and_configured() -> None:
    defaults = public_resolvers_from_env({})
    assert [(r.name, r.address[0]) for r in defaults] == list(DEFAULT_PUBLIC_RESOLVERS)
    configured = public_resolvers_from_env({"THREER_PUBLIC_RESOLVERS": "Lab=127.0.0.1:5353, 127.0.0.2"})
    assert [(r.name, r.address) for r in configured] == [("Lab", ("127.0.0.1", 5353)), ("127.0.0.2", ("127.0.0.2", 53))]
    with pytest.raises(BadInput, match="THREER_PUBLIC_RESOLVERS"):
        public_resolvers_from_env({"THREER_PUBLIC_RESOLVERS": "Lab=dns.example"})


def test_piped_at_80_columns_every_host_name_and_record_stays_whole() -> None:
    """Review 3 #15: in a file or a pipe the table would fold names mid-word; the lines keep them whole."""
    import io

    from threer.checks.propagation import PropagationView, RecordAnswer, ServerView
    from threer.cli.check_dns import render_propagation
    from threer.cli.safe_console import SafeConsole

    mx = ["0 harbour-bakery-co-uk.mail.protection.outlook.com", "10 mail2.oldisp-hosting.example"]
    spf = "v=spf1 include:spf.protection.outlook.com a mx ~all"
    servers = [ServerView(name=name, kind=kind, address="127.0.0.77:53530", serial=2026120101, stale=stale,
                          answers={"MX": RecordAnswer(status="answer", values=mx, ttl=3600),
                                   "SPF": RecordAnswer(status="answer", values=[spf], ttl=3600, stale=stale),
                                   "DMARC": RecordAnswer(status="nxdomain")})
               for name, kind, stale in (("ns1.harbour-bakery.co.uk", "authoritative", False), ("OldCache", "public", True))]
    view = PropagationView(domain="harbour-bakery.co.uk", current_serial=2026120101, servers=servers)

    def shown(width: int) -> str:
        buffer = io.StringIO()
        render_propagation(SafeConsole(file=buffer, width=width, no_color=True, highlight=False), view)
        return buffer.getvalue()

    narrow = shown(80)
    lines = narrow.splitlines()
    for value in [*mx, spf, "ns1.harbour-bakery.co.uk", "authoritative 127.0.0.77:53530"]:
        assert any(value in line for line in lines), (value, narrow)
    assert any(line.startswith("  SPF") and "STALE" in line and line.endswith(spf) for line in lines), narrow
    assert "none (NXDOMAIN)" in narrow
    wide = shown(160)
    assert "─" in wide and all(value in wide for value in mx)  # wide enough: the table, still whole
