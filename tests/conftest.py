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
    for name in ("THREER_DATABASE_URL", "PGPASSWORD", "PGUSER", "PGHOST", "PGPORT", "PGDATABASE", "PGSERVICE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "no-pgpass"))  # never the real ~/.pgpass
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


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL cluster for this test process (each xdist worker gets its own).

    Skipped where PostgreSQL is not installed, unless THREER_REQUIRE_POSTGRES=1 (.ci/run): then it fails.
    """
    import os

    from support_postgres import PostgresCluster, PostgresUnavailable

    try:
        cluster = PostgresCluster.start()
    except PostgresUnavailable as exc:
        if os.environ.get("THREER_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"THREER_REQUIRE_POSTGRES=1 but PostgreSQL could not start: {exc}", pytrace=False)
        pytest.skip(str(exc))
    yield cluster
    cluster.stop()


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """The URL of a fresh, empty database on the test cluster (dropped after the test)."""
    name = pg_cluster.new_database()
    yield pg_cluster.url(name)
    pg_cluster.drop_database(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request, threer_env: Environment):
    """The store on each backend in turn, for contract tests."""
    from threer.store import Store

    if request.param == "sqlite":
        store = Store(threer_env.db_path)
    else:
        from threer.store_pg import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_url"), local_home=threer_env.home)
    yield store
    store.close()
