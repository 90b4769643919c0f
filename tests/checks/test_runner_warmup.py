"""The runner keeps one-off slow work of a check (the Public Suffix List parse) off the event loop."""

from __future__ import annotations

import asyncio
import time

import threer.checks as runner
from support_dnsserver import resolver_for
from threer.checks import CheckOptions, check_domain
from threer.checks.dmarc import organisational_domain


class TimedResolver:
    """The real resolver, noting when each answer came back."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.answered_at: dict[tuple[str, str], float] = {}

    async def query(self, name: str, rdtype: str):
        lookup = await self.inner.query(name, rdtype)
        self.answered_at.setdefault((name, rdtype), time.monotonic())
        return lookup

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_slow_warm_up_runs_beside_the_first_look_ups(make_dns_server, monkeypatch) -> None:
    server = make_dns_server(delay=0.1)
    # stand in for a slow first use: 0.5 s of blocking work before the dmarc check may start
    monkeypatch.setitem(runner._WARM_UPS, "dmarc", ("time", "sleep", (0.5,)))
    monkeypatch.setattr(runner, "_warmed", set())
    options = CheckOptions(profile="m365", nameservers=[server.address], timeout=3, dns_only=True)

    async def main():
        resolver = TimedResolver(resolver_for(server, timeout=3, deadline=3))
        started = time.monotonic()
        report = await check_domain("b-good.example", options, resolver=resolver)
        return report, {key: at - started for key, at in resolver.answered_at.items()}

    report, answered = asyncio.run(main())
    assert answered[("b-good.example", "MX")] < 0.4  # not held up behind the 0.5 s of work
    assert answered[("_dmarc.b-good.example", "TXT")] > 0.5  # the dmarc check waited for it
    assert any(f.check == "dmarc" and f.severity.value != "error" for f in report.findings)
    assert "dmarc" in runner._warmed


def test_the_real_warm_up_prepares_the_public_suffix_list() -> None:
    runner._warm_up("dmarc")
    assert "dmarc" in runner._warmed
    assert organisational_domain("mail.shop.example.co.uk") == "example.co.uk"
