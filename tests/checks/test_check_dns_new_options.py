"""check-dns --ip, --smtp-port and --diff end to end: the CLI, a real DNS server, real SMTP servers, a real database."""

from __future__ import annotations

import json

import pytest

from support_dnsserver import ZONES_DIR, DnsTestServer
from support_smtplab import SmtpLab

ZONES = ["k-smtp.zone", ZONES_DIR / "k-extra" / "reverse.zone", ZONES_DIR / "k-extra" / "dnsbl.zone"]


@pytest.fixture(scope="module")
def dns():
    with DnsTestServer(zone_files=ZONES) as server:
        yield server


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with SmtpLab(tmp_path_factory.mktemp("cli-smtp")) as started:
        yield started


def ns(dns) -> list[str]:
    return ["--nameserver", f"127.0.0.1:{dns.port}", "--profile", "none", "--timeout", "3"]


def findings(result) -> dict[str, dict]:
    document = json.loads(result.stdout)
    return {f["id"]: f for f in document["domains"][0]["findings"]}


def test_smtp_probe_through_the_cli_on_a_lab_port(invoke, dns, lab) -> None:
    result = invoke("check-dns", "good.k-smtp.example", *ns(dns), "--smtp-port", str(lab.port), "--ca-bundle", lab.ca_file, "--json")
    found = findings(result)
    assert found["smtp.ok"]["observed"]["starttls"] == "negotiated"
    assert "dane.none" in found and "rdns.ok" in found
    table = invoke("check-dns", "good.k-smtp.example", *ns(dns), "--smtp-port", str(lab.port), "--ca-bundle", lab.ca_file)
    assert "[smtp.ok]" in table.stdout and "STARTTLS TLSv1" in table.stdout


def test_dns_only_skips_the_probe(invoke, dns, lab) -> None:
    found = findings(invoke("check-dns", "good.k-smtp.example", *ns(dns), "--smtp-port", str(lab.port), "--dns-only", "--json"))
    assert not [i for i in found if i.startswith("smtp.")]


