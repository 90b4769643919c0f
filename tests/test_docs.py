"""The docs are part of the product: every command and option is documented, every --help has an
example, and the README's two set-up commands are the ones CI runs."""

import re
from pathlib import Path

import pytest
import typer

from threer.cli.app import app

ROOT = Path(__file__).resolve().parent.parent
COMMANDS_MD = ROOT / "docs" / "reference" / "commands.md"


def _commands():
    def walk(cmd, path):
        # click's own API: the root group loads its commands on demand, so `.commands` is not all of them
        names = cmd.list_commands(None) if hasattr(cmd, "list_commands") else []
        if names:
            for name in names:
                yield from walk(cmd.get_command(None, name), [*path, name])
        else:
            yield " ".join(path), cmd

    return list(walk(typer.main.get_command(app), []))


def _sections(text: str) -> dict[str, str]:
    """'## threer X Y' heading -> the text up to the next heading of that level."""
    parts = re.split(r"^## (threer [^\n]+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


COMMANDS = _commands()


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_command_and_option_is_in_the_reference(path, cmd):
    sections = _sections(COMMANDS_MD.read_text(encoding="utf-8"))
    assert f"threer {path}" in sections, f"docs/reference/commands.md has no '## threer {path}' section"
    body = sections[f"threer {path}"]
    for param in cmd.params:
        for opt in getattr(param, "opts", []):
            if opt.startswith("--") and opt not in {"--help"}:
                assert opt in body, f"{opt} of 'threer {path}' is not in its section of commands.md"


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=[p for p, _ in COMMANDS])
def test_every_help_has_an_example(invoke, path, cmd):
    result = invoke(*path.split(), "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout, f"'threer {path} --help' shows no example"


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 dev.py triage" in readme and "python3 dev.py test" in readme
    assert "python3 dev.py test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_doc_links_resolve():
    broken = []
    for md in [ROOT / "README.md", *ROOT.glob("docs/**/*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", md.read_text(encoding="utf-8")):
            if "://" in target or target.startswith("mailto:"):
                continue
            if not (md.parent / target).exists():
                broken.append(f"{md.relative_to(ROOT)} -> {target}")
    assert not broken, broken
