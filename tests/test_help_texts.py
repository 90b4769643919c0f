"""`--help` reads as what to type: no framework types (`<str>`, `<list[str]>`, `<float range>`), no
braces or doubled brackets round arguments, examples whole at 80 columns."""

from __future__ import annotations

import re

import pytest
import typer

from threer.cli.app import app


def _paths() -> list[str]:
    def walk(cmd, path):
        # click's own API: the root group loads its commands on demand, so `.commands` is not all of them
        names = cmd.list_commands(None) if hasattr(cmd, "list_commands") else []
        if names:
            yield " ".join(path)
            for name in names:
                yield from walk(cmd.get_command(None, name), [*path, name])
        else:
            yield " ".join(path)

    return list(walk(typer.main.get_command(app), []))


PATHS = _paths()
TYPE_WORD = re.compile(r"<(?:str|int|float|bool|path|file|list\[[^\]]*\]|[a-z]+ range)[^>]*>")


@pytest.mark.parametrize("path", PATHS, ids=[p or "threer" for p in PATHS])
def test_help_shows_what_to_type(invoke, path: str) -> None:
    result = invoke(*path.split(), "--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    out = result.stdout
    assert not TYPE_WORD.search(out), TYPE_WORD.search(out)
    usage = out.splitlines()[0]
    assert "{" not in usage and "[[" not in usage, usage
    assert "Example" in out
    for line in out.splitlines():
        # an example or address is never broken inside a word (the hyphen of "control-panel")
        if line.strip().startswith("threer "):
            assert not line.rstrip().endswith("-"), line
        assert "https://" not in line or line.rstrip().endswith(tuple("abcdefghijklmnopqrstuvwxyz/0123456789")) \
            or " " in line.split("https://", 1)[1], line


def test_the_top_level_help_has_examples(invoke) -> None:
    out = invoke("--help").stdout
    assert "Examples:" in out and "threer triage --customer-domain contoso.com" in out


def test_config_init_example_is_whole(invoke) -> None:
    out = invoke("config", "init", "--help", env={"COLUMNS": "80"}).stdout
    assert "    threer config init --partner-domain partner.example \\\n" in out
    assert "      --control-panel-url none --support-address escalations@provider.example\n" in out


def test_kb_import_example_url_is_one_piece(invoke) -> None:
    out = invoke("kb", "import", "--help", env={"COLUMNS": "80"}).stdout
    assert "    threer kb import https://support.example.net/articles/outlook-password-prompt\n" in out


def test_usage_of_arguments(invoke) -> None:
    assert invoke("sessions", "show", "--help").stdout.startswith("Usage: threer sessions show [OPTIONS] ID\n")
    assert invoke("kb", "index", "--help").stdout.startswith("Usage: threer kb index [OPTIONS] [PATH]...\n")
    assert "--dns-timeout S " in invoke("triage", "--help", env={"COLUMNS": "100"}).stdout
