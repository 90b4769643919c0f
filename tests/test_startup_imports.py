"""What a run imports: only the module of the command being run, and no heavy library it does not use.

`check-dns --dns-only --json` opens no connection and renders no table, so it must not import httpx,
cryptography or rich; its command line is read by the entry point itself (threer.cli.entry), its
config, profiles, findings and reports are plain classes, and its answers are read by
threer.checks.dnswire, so it imports neither typer (nor click), pydantic nor dnspython either; `kb search --json` is read by the entry
point too and must import none of rich, typer or pydantic; neither imports the other commands'
modules. Each run is a real `python -m threer` process (a module imported by an earlier test in this
process would hide one the run itself imports); the module list is taken as the process exits.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from support_dnsserver import DnsTestServer

# prints the names of the loaded modules as one JSON line on stderr when the run ends
RUN_AND_LIST = (
    "import atexit, json, runpy, sys\n"
    "atexit.register(lambda: sys.stderr.write('\\nMODULES ' + json.dumps(sorted(sys.modules)) + '\\n'))\n"
    "sys.argv = ['threer', *sys.argv[1:]]\n"
    "runpy.run_module('threer', run_name='__main__', alter_sys=True)\n"
)

COMMAND_MODULES = {"threer.cli." + m for m in ("triage", "analyze", "ticket", "report", "check_dns", "sessions", "kb",
                                               "config", "db")}


def loaded_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    run = subprocess.run([sys.executable, "-c", RUN_AND_LIST, *args], capture_output=True, text=True, timeout=120)
    line = next(line for line in run.stderr.splitlines() if line.startswith("MODULES "))
    return run, set(json.loads(line.removeprefix("MODULES ")))


def families(modules: set[str], *names: str) -> list[str]:
    return sorted(name for name in names if any(m == name or m.startswith(name + ".") for m in modules))


@pytest.fixture(scope="module")
def server():
    with DnsTestServer() as s:
        yield s


def test_check_dns_dns_only_json_imports_no_rich_httpx_cryptography_typer_pydantic_or_dns(server) -> None:
    run, modules = loaded_by("check-dns", "b-plain.example", "--profile", "none", "--dns-only", "--json",
                             "--nameserver", f"127.0.0.1:{server.port}")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["domains"][0]["domain"] == "b-plain.example"
    assert families(modules, "rich", "httpx", "cryptography", "questionary", "prompt_toolkit", "typer", "click",
                    "pydantic", "dns") == []
    assert modules & COMMAND_MODULES == {"threer.cli.check_dns"}


def test_check_dns_with_a_plain_config_file_imports_no_pydantic(server, threer_env) -> None:
    # the file `threer config init` writes is read without pydantic too (threer.config_plain)
    from threer.config import Config, save_config

    save_config(Config.model_validate({"partner": {"domain": "partner.example", "support_address": "help@partner.example"},
                                       "default_profile": "none"}), threer_env.config_path)
    run, modules = loaded_by("check-dns", "b-plain.example", "--dns-only", "--json", "--nameserver",
                             f"127.0.0.1:{server.port}")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["domains"][0]["profile"] is None  # the config's default_profile: none
    assert families(modules, "pydantic", "typer", "dns") == []


def test_check_dns_table_still_renders_with_rich(server) -> None:
    # the same run without --json draws its table with rich: the module list above is not empty by accident
    run, modules = loaded_by("check-dns", "b-plain.example", "--profile", "none", "--dns-only",
                             "--nameserver", f"127.0.0.1:{server.port}")
    assert run.returncode == 0, run.stderr
    assert "[mx.ok]" in run.stdout
    assert families(modules, "rich", "httpx") == ["rich"]


def test_kb_search_json_imports_no_rich_typer_or_pydantic(threer_env) -> None:
    from threer.config import Config, save_config

    loaded_by("kb", "search", "warm up")  # the first search indexes the bundled articles: not the case measured
    run, modules = loaded_by("kb", "search", "outlook", "password", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"]
    assert families(modules, "rich", "httpx", "cryptography", "dns", "questionary", "typer", "click", "pydantic") == []
    assert modules & COMMAND_MODULES == set() and "threer.cli.kb_search" in modules
    # a config file as `threer config init` writes it is read without pydantic too
    save_config(Config.model_validate({"partner": {"domain": "partner.example", "support_address": "help@partner.example"},
                                       "kb_folders": []}), threer_env.config_path)
    run, with_config = loaded_by("kb", "search", "outlook", "password", "--json")
    assert run.returncode == 0, run.stderr
    assert families(with_config, "typer", "pydantic") == []
    # Snowball's English stemmer alone, not the package that imports all of its languages
    assert {m for m in modules if m.startswith("snowballstemmer")} == {
        "snowballstemmer.english_stemmer", "snowballstemmer.basestemmer", "snowballstemmer.among"}


def test_help_still_loads_and_lists_every_command() -> None:
    run, modules = loaded_by("--help")
    assert run.returncode == 0, run.stderr
    for name in ("triage", "analyze", "ticket", "report", "check-dns", "sessions", "kb", "config", "db"):
        assert f"\n  {name} " in run.stdout, name
    assert COMMAND_MODULES <= modules  # --help reads each command's one-line help from its module
