"""Fixtures every test may use: an isolated THREER_HOME and config, and the CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from threer.env import Environment


@pytest.fixture(autouse=True)
def threer_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Environment:
    """Every test gets its own data home and config file; nothing touches the real ones."""
    home = tmp_path / "home"
    config = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("THREER_HOME", str(home))
    monkeypatch.setenv("THREER_CONFIG", str(config))
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.delenv("THREER_DEBUG", raising=False)
    return Environment(home=home, config_path=config)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def invoke(runner: CliRunner):
    """Run `threer ARGS...` in process and return the result (stdout and stderr kept apart)."""
    from threer.cli.app import app

    def _invoke(*args: str, input: str | None = None, env: dict[str, str] | None = None):
        return runner.invoke(app, list(args), input=input, env=env, catch_exceptions=False)

    return _invoke
