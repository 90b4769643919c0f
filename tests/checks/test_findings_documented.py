"""Every finding id a check can emit is documented, and every check emits only the ids it declares."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from support_dnsserver import DnsTestServer, zone_domains
from threer.checks import CHECK_FUNCTIONS, RUNNER_FINDING_IDS, CheckOptions, finding_ids, run_domain

DOCS = Path(__file__).resolve().parents[2] / "docs" / "reference" / "findings"


def documented_ids() -> set[str]:
    headings: set[str] = set()
    for page in DOCS.glob("*.md"):
        headings |= set(re.findall(r"^## `?([a-z0-9-]+\.[a-z0-9-]+)`?\s*$", page.read_text(encoding="utf-8"), re.M))
    return headings


@pytest.mark.parametrize("check", list(CHECK_FUNCTIONS))
def test_every_declared_id_is_documented(check: str) -> None:
    declared = finding_ids(check)
    missing = sorted(declared - documented_ids())
    assert not missing, f"document these ids as '## <id>' headings in docs/reference/findings/: {missing}"
    assert all(i.startswith(check + ".") for i in declared)


def test_runner_ids_are_documented() -> None:
    assert not sorted(RUNNER_FINDING_IDS - documented_ids())


def test_the_index_links_every_page() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in DOCS.glob("*.md"):
        if page.name != "README.md":
            assert f"({page.name})" in index, f"docs/reference/findings/README.md does not link {page.name}"


@pytest.mark.parametrize("profile", [None, "m365", "google"])
def test_checks_emit_only_declared_ids(profile: str | None) -> None:
    """Every test zone, through every check, with each profile: no undeclared id ever appears."""
    declared = {check: finding_ids(check) | RUNNER_FINDING_IDS for check in CHECK_FUNCTIONS}
    with DnsTestServer() as server:
        options = CheckOptions(profile=profile, nameservers=[server.address], timeout=3.0, dns_only=True)

        async def all_domains():
            gate = asyncio.Semaphore(10)

            async def one(domain: str):
                async with gate:
                    return await run_domain(domain, options)

            return await asyncio.gather(*(one(d) for d in zone_domains()))

        outcomes = asyncio.run(all_domains())
    seen = set()
    for outcome in outcomes:
        for finding in outcome.report.findings:
            seen.add(finding.id)
            assert finding.id in declared[finding.check], f"{outcome.report.domain}: undeclared id {finding.id}"
    assert len(seen) > 20
