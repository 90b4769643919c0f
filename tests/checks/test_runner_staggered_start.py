"""The runner starts each check as soon as its module is imported and lets that check ask its first
questions before it imports the next check's module: in a short run (`check-dns DOMAIN`), importing
the check modules then overlaps the wait for the first answers instead of delaying every question."""

from __future__ import annotations

import asyncio

from support_dnsserver import DnsTestServer, resolver_for
from threer.checks import CheckOptions, LazyCheck, run_domain


class NotedLazyCheck(LazyCheck):
    """A LazyCheck that notes when its module is imported."""

    def __init__(self, events: list[tuple[str, ...]], module_name: str, function_name: str) -> None:
        super().__init__(module_name, function_name)
        self.events = events

    def load(self):
        if self.function is None:
            self.events.append(("import", self.module_name))
        return super().load()


class NotedResolver:
    """The real resolver, noting each question as a check asks it."""

    def __init__(self, inner, events: list[tuple[str, ...]]) -> None:
        self.inner = inner
        self.events = events

    async def query(self, name: str, rdtype: str):
        self.events.append(("ask", name, rdtype))
        return await self.inner.query(name, rdtype)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def test_a_check_asks_before_the_next_module_is_imported() -> None:
    events: list[tuple[str, ...]] = []
    functions = {
        "mx": NotedLazyCheck(events, "threer.checks.mx", "check_mx"),
        "spf": NotedLazyCheck(events, "threer.checks.spf", "check_spf"),
    }
    options = CheckOptions(profile="none", checks=("mx", "spf"), dns_only=True, timeout=5)
    with DnsTestServer() as server:
        resolver = NotedResolver(resolver_for(server, timeout=5, deadline=5), events)
        outcome = asyncio.run(run_domain("b-plain.example", options, resolver=resolver, profile=None,
                                         functions=functions))
    assert {f.check for f in outcome.report.findings} == {"mx", "spf"}
    imports = [i for i, event in enumerate(events) if event[0] == "import"]
    assert [events[i][1] for i in imports] == ["threer.checks.mx", "threer.checks.spf"]
    assert ("ask", "b-plain.example", "MX") in events[imports[0]:imports[1]]  # asked before spf was imported


def test_checks_already_imported_start_together() -> None:
    # in a run of many domains the modules are imported once: the next domains' checks start at once
    events: list[tuple[str, ...]] = []
    functions = {"mx": NotedLazyCheck(events, "threer.checks.mx", "check_mx")}
    functions["mx"].load()
    options = CheckOptions(profile="none", checks=("mx",), dns_only=True, timeout=5)
    with DnsTestServer() as server:
        resolver = NotedResolver(resolver_for(server, timeout=5, deadline=5), events)
        outcome = asyncio.run(run_domain("b-plain.example", options, resolver=resolver, profile=None,
                                         functions=functions))
    assert events[0] == ("import", "threer.checks.mx") and ("import", "threer.checks.mx") not in events[1:]
    assert any(f.id == "mx.ok" for f in outcome.report.findings)
