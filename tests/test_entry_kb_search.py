"""The entry point's own reading of a `kb search` command line (threer.cli.entry) against the typer app.

A plain `kb search` runs without typer and pydantic; anything the entry point does not read plainly goes
to the typer app. Both ways must print the same results, messages and exit codes: each command line below
runs as a real process both ways, on one index of the sample articles and two articles of a folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from threer.cli.entry import SEARCH_FLAGS, SEARCH_LIMIT, SEARCH_VALUES, read_kb_search

THROUGH_TYPER = "import sys; sys.argv = ['threer', *sys.argv[1:]]; from threer.cli.app import run_app; run_app()"
# what a run imported of the frameworks the plain path leaves out, said on stderr as it ends
IMPORTED = ("import atexit, sys; atexit.register(lambda: print('imported:', sorted({m.split('.')[0] for m in "
            "sys.modules if m.split('.')[0] in ('typer', 'pydantic', 'click')}), file=sys.stderr)); "
            "sys.argv = ['threer', *sys.argv[1:]]; from threer.cli.entry import main; main()")


def both_ways(*args: str) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, capture_output=True, text=True, timeout=120)

    return run([sys.executable, "-m", "threer", *args]), run([sys.executable, "-c", THROUGH_TYPER, *args])


@pytest.fixture
def indexed(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "vpn.md").write_text("---\nid: own-vpn\ntitle: Mail stops on the office VPN\ntags: [vpn]\n---\n"
                                   "When the VPN connects, Outlook stops sending: the VPN blocks port 587.\n",
                                   encoding="utf-8")
    (folder / "odd.md").write_text("# Printer \x1b]0;owned\x07 error\n\nThe printer says \x1b[2J error 0x800ccc0e.\n",
                                   encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "threer", "kb", "index", str(folder)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    return folder


def test_the_options_read_are_the_typer_commands_options() -> None:
    from threer.cli.app import load_command

    command = load_command("kb").commands["search"]
    options = {o: p for p in command.params if p.param_type_name == "option" for o in (*p.opts, *p.secondary_opts)}
    assert set(options) == set(SEARCH_FLAGS) | set(SEARCH_VALUES)
    assert {o for o, p in options.items() if p.is_flag} == set(SEARCH_FLAGS)
    assert {o: p.name for o, p in options.items()} == {**SEARCH_FLAGS, **SEARCH_VALUES}
    limit = options["--limit"]
    assert (limit.min, limit.max) == SEARCH_LIMIT and limit.type_descriptor.annotation is int
    read = read_kb_search(["kb", "search", "x"])
    assert read is not None
    for option, param in options.items():
        assert read[1][param.name] == param.default, option
    (query,) = [p for p in command.params if p.param_type_name == "argument"]
    assert query.name == "query" and query.nargs == -1 and query.required


@pytest.mark.parametrize("args", [
    [], ["kb"], ["kb", "search"], ["kb", "search", "--json"], ["kb", "search", "x", "--help"], ["kb", "search", "-h"],
    ["kb", "show", "x"], ["kb", "search", "x", "--jsn"], ["kb", "search", "--", "x"], ["kb", "search", "x", "--json=1"],
    ["kb", "search", "x", "--limit"], ["kb", "search", "x", "--limit", "0"], ["kb", "search", "x", "--limit", "201"],
    ["kb", "search", "x", "--limit", "1e2"], ["kb", "search", "x", "--limit", "-3"], ["kb", "search", "x", "-n5"],
    ["kb", "search", "x", "-n=5"], ["kb", "search", "x", "--limit", "3", "-n", "4"],
    ["kb", "search", "x", "--source", "--json"], ["kb", "search", "x", "--source", "kb", "--source", "case"],
    ["kb", "search", "-x"], ["kb", "search", "x", "--debug"], ["--debug", "--debug", "kb", "search", "x"],
    ["kb", "search", "x", "-j"], ["--version", "kb", "search", "x"],
])
def test_command_lines_left_to_the_typer_app(args: list[str]) -> None:
    assert read_kb_search(args) is None


def test_what_is_read() -> None:
    read = read_kb_search(["--debug", "kb", "search", "outlook", "--limit=3", "keeps", "--json", "-", "asking",
                           "--source", "case"])
    assert read == (True, {"query": ["outlook", "keeps", "-", "asking"], "as_json": True, "limit": 3,
                           "source": "case"})
    assert read_kb_search(["kb", "search", "550 5.7.1", "-n", "200", "--source="]) == (
        False, {"query": ["550 5.7.1"], "as_json": False, "limit": 200, "source": ""})


@pytest.mark.parametrize("args", [
    ["outlook keeps asking for password", "--json"],
    ["outlook", "keeps", "asking", "for", "password"],
    ["vpn", "blocks", "sending", "--json", "-n", "3"],
    ["outlok", "pasword", "--limit=2"],
    ["printer", "error", "0x800CCC0E"],
    ["printer", "error", "--json"],
    ["hi", "there", "can", "you", "help"],
    ["zzqx", "--json"],
    ["   "],
    ["x", "--source", "web"],
    ["vpn", "--source", "case", "--json"],
    ["vpn", "--source=kb", "--json"],
    ["outlook", "--limit", "0"],
    ["outlook", "--jsn"],
    ["vpn", "-", "--json"],
    ["caf\udcff password", "--json"],
    ["\x1b]0;owned\x07 outlook"],
    ["vpn", "--json", "blocks", "--limit", "200"],
])
def test_both_ways_give_the_same_output_and_exit_code(indexed: Path, args: list[str]) -> None:
    fast, typer = both_ways("kb", "search", *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr)
    assert fast.returncode in (0, 2), fast.stderr
    assert "\x1b" not in fast.stdout + fast.stderr  # the article's escape sequences are shown, never sent
    if "--json" in args and fast.returncode == 0:
        json.loads(fast.stdout)


def test_bytes_that_are_not_utf8_are_left_out_with_a_warning_both_ways(indexed: Path) -> None:
    # a terminal set to Latin-1 sends "café" as caf\xe9: Python keeps the byte as a lone surrogate,
    # which is no character; the query becomes "caf\ufffd vpn" and its JSON has no lone surrogate
    for run in both_ways("kb", "search", "caf\udce9", "vpn", "--json"):
        assert run.returncode == 0, run.stderr
        assert "bytes that are not UTF-8" in run.stderr and "left out of the search" in run.stderr
        assert "\\udc" not in run.stdout
        document = json.loads(run.stdout)
        assert document["query"] == "caf\ufffd vpn"
        assert document["results"][0]["id"] == "own-vpn"


def test_the_plain_path_finds_the_article_without_typer_or_pydantic(indexed: Path) -> None:
    run = subprocess.run([sys.executable, "-c", IMPORTED, "kb", "search", "vpn", "blocks", "port", "587", "--json"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["results"][0]["id"] == "own-vpn"
    assert "imported: []" in run.stderr
    typer_run = subprocess.run([sys.executable, "-c", IMPORTED, "kb", "search", "vpn", "--help"],
                               capture_output=True, text=True, timeout=120)
    assert typer_run.returncode == 0 and "Usage: threer kb search" in typer_run.stdout
    assert "'typer'" in typer_run.stderr  # the help is the typer app's: the check above can see an import


def test_a_bad_config_is_refused_in_the_same_words_both_ways(indexed: Path, threer_env) -> None:
    threer_env.config_path.parent.mkdir(parents=True, exist_ok=True)
    threer_env.config_path.write_text('database_url = 5\nkb_folders = "not a list"\n', encoding="utf-8")
    fast, typer = both_ways("kb", "search", "vpn", "--json")
    assert (fast.returncode, fast.stdout, fast.stderr) == (typer.returncode, typer.stdout, typer.stderr)
    assert fast.returncode == 2 and fast.stdout == "" and "config" in fast.stderr.lower()


def test_debug_shows_the_traceback_of_an_error(indexed: Path) -> None:
    run = subprocess.run([sys.executable, "-m", "threer", "--debug", "kb", "search", "x", "--source", "web"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert run.stderr.startswith("Error: --source takes kb or case, not 'web'.")
    assert "Traceback (most recent call last)" in run.stderr and "BadInput" in run.stderr
