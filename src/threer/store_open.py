"""Choosing the store: the team's PostgreSQL database when a URL names one, else the SQLite file.

The URL comes from THREER_DATABASE_URL (given at run time; it may hold a password) or the config's
`database_url` (which must not: a password there is refused, use PGPASSWORD or ~/.pgpass).
"""

from __future__ import annotations

from typing import Any


def database_url(env: Any, config: Any = None) -> tuple[str | None, str]:
    """The PostgreSQL URL in use and where it came from ("environment" | "config"); (None, "") for SQLite."""
    from threer.store_pg import check_url

    if getattr(env, "database_url", None):
        return check_url(env.database_url, from_config=False), "environment"
    if config is None:
        from threer.config import load_config

        config = load_config(env.config_path)
    url = getattr(config, "database_url", None)
    if url:
        return check_url(url, from_config=True), "config"
    return None, ""


def open_store(env: Any, config: Any = None) -> Any:
    """A SessionStore (threer.store_api): PostgresStore for a database URL, else the SQLite Store."""
    url, _ = database_url(env, config)
    if url:
        from threer.store_pg import PostgresStore

        return PostgresStore(url, local_home=env.home)
    from threer.store import Store

    return Store(env.db_path)


def store_exists(env: Any, config: Any = None) -> bool:
    """Whether there is anything to read: a team database always counts; a SQLite file only once made."""
    url, _ = database_url(env, config)
    return bool(url) or env.db_path.exists()
