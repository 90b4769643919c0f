"""CheckOptions.checks: a subset of checks by name, and owa only where it belongs.

The triage's review.dns step runs CHECKS (everything but owa, which has its own step); check-dns runs
owa as well when the profile names an OWA address, as docs/reference/check-dns.md says.
"""

from __future__ import annotations

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CHECK_FUNCTIONS, CHECKS, CONNECTING, CheckOptions, check_domains

DOMAIN = "b-good.example"  # set up for m365; the test DNS server knows no provider host


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def checks_seen(server, **options) -> list[str]:
    options.setdefault("timeout", 3.0)
    report = check_domains([DOMAIN], CheckOptions(nameservers=[server.address], **options))[0]
    return list(dict.fromkeys(f.check for f in report.findings))


def test_by_default_owa_runs_when_the_profile_names_it(server) -> None:
    assert checks_seen(server, profile="m365") == [*CHECKS, "owa"]


def test_no_owa_without_an_address_or_with_dns_only(server) -> None:
    assert checks_seen(server, profile=None) == list(CHECKS)
    # --dns-only leaves out every check that connects to a host (smtp, owa)
    assert checks_seen(server, profile="m365", dns_only=True) == [c for c in CHECKS if c not in CONNECTING]


def test_the_review_dns_subset_leaves_owa_out_even_when_the_profile_names_it(server) -> None:
    assert checks_seen(server, profile="m365", checks=CHECKS) == list(CHECKS)


def test_a_subset_runs_only_those_checks(server) -> None:
    assert checks_seen(server, profile="m365", checks=("dkim", "mx")) == ["mx", "dkim"]  # reported in CHECKS order
    assert checks_seen(server, profile="m365", checks=["spf"]) == ["spf"]


def test_owa_runs_when_named(server) -> None:
    assert checks_seen(server, profile="m365", checks=("mx", "owa")) == ["mx", "owa"]
    report = check_domains(
        [DOMAIN], CheckOptions(profile="m365", nameservers=[server.address], timeout=3.0, dns_only=True, checks=("owa",))
    )[0]
    assert [f.id for f in report.findings] == ["owa.skipped"]


def test_a_name_given_twice_runs_once(server) -> None:
    assert CheckOptions(checks=("mx", "mx", "spf")).checks == ("mx", "spf")
    assert checks_seen(server, profile="m365", checks=("mx", "mx")) == ["mx"]


@pytest.mark.parametrize("checks", [("mx", "nope"), ("MX",), ("owa ",), ()])
def test_unknown_or_no_check_names_are_refused(checks) -> None:
    with pytest.raises(ValueError) as excinfo:
        CheckOptions(checks=checks)
    assert "check" in str(excinfo.value)


def test_every_check_name_is_accepted() -> None:
    assert CheckOptions(checks=tuple(CHECK_FUNCTIONS)).checks == tuple(CHECK_FUNCTIONS)