def test_ip_gives_spf_verdict_reverse_dns_and_blocklists(invoke, dns, tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text('blocklists = ["bl.k-dnsbl.example", "refused.k-dnsbl.example"]\n', encoding="utf-8")
    monkeypatch.setenv("THREER_CONFIG", str(config))
    result = invoke("check-dns", "spfsend.k-smtp.example", *ns(dns), "--dns-only", "--json", "--ip", "127.0.11.20")
    found = findings(result)
    assert found["spf-ip.pass"]["observed"]["chain"][-1] == "ip4:127.0.11.20"
    assert found["blocklist.listed"]["observed"]["list"] == "bl.k-dnsbl.example"
    assert found["blocklist.refused"]["severity"] == "error"
    assert any(f["message"].startswith("Sending address 127.0.11.20") for f in json.loads(result.stdout)["domains"][0]["findings"] if f["check"] == "rdns")
    assert result.exit_code == 1  # listed is a fail


@pytest.mark.parametrize("bad", ["not-an-ip", "127.0.0.300", ""])
def test_bad_ip_is_a_usage_error(invoke, dns, bad) -> None:
    result = invoke("check-dns", "spfsend.k-smtp.example", *ns(dns), "--ip", bad)
    assert result.exit_code == 2 and "is not an IP address" in result.stderr and "Traceback" not in result.stderr


def test_bad_smtp_port_is_a_usage_error(invoke, dns) -> None:
    result = invoke("check-dns", "good.k-smtp.example", *ns(dns), "--smtp-port", "0")
    assert result.exit_code == 2


def test_diff_shows_what_changed_since_the_last_run(invoke, tmp_path) -> None:
    with DnsTestServer(zone_files=ZONES) as server:
        args = ["check-dns", "spfsend.k-smtp.example", *ns(server), "--dns-only"]
        first = invoke(*args, "--diff")
        assert "No earlier check of spfsend.k-smtp.example is kept" in first.stdout
        assert "Nothing changed since the check on" in invoke(*args, "--diff").stdout
        server.replace_records("spfsend.k-smtp.example", "TXT", ['"v=spf1 include:_spf.k-smtp.example -all"'], ttl=600)
        changed = invoke(*args, "--diff", "--json")
    entry = json.loads(changed.stdout)["domains"][0]
    record = entry["changes"]["records"]["changed"][0]
    assert record["name"] == "spfsend.k-smtp.example" and record["type"] == "TXT"
    assert record["after"] == ["v=spf1 include:_spf.k-smtp.example -all"] and record["ttl_after"] == 600
    cleared = {f["id"] for f in entry["changes"]["findings"]["cleared"]}
    assert "spf.all-softfail" in cleared


def test_without_diff_the_json_has_no_changes_key(invoke, dns) -> None:
    entry = json.loads(invoke("check-dns", "spfsend.k-smtp.example", *ns(dns), "--dns-only", "--json").stdout)["domains"][0]
    assert "changes" not in entry


def test_history_off_keeps_nothing_and_diff_says_why(invoke, dns, tmp_path, monkeypatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text("check_history = false\n", encoding="utf-8")
    monkeypatch.setenv("THREER_CONFIG", str(config))
    result = invoke("check-dns", "spfsend.k-smtp.example", *ns(dns), "--dns-only", "--diff")
    assert result.exit_code == 2 and "check_history = false" in result.stderr


def test_diff_after_a_dns_only_run_never_calls_unchecked_findings_cleared(invoke, dns, lab) -> None:
    """A full check, then --dns-only --diff: the SMTP probe's findings are "not checked this time", not
    cleared; then a full check again: they are not "new" either (review 2 #13)."""
    full = ["check-dns", "good.k-smtp.example", *ns(dns), "--smtp-port", str(lab.port), "--ca-bundle", lab.ca_file]
    first = invoke(*full, "--json")
    assert "smtp.ok" in findings(first)
    dns_only = invoke("check-dns", "good.k-smtp.example", *ns(dns), "--dns-only", "--diff")
    assert "not checked this time (--dns-only)" in dns_only.stdout
    assert "smtp.ok (ok) cleared" not in dns_only.stdout and " cleared" not in dns_only.stdout
    assert "new finding autodiscover.https-skipped" not in dns_only.stdout
    back = invoke(*full, "--diff", "--json")
    entry = json.loads(back.stdout)["domains"][0]["changes"]["findings"]
    assert not [f for f in entry["appeared"] if f["id"].startswith(("smtp.", "autodiscover.https-"))]
    assert {f["id"] for f in entry["not_compared"]} >= {"smtp.ok"}
    assert {f["not_checked"] for f in entry["not_compared"]} == {"last time"}


def test_diff_keeps_record_lines_whole_when_piped(invoke) -> None:
    """Piped (a monitoring job's log, a mail), a diff line holding records is never cut in two (review 2 #5)."""
    new = "v=spf1 include:_spf.k-smtp.example ip4:127.0.11.20 ip4:127.0.11.21 -all"
    with DnsTestServer(zone_files=ZONES) as server:
        args = ["check-dns", "spfsend.k-smtp.example", *ns(server), "--dns-only"]
        invoke(*args)
        server.replace_records("spfsend.k-smtp.example", "TXT", [f'"{new}"'], ttl=600)
        out = invoke(*args, "--diff").stdout.splitlines()
    changed = [line for line in out if line.startswith("  TXT spfsend.k-smtp.example changed: ")]
    assert len(changed) == 1 and changed[0].endswith(f"→ {new} (TTL 600)"), out
    assert len(changed[0]) > 80  # so the test shows a line longer than the pipe's 80 columns stays whole


def test_partial_result_header_wraps_under_an_indent() -> None:
    import io
    from datetime import datetime, timezone

    from rich.console import Console

    from threer.cli.check_dns import render_report
    from threer.findings import DomainReport, Summary

    buffer = io.StringIO()
    console = Console(file=buffer, width=80, force_terminal=False, color_system=None)
    report = DomainReport(domain="cafe.example", checked_at=datetime(2026, 12, 1, tzinfo=timezone.utc), duration_ms=5,
                          summary=Summary(), partial=True)
    render_report(console, report)
    lines = buffer.getvalue().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  Partial result: "))
    assert lines[at + 1].startswith("    ") and "ERROR" in " ".join(lines[at:at + 2])
    assert all(len(line) <= 80 for line in lines)


def test_diff_without_ip_never_clears_the_ip_findings_of_the_last_run(invoke, dns, tmp_path, monkeypatch) -> None:
    """Review 3 #3: --ip, then --diff without it: the address's listing is not checked this time, never cleared."""
    config = tmp_path / "config.toml"
    config.write_text('blocklists = ["bl.k-dnsbl.example"]\n', encoding="utf-8")
    monkeypatch.setenv("THREER_CONFIG", str(config))
    args = ["check-dns", "spfsend.k-smtp.example", *ns(dns), "--dns-only"]
    assert invoke(*args, "--ip", "127.0.11.20").exit_code == 1  # listed
    out = invoke(*args, "--diff").stdout
    assert " cleared" not in out, out
    assert "finding blocklist.listed (fail) for 127.0.11.20 not checked this time (no --ip 127.0.11.20)" in out
    entry = json.loads(invoke(*args, "--diff", "--json", "--ip", "127.0.11.20").stdout)["domains"][0]["changes"]
    # compared with the last run that asked about the address... which is the one without it: not new either
    assert entry["findings"]["appeared"] == [] and entry["findings"]["cleared"] == []
    assert {(f["id"], f["not_checked"], f["why"]) for f in entry["findings"]["not_compared"]} >= {
        ("blocklist.listed", "last time", "--ip"), ("spf-ip.pass", "last time", "--ip")}
    again = json.loads(invoke(*args, "--diff", "--json", "--ip", "127.0.11.20").stdout)["domains"][0]["changes"]
    assert again["findings"] == {"appeared": [], "cleared": [], "not_compared": []}


def test_a_run_that_got_no_answer_is_not_the_one_the_next_run_is_compared_with(invoke) -> None:
    """Review 3 #16: a good run, one against a dead server (exit 3), then a good one again: nothing changed."""
    with DnsTestServer(zone_files=ZONES) as server:
        args = ["check-dns", "spfsend.k-smtp.example", "--nameserver", f"127.0.0.1:{server.port}", "--profile", "none",
                "--dns-only"]
        assert invoke(*args, "--timeout", "3").exit_code in (0, 1)
        server.set_mode("dead")
        dead = invoke(*args, "--timeout", "1", "--diff")
        assert dead.exit_code == 3
        assert "Nothing could be looked up this time, so nothing is compared with the check on" in dead.stdout
        assert " cleared" not in dead.stdout and "new finding" not in dead.stdout
        server.set_mode(None)
        back = invoke(*args, "--timeout", "3", "--diff")
    assert "Nothing changed since the check on" in back.stdout, back.stdout
