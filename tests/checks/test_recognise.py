"""`--profile auto`: the provider recognised from the domain's records, and real provider shapes accepted."""

from __future__ import annotations

import pytest

from support_dnsserver import DnsTestServer
from threer.checks import CheckOptions, check_domains
from threer.findings import Severity


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as running:
        yield running


def report(server, domain, profile="auto", **options):
    opts = CheckOptions(profile=profile, nameservers=[server.address], timeout=3.0, dns_only=True, **options)
    return check_domains([domain], opts)[0]


def ids(report, check=None):
    return [f.id for f in report.findings if check is None or f.check == check]


def test_m365_recognised_from_the_mx_with_a_hyphen_token(server) -> None:
    r = report(server, "d-maxx-express.example")
    assert r.profile == "m365"
    assert r.profile_reason == "recognised from the MX (dmaxxexpress-example01b.mail.protection.outlook.com)"
    # the admin centre's token (hyphen dropped, suffix) and DKIM targets with extra text are all accepted
    assert ids(r, "mx") == ["mx.ok"]
    assert sorted(ids(r, "dkim")) == ["dkim.ok", "dkim.ok"]
    assert r.summary.fail == 0 and r.summary.warn == 0


def test_m365_newer_mx_microsoft_shape(server) -> None:
    r = report(server, "d-m365-newmx.example")
    assert (r.profile, r.profile_reason) == ("m365", "recognised from the MX (d-m365-newmx-example.j-v1.mx.microsoft)")
    assert ids(r, "mx") == ["mx.ok"]
    assert r.summary.fail == 0


def test_the_same_domain_given_m365_explicitly_gets_the_same_verdict(server) -> None:
    r = report(server, "d-maxx-express.example", profile="m365")
    assert r.profile_reason == "given with --profile"
    assert ids(r, "mx") == ["mx.ok"] and r.summary.fail == 0


def test_google_older_mx_set_is_accepted(server) -> None:
    r = report(server, "d-google-old.example")
    assert r.profile == "google" and r.profile_reason.startswith("recognised from the MX")
    assert ids(r, "mx") == ["mx.ok"]  # aspmx4/aspmx5.googlemail.com are Google's, not extra


def test_google_dkim_prefix_chosen_by_the_admin(server) -> None:
    missing = report(server, "d-google-old.example")
    [finding] = [f for f in missing.findings if f.check == "dkim"]
    assert finding.id == "dkim.missing" and "--dkim-selector" in finding.message
    named = report(server, "d-google-old.example", dkim_selectors=("gw2026",))
    assert ids(named, "dkim") == ["dkim.ok"]  # the admin's prefix stands in for google._domainkey


def test_recognised_from_the_spf_include_behind_a_filter(server) -> None:
    r = report(server, "d-filtered.example")
    assert (r.profile, r.profile_reason) == ("m365", "recognised from the SPF include (spf.protection.outlook.com)")
    [mismatch] = [f for f in r.findings if f.id == "mx.profile-mismatch"]
    assert mismatch.severity is Severity.WARN  # a filtering service in front is a valid set-up
    assert mismatch.changes == []  # nothing is changed without asking
    # so the old server is named in words: no zone line of it to copy back by mistake (review 4 #2)
    assert "Then remove the MX record \"10 " in mismatch.fix and " IN MX 10 " not in mismatch.fix
    assert "filtering service" in mismatch.message


def test_no_match_is_judged_on_its_merits(server) -> None:
    r = report(server, "d-elsewhere.example")
    assert r.profile is None
    assert r.profile_reason == "no profile matched: judged on the records' own merits"
    # nothing that would move it to a provider
    assert not [f for f in r.findings if "profile" in f.id or "outlook" in (f.fix or "")]
    assert r.summary.fail == 0


def test_a_partner_profile_is_tried_before_the_built_ins(server, tmp_path) -> None:
    path = tmp_path / "filter.toml"
    path.write_text('description = "Filter"\nmx = ["mx.d-filtered.example"]\n', encoding="utf-8")
    r = report(server, "d-filtered.example", auto_profiles=(str(path),))
    assert (r.profile, r.profile_reason) == ("filter", "recognised from the MX (mx.d-filtered.example)")


def test_check_dns_names_the_profile_and_why(invoke, server) -> None:
    result = invoke("check-dns", "d-maxx-express.example", "d-elsewhere.example", "--dns-only",
                    "--nameserver", f"127.0.0.1:{server.port}")
    assert "profile m365, recognised from the MX (dmaxxexpress-example01b.mail.protection.outlook.com)" in result.stdout
    assert "no profile matched: judged on the records' own merits" in result.stdout


def test_bad_dkim_selector_is_a_usage_error(invoke) -> None:
    result = invoke("check-dns", "contoso.com", "--dkim-selector", "bad selector!")
    assert result.exit_code == 2
    assert "--dkim-selector" in result.stderr and "not a DKIM selector" in result.stderr
