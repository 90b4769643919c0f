"""`threer check-dns` end to end in process, against the loopback DNS server."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from support_dnsserver import DnsTestServer


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


@pytest.fixture
def ns(server) -> list[str]:
    return ["--nameserver", f"127.0.0.1:{server.port}"]


MINE = ("ns", "mx", "dkim", "tls-rpt", "dnssec")  # the checks this file's zones are written for


def ids(document: dict, domain_index: int = 0) -> set[str]:
    return {f["id"] for f in document["domains"][domain_index]["findings"]}


def test_healthy_domain_exits_0(invoke, ns) -> None:
    result = invoke("check-dns", "b-plain.example", "--profile", "none", "--dns-only", *ns)
    assert result.exit_code == 0, result.output
    assert "b-plain.example" in result.stdout
    assert "[mx.ok]" in result.stdout and "[ns.ok]" in result.stdout
    assert result.stderr == ""  # no progress bar or colour off a terminal


def test_table_groups_by_check_worst_first_with_fixes(invoke, ns) -> None:
    result = invoke("check-dns", "b-mx-m365.example", "--profile", "m365", "--dns-only", *ns)
    assert result.exit_code == 1
    out = result.stdout
    assert out.index("[ns.ok]") < out.index("[mx.extra]") < out.index("[dkim.missing]")
    assert "fix: Remove the leftover records:\n" in out
    # a record to remove is shown as one, even where the prose names it (review 3 #14)
    assert "\n                      ; remove: b-mx-m365.example. 300 IN MX 10 oldmail.b-mx-m365.example.\n" in out


def test_any_fail_exits_1(invoke, ns) -> None:
    result = invoke("check-dns", "b-mx-null.example", "--profile", "google", "--dns-only", "--json", *ns)
    assert result.exit_code == 1
    assert "mx.null-mx" in ids(json.loads(result.stdout))


def test_default_profile_comes_from_the_config(invoke, ns, threer_env) -> None:
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text('default_profile = "google"\n', encoding="utf-8")
    document = json.loads(invoke("check-dns", "b-plain.example", "--dns-only", "--json", *ns).stdout)
    assert document["domains"][0]["profile"] == "google"


def test_without_config_the_default_is_m365(invoke, ns) -> None:
    document = json.loads(invoke("check-dns", "b-good.example", "--dns-only", "--json", *ns).stdout)
    assert document["domains"][0]["profile"] == "m365"


def test_partner_profile_file(invoke, ns, tmp_path: Path) -> None:
    profile = tmp_path / "lab.toml"
    profile.write_text('mx = ["mail.{domain}"]\n', encoding="utf-8")
    document = json.loads(invoke("check-dns", "b-plain.example", "--profile", str(profile), "--dns-only", "--json", *ns).stdout)
    assert document["domains"][0]["profile"] == "lab"
    assert "mx.ok" in ids(document)


def test_domains_are_normalised_with_a_note(invoke, ns) -> None:
    result = invoke("check-dns", "Admin@B-Plain.Example", "https://b-plain.example/owa", "--profile", "none", "--dns-only", "--json", *ns)
    document = json.loads(result.stdout)
    assert [d["domain"] for d in document["domains"]] == ["b-plain.example"]  # the same domain once
    assert "took the domain from the e-mail address" in result.stderr


@pytest.mark.parametrize(
    "args, words",
    [
        (["not a domain"], "contains spaces"),
        (["127.0.0.1"], "IP address"),
        (["b-plain.example", "--timeout", "0"], "--timeout"),
        (["b-plain.example", "--timeout", "9999"], "--timeout"),
        (["b-plain.example", "--nameserver", "dns.example"], "not a name server address"),
        (["b-plain.example", "--nameserver", "127.0.0.1:99999"], "port"),
        (["b-plain.example", "--profile", "office"], "Unknown profile 'office'"),
        (["b-plain.example", "--profile", "missing.toml"], "does not exist"),
        (["--from", "no-such-file.txt"], "does not exist"),
    ],
)
def test_bad_usage_exits_2_with_a_sentence(invoke, args: list[str], words: str) -> None:
    result = invoke("check-dns", *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_bad_lines_in_from_file_are_named(invoke, tmp_path: Path) -> None:
    listing = tmp_path / "domains.txt"
    listing.write_text("b-plain.example\n# a comment\n\nnot valid!\n", encoding="utf-8")
    result = invoke("check-dns", "--from", str(listing))
    assert result.exit_code == 2
    assert f"{listing} line 4" in result.stderr and "Nothing was checked" in result.stderr


def test_from_file_that_is_not_text(invoke, tmp_path: Path) -> None:
    listing = tmp_path / "domains.bin"
    listing.write_bytes(b"\xff\xfe\x00bad")
    result = invoke("check-dns", "--from", str(listing))
    assert result.exit_code == 2 and "not UTF-8" in result.stderr


def test_from_stdin(invoke, ns) -> None:
    result = invoke("check-dns", "--from", "-", "--profile", "none", "--dns-only", "--json", *ns,
                    input="b-plain.example\nb-mx-ok.example  # trailing comment\n")
    assert [d["domain"] for d in json.loads(result.stdout)["domains"]] == ["b-plain.example", "b-mx-ok.example"]


def test_unreachable_resolver_exits_3(invoke) -> None:
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = invoke("check-dns", "b-plain.example", "--dns-only", "--nameserver", f"127.0.0.1:{port}", "--json")
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    severities = {f["severity"] for f in document["domains"][0]["findings"]}
    assert "error" in severities and not severities & {"ok", "warn", "fail"}
    assert "Nothing could be checked for b-plain.example" in result.stderr


def test_dead_name_server_gives_errors_within_the_deadline(invoke) -> None:
    """A server that never answers costs one deadline for the whole domain, not one timeout per query."""
    black_hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    black_hole.bind(("127.0.0.1", 0))
    try:
        started = time.monotonic()
        result = invoke("check-dns", "b-good.example", "--dns-only", "--timeout", "1", "--json",
                        "--nameserver", f"127.0.0.1:{black_hole.getsockname()[1]}")
        elapsed = time.monotonic() - started
    finally:
        black_hole.close()
    assert result.exit_code == 3
    findings = json.loads(result.stdout)["domains"][0]["findings"]
    assert len(findings) >= 5 and not {f["severity"] for f in findings} & {"ok", "warn", "fail"}
    assert all(f["severity"] == "error" for f in findings if f["check"] in ("ns", "mx", "dkim", "tls-rpt", "dnssec"))
    assert elapsed < 2.5


def test_fifty_domains_one_broken(invoke, tmp_path: Path) -> None:
    """One domain whose look-ups fail (SERVFAIL); the 49 others get exactly their normal result.

    (The deadline side, a dead server costing one deadline, is tested above; a generous --timeout here
    keeps this test steady on a busy machine, where the in-process test server is the bottleneck.)"""
    zones = []
    for i in range(50):
        name = f"d{i}.b-bulk.example"
        zone = tmp_path / f"b-bulk-{i}.zone"
        zone.write_text(
            f"$ORIGIN {name}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 127.0.0.1\n"
            f"@ IN MX 10 mail\nmail IN A 127.0.0.1\n@ IN TXT \"v=spf1 ip4:127.0.0.1 -all\"\n"
            f"_smtp._tls IN TXT \"v=TLSRPTv1; rua=mailto:tls@{name}\"\n",
            encoding="utf-8",
        )
        zones.append(zone)
    with DnsTestServer(zone_files=zones, faults={"d7.b-bulk.example": "servfail"}) as bulk:
        listing = tmp_path / "domains.txt"
        listing.write_text("".join(f"d{i}.b-bulk.example\n" for i in range(50)), encoding="utf-8")
        result = invoke("check-dns", "--from", str(listing), "--profile", "none", "--dns-only", "--timeout", "10",
                        "--json", "--nameserver", f"127.0.0.1:{bulk.port}")
    document = json.loads(result.stdout)
    assert [d["domain"] for d in document["domains"]] == [f"d{i}.b-bulk.example" for i in range(50)]
    broken = document["domains"][7]
    assert broken["summary"]["error"] >= 3
    healthy = [d for i, d in enumerate(document["domains"]) if i != 7]
    reference = sorted((f["id"], f["severity"]) for f in healthy[0]["findings"])
    for domain in healthy:
        assert not [f for f in domain["findings"] if f["severity"] == "error" and f["check"] in MINE]
        assert sorted((f["id"], f["severity"]) for f in domain["findings"]) == reference
    assert result.exit_code in (0, 1)  # the others were checked: the broken one alone is not "nothing checked"


def test_propagation_in_json_and_table(invoke, server, monkeypatch) -> None:
    with DnsTestServer(zone_files=[Path(__file__).parents[1] / "zones" / "b-alt" / "b-ns-split-old.zone"]) as stale:
        monkeypatch.setenv("THREER_PUBLIC_RESOLVERS", f"Stale=127.0.0.1:{stale.port},Fresh=127.0.0.1:{server.port}")
        ns2 = DnsTestServer(zone_files=[Path(__file__).parents[1] / "zones" / "b-alt" / "b-ns-split-old.zone"], host="127.0.0.3")
        ns2.port = server.port
        with ns2:
            args = ("check-dns", "b-ns-split.example", "--profile", "none", "--dns-only", "--propagation",
                    "--nameserver", f"127.0.0.1:{server.port}")
            document = json.loads(invoke(*args, "--json").stdout)
            table = invoke(*args).stdout
    view = document["domains"][0]["propagation"]
    assert view["current_serial"] == 2024020202
    assert [(s["name"], s["kind"], s["stale"]) for s in view["servers"]] == [
        ("ns1.b-ns-split.example", "authoritative", False),
        ("ns2.b-ns-split.example", "authoritative", True),
        ("Stale", "public", True),
        ("Fresh", "public", False),
    ]
    assert "Propagation of b-ns-split.example" in table and "STALE" in table
    assert "Stale (127.0.0.1:" in table


def test_help_lists_every_option(invoke) -> None:
    out = invoke("check-dns", "--help").stdout
    for option in ("--from", "--profile", "--nameserver", "--timeout", "--json", "--propagation", "--dns-only"):
        assert option in out


# -- what people read: the table, fixed width, no colour ------------------------------------------

GOLDEN = Path(__file__).parent / "golden_check_dns_report.txt"


def _sample_report():
    from datetime import datetime, timezone

    from threer.findings import DomainReport, Finding, Severity, add, remove

    findings = [
        Finding(id="ns.ok", check="ns", severity=Severity.OK, message="contoso.com is delegated to 2 name servers; all answer and agree on serial 7."),
        Finding(id="mx.extra", check="mx", severity=Severity.FAIL,
                message='contoso.com has MX records besides m365\'s: "5 mail.oldhost.example".',
                fix="Remove the leftover records: contoso.com. 3600 IN MX 5 mail.oldhost.example.",
                changes=[remove("contoso.com", "MX", "5 mail.oldhost.example.")]),
        Finding(id="spf.profile-include-missing", check="spf", severity=Severity.FAIL,
                message="The SPF record of contoso.com does not include spf.protection.outlook.com, which the "
                "provider's mail servers need to pass SPF.",
                fix='contoso.com. 3600 IN TXT "v=spf1 ip4:127.0.0.1 include:mail.contoso-relay.example '
                'include:spf.protection.outlook.com -all"',
                changes=[remove("contoso.com", "TXT", '"v=spf1 ip4:127.0.0.1 include:mail.contoso-relay.example -all"'),
                         add("contoso.com", "TXT", '"v=spf1 ip4:127.0.0.1 include:mail.contoso-relay.example '
                             'include:spf.protection.outlook.com -all"')]),
        Finding(id="autodiscover.cname-missing", check="autodiscover", severity=Severity.FAIL,
                message="autodiscover.contoso.com does not exist, so Outlook cannot find the mail settings by itself.",
                fix="Add this record: autodiscover.contoso.com. 3600 IN CNAME autodiscover.outlook.com.",
                changes=[add("autodiscover.contoso.com", "CNAME", "autodiscover.outlook.com.")]),
        Finding(id="dkim.lookup-error", check="dkim", severity=Severity.ERROR,
                message="The DKIM selector selector1._domainkey.contoso.com could not be looked up (SERVFAIL)."),
        Finding(id="dkim.ok", check="dkim", severity=Severity.OK, message="Selector selector2 has a valid 2048-bit RSA key."),
    ]
    return DomainReport(
        domain="contoso.com", profile="m365", profile_reason="recognised from the MX (contoso-com.mail.protection.outlook.com)",
        checked_at=datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc),
        duration_ms=212, summary=DomainReport.summarise(findings), findings=findings, partial=True,
    )


def _render(report, width: int) -> str:
    import io

    from threer.cli.check_dns import render_report
    from threer.cli.output import SafeConsole

    buffer = io.StringIO()
    render_report(SafeConsole(file=buffer, width=width, no_color=True, highlight=False), report)
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


@pytest.mark.parametrize("width", [80, 100, 120])
def test_report_golden(width: int) -> None:
    """Regenerate with THREER_UPDATE_GOLDEN=1 after a deliberate change, and review the diff."""
    import os

    golden = GOLDEN.with_name(f"golden_check_dns_report_{width}.txt")
    text = _render(_sample_report(), width)
    if os.environ.get("THREER_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


@pytest.mark.parametrize("width", [80, 120])
def test_fix_records_are_printed_whole_on_one_line(width: int) -> None:
    """Every record of every fix is one line of the output, whole, at any width (so it can be pasted)."""
    report = _sample_report()
    lines = _render(report, width).splitlines()
    for finding in report.findings:
        for change in finding.changes:
            assert any(line.strip() in (change.line, f"; remove: {change.line}") for line in lines), change.line
    long_txt = max((c.line for f in report.findings for c in f.changes), key=len)
    assert len(long_txt) > 120  # the sample really is wider than both widths


def test_fixes_prints_only_zone_lines() -> None:
    from threer.cli.check_dns import zone_fix_lines

    lines = zone_fix_lines(_sample_report())
    assert all(line.startswith(";") or " IN " in line for line in lines)
    assert "; remove: contoso.com. 3600 IN MX 5 mail.oldhost.example." in lines
    assert any(line.startswith('contoso.com. 3600 IN TXT "v=spf1 ') for line in lines)


def test_fixes_from_the_command(invoke) -> None:
    with DnsTestServer() as server:
        result = invoke("check-dns", "d-spf-broken.example", "--fixes", "--dns-only", "--nameserver", f"127.0.0.1:{server.port}")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert '_dmarc.d-spf-broken.example. 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@d-spf-broken.example; pct=100"' in lines
    assert "; spf.multiple (fail): no zone line to paste; `threer check-dns d-spf-broken.example` says what to do" in lines
    assert all(line.startswith(";") or " IN " in line or not line for line in lines)


def test_fixes_and_json_together_is_a_usage_error(invoke) -> None:
    result = invoke("check-dns", "contoso.com", "--fixes", "--json")
    assert result.exit_code == 2 and "--fixes" in result.stderr


# -- any text as a domain: a domain or a clear error ----------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=4))
def test_any_domain_text_is_normalised_or_refused_clearly(texts: list[str]) -> None:
    from threer.cli.check_dns import collect_domains
    from threer.errors import BadInput

    try:
        names, notes = collect_domains(texts, None)
    except BadInput as exc:
        assert exc.message and "Nothing was checked" in exc.message
    else:
        assert all(name == name.lower() and name.isascii() for name in names)


# -- the progress bar, on a real terminal ---------------------------------------------------------


def test_progress_bar_on_a_terminal_while_the_output_goes_to_a_file(tmp_path: Path) -> None:
    import os
    import shlex
    import sys

    import pexpect

    out = tmp_path / "out.txt"
    with DnsTestServer(delay=0.3) as slow:
        env = dict(os.environ, THREER_HOME=str(tmp_path / "home"), THREER_CONFIG=str(tmp_path / "c.toml"), COLUMNS="100")
        env.pop("NO_COLOR", None)
        command = [sys.executable, "-m", "threer", "check-dns", "b-plain.example", "b-mx-ok.example", "--profile", "none",
                   "--dns-only", "--nameserver", f"127.0.0.1:{slow.port}"]
        child = pexpect.spawn("/bin/sh", ["-c", shlex.join(command) + " > " + shlex.quote(str(out))],
                              env=env, encoding="utf-8", timeout=30, dimensions=(40, 100))
        child.expect("Checking")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus in (0, 1)  # b-mx-ok.example has no SPF: the spf check may fail it
    text = out.read_text(encoding="utf-8")
    assert text.index("b-plain.example") < text.index("b-mx-ok.example")  # the reports, in input order
    assert "Checking" not in text


def test_on_a_terminal_the_reports_show_as_they_come_without_a_bar(tmp_path: Path) -> None:
    import io
    import os
    import sys

    import pexpect

    with DnsTestServer(delay=0.3) as slow:
        env = dict(os.environ, THREER_HOME=str(tmp_path / "home"), THREER_CONFIG=str(tmp_path / "c.toml"), COLUMNS="100")
        env.pop("NO_COLOR", None)
        child = pexpect.spawn(
            sys.executable, ["-m", "threer", "check-dns", "b-plain.example", "b-mx-ok.example", "--profile", "none",
                             "--dns-only", "--nameserver", f"127.0.0.1:{slow.port}"],
            env=env, encoding="utf-8", timeout=30, dimensions=(40, 100),
        )
        child.logfile_read = seen = io.StringIO()
        child.expect("b-plain.example")
        child.expect("b-mx-ok.example")
        child.expect(pexpect.EOF)
        child.close()
    assert child.exitstatus in (0, 1)
    assert "Checking" not in seen.getvalue()


def test_a_record_spelled_out_in_a_fix_is_printed_whole_even_when_it_is_no_change_of_the_zone() -> None:
    """Review 3 #17: a record another domain's owner publishes (DMARC report authorisation) is no
    change of the customer's zone, yet it is a record to paste: on a line of its own, never wrapped."""
    from types import SimpleNamespace

    from rich.console import Console

    from threer.cli.check_dns import print_fix

    record = '_dmarc-host.customer.example._report._dmarc.reports-r-us.example. 3600 IN TXT "v=DMARC1"'
    finding = SimpleNamespace(fix=f"The owner of reports-r-us.example publishes {record} (ask them to).", changes=[])
    console = Console(width=60, record=True, color_system=None)
    print_fix(console, finding, "  ", 60)
    shown = console.export_text().splitlines()
    assert f"    {record}" in shown, shown
    assert shown[0] == "  fix: The owner of reports-r-us.example publishes"
