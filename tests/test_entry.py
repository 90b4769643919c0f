"""The entry point's own reading of a check-dns command line (threer.cli.entry) against the typer app.

A plain check-dns command line runs without typer; anything the entry point does not read plainly goes
to the typer app. Both ways must give the same output, messages and exit codes: each command line
below runs as a real process both ways, against the loopback DNS server.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support_dnsserver import DnsTestServer
from threer.cli.entry import FLAGS, REPEATED, VALUES, read_check_dns

# the typer app over the same arguments, as the entry point runs it for a command line it does not read
THROUGH_TYPER = "import sys; sys.argv = ['threer', *sys.argv[1:]]; from threer.cli.app import run_app; run_app()"


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def both_ways(*args: str, stdin: str = "") -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)

    return run([sys.executable, "-m", "threer", *args]), run([sys.executable, "-c", THROUGH_TYPER, *args])


def steady(text: str) -> str:
    """The output without what differs from run to run (times)."""
    try:
        document = json.loads(text)
    except ValueError:
        import re

        return re.sub(r"  \d+ ms: ", "  N ms: ", text)
    for domain in document.get("domains", []):
        domain["checked_at"] = domain["duration_ms"] = None
    return json.dumps(document)


def test_the_options_read_are_the_typer_commands_options() -> None:
    from threer.cli.app import load_command

    params = {p.opts[0]: p for p in load_command("check-dns").params if p.param_type_name == "option"}
    assert set(params) == set(FLAGS) | set(VALUES) | set(REPEATED)
    assert {o for o, p in params.items() if p.is_flag} == set(FLAGS)
    assert {o for o, p in params.items() if p.multiple} == set(REPEATED)
    assert all(len(p.opts) == 1 and not p.secondary_opts for p in params.values())  # no other spelling
    keywords = {p.opts[0]: p.name for p in params.values()}
    assert keywords == {**FLAGS, **VALUES, **REPEATED}
    defaults = read_check_dns(["check-dns", "x.example"])
    assert defaults is not None
    for option, param in params.items():
        assert defaults[1][keywords[option]] == param.default, option


@pytest.mark.parametrize("args", [
    [], ["check-dns"], ["--help"], ["check-dns", "-h"], ["check-dns", "a.example", "--help"], ["--version"],
    ["kb", "search", "x"], ["check-dns", "a.example", "--jsn"], ["check-dns", "--", "a.example"],
    ["check-dns", "a.example", "--json=yes"], ["check-dns", "a.example", "--timeout"],
    ["check-dns", "a.example", "--timeout", "1e3"], ["check-dns", "a.example", "--timeout", "-1"],
    ["check-dns", "a.example", "--smtp-port", "0"], ["check-dns", "a.example", "--smtp-port", "70000"],
    ["check-dns", "a.example", "--profile", "m365", "--profile", "none"], ["check-dns", "a.example", "--profile", "--json"],
    ["check-dns", "-x.example"], ["check-dns", "a.example", "--debug"], ["--debug", "--debug", "check-dns", "a.example"],
])
def test_command_lines_left_to_the_typer_app(args: list[str]) -> None:
    assert read_check_dns(args) is None


def test_what_is_read() -> None:
    read = read_check_dns(["--debug", "check-dns", "a.example", "--ip", "127.0.0.9", "--nameserver=127.0.0.1:53",
                           "--from", "-", "b.example", "--timeout=2.5", "--smtp-port", "2525", "--ip=::1", "--json",
                           "--profile=", "-"])
    assert read is not None
    debug, words = read
    assert debug is True
    assert words["domains"] == ["a.example", "b.example", "-"]
    assert words["ips"] == ["127.0.0.9", "::1"] and words["nameserver"] == ["127.0.0.1:53"]
    assert words["from_file"] == "-" and words["timeout"] == 2.5 and words["smtp_port"] == 2525
    assert words["as_json"] is True and words["profile"] == "" and words["dns_only"] is False
    only_from = read_check_dns(["check-dns", "--from", "list.txt"])
    assert only_from is not None and only_from[1]["domains"] is None


@pytest.mark.parametrize("extra", [
    ["b-plain.example", "--json"],
    ["b-plain.example"],
    ["b-plain.example", "--fixes"],
    ["b-mx-none.example", "b-plain.example", "--json", "--timeout=3"],
    ["b-plain.example", "--timeout", "0"],
    ["b-plain.example", "--timeout", "301"],
    ["b-plain.example", "--fixes", "--json"],
    ["not a domain!", "--json"],
    ["b-plain.example", "--ip", "nope"],
    ["b-plain.example", "--dkim-selector", "bad selector"],
    ["b-plain.example", "--profile", "nosuch"],
    ["b-plain.example", "--smtp-port", "0"],
    ["b-plain.example", "--timeout", "soon"],
    ["b-plain.example", "--jsn"],
    ["--from", "-", "--json"],
    ["user@B-Plain.example", "--json"],
])
def test_both_ways_give_the_same_output_and_exit_code(server, extra: list[str]) -> None:
    profile = [] if "--profile" in extra else ["--profile", "none"]
    args = ["check-dns", *extra, *profile, "--dns-only", "--nameserver", f"127.0.0.1:{server.port}"]
    fast, typer = both_ways(*args, stdin="b-plain.example\n# a comment\nb-mx-none.example\n")
    assert (fast.returncode, steady(fast.stdout), fast.stderr) == (typer.returncode, steady(typer.stdout), typer.stderr)
    assert fast.returncode in (0, 1, 2), fast.stderr


def test_debug_shows_the_traceback_of_an_error(server) -> None:
    run = subprocess.run([sys.executable, "-m", "threer", "--debug", "check-dns", "b-plain.example", "--timeout", "0"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith("Error: --timeout must be more than 0")
    assert "Traceback (most recent call last)" in run.stderr and "BadInput" in run.stderr
