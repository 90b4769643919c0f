"""The `blocklist` check against blocklist zones served by the loopback DNS server."""

from __future__ import annotations

import asyncio

import pytest

from support_dnsserver import DnsTestServer, ZONES_DIR, resolver_for
from threer.checks.blocklist import (
    FINDING_IDS, Blocklist, blocklists_for, check_blocklist, default_zones, known_lists, query_name,
)
from threer.checks.context import CheckContext
from threer.findings import Severity

ZONES = ["k-smtp.zone", ZONES_DIR / "k-extra" / "dnsbl.zone"]
LIST = Blocklist(zone="bl.k-dnsbl.example", name="Test list", codes={"127.0.0.2": "a spam source"}, delist="https://bl.test/")
REFUSING = Blocklist(zone="refused.k-dnsbl.example")


@pytest.fixture(scope="module")
def server():
    with DnsTestServer(zone_files=ZONES) as s:
        yield s


def run(server, ips, lists=(LIST,), domain="nomail.k-smtp.example", mx=False):
    ctx = CheckContext(domain=domain, resolver=resolver_for(server), ips=tuple(ips), blocklists=tuple(lists), blocklist_mx=mx)
    return asyncio.run(check_blocklist(ctx))


def ids(findings):
    return [(f.id, f.severity) for f in findings]


def test_query_names_follow_rfc_5782() -> None:
    assert query_name("127.1.2.99", "bl.example") == "99.2.1.127.bl.example"
    assert query_name("::1", "bl.example") == "1." + "0." * 31 + "bl.example"


def test_listed_address_with_its_codes_explained(server) -> None:
    findings = run(server, ["127.0.11.20"])
    assert ids(findings) == [("blocklist.listed", Severity.FAIL)]
    message = findings[0].message
    assert "127.0.0.2 a spam source" in message and "127.0.0.4 (code not described" in message
    assert "https://bl.test/" in findings[0].fix


def test_clean_address(server) -> None:
    findings = run(server, ["127.0.11.21"])
    assert ids(findings) == [("blocklist.clean", Severity.OK)]


def test_a_list_that_refuses_the_resolver_is_an_error_never_listed(server) -> None:
    findings = run(server, ["127.0.11.21"], lists=(LIST, REFUSING))
    assert ids(findings) == [("blocklist.refused", Severity.ERROR)]
    assert "this list does not answer your resolver" in findings[0].message
    assert "127.255.255.254" in findings[0].message


def test_spamhaus_error_codes_are_described() -> None:
    zen = known_lists()["zen.spamhaus.org"]
    assert "public or open resolver" in zen.codes["127.255.255.254"]


def test_failed_lookup_is_an_error() -> None:
    with DnsTestServer(zone_files=ZONES, faults={("21.11.0.127.bl.k-dnsbl.example", "A"): "servfail"}) as s:
        assert ids(run(s, ["127.0.11.21"])) == [("blocklist.lookup-error", Severity.ERROR)]


def test_mx_addresses_only_when_asked(server) -> None:
    assert run(server, [], domain="good.k-smtp.example") == []
    findings = run(server, [], domain="good.k-smtp.example", mx=True)
    assert ids(findings) == [("blocklist.clean", Severity.OK)] and "MX host mx.good.k-smtp.example" in findings[0].message


def test_defaults_come_from_the_data_file_and_config_names_win() -> None:
    assert default_zones() == ["zen.spamhaus.org", "bl.spamcop.net", "psbl.surriel.com"]
    chosen = blocklists_for(["bl.k-dnsbl.example", "zen.spamhaus.org"])
    assert [b.zone for b in chosen] == ["bl.k-dnsbl.example", "zen.spamhaus.org"] and chosen[1].name == "Spamhaus ZEN"
    assert blocklists_for([]) == ()


def test_ids_declared(server) -> None:
    seen = {f.id for ips in (["127.0.11.20"], ["127.0.11.21"]) for f in run(server, ips, lists=(LIST, REFUSING))}
    assert seen <= FINDING_IDS


def test_the_lists_own_reason_is_shown_and_its_page_is_the_fix(server) -> None:
    """Review 3 #25a: a listing's TXT record (RFC 5782 §2.1) says why and where; it is not left out."""
    findings = run(server, ["127.0.11.30"], lists=(Blocklist(zone="bl.k-dnsbl.example"),))
    assert ids(findings) == [("blocklist.listed", Severity.FAIL)]
    message, fix = findings[0].message, findings[0].fix or ""
    assert "127.0.0.10 (code not described; the list’s reason follows)" in message
    assert message.endswith("The list says: Listed: see https://bl.k-dnsbl.example/lookup?ip=127.0.11.30")
    assert fix.endswith("ask for removal at https://bl.k-dnsbl.example/lookup?ip=127.0.11.30.")
    assert findings[0].observed["reason"] == "Listed: see https://bl.k-dnsbl.example/lookup?ip=127.0.11.30"
    clean = run(server, ["127.0.11.21"])  # a clean address is asked its A record only
    assert ids(clean) == [("blocklist.clean", Severity.OK)]
    assert ("21.11.0.127.bl.k-dnsbl.example", "TXT") not in {(n, t) for n, t, _ in server.query_log}
