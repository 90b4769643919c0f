"""The edges of the program, injected: where data lives, the config file, and the clock.

The CLI builds one `Environment` from the process environment; tests build their own.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import platformdirs

APP = "threer"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _os_user() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return None


def _host() -> str | None:
    import socket

    return socket.gethostname() or None


@dataclass
class Environment:
    home: Path  # THREER_HOME: the database lives here
    config_path: Path  # THREER_CONFIG
    clock: Callable[[], datetime] = field(default=_now)
    user: str | None = field(default_factory=_os_user)  # recorded on new sessions when partner.technician is unset
    host: str | None = field(default_factory=_host)
    database_url: str | None = None  # THREER_DATABASE_URL: the team database, given at run time

    @property
    def db_path(self) -> Path:
        return self.home / "threer.db"

    @classmethod
    def from_os(cls, environ: dict[str, str] | None = None) -> "Environment":
        environ = dict(os.environ if environ is None else environ)
        home = environ.get("THREER_HOME") or platformdirs.user_data_dir(APP, appauthor=False)
        config = environ.get("THREER_CONFIG") or str(Path(platformdirs.user_config_dir(APP, appauthor=False)) / "config.toml")
        return cls(home=Path(home).expanduser(), config_path=Path(config).expanduser(),
                   database_url=environ.get("THREER_DATABASE_URL") or None)
