"""A throwaway PostgreSQL cluster for the tests: initdb + pg_ctl from the system's PostgreSQL.

`PostgresCluster.start()` makes a cluster in a temporary folder, listening on a free
loopback port (and a Unix socket in the same folder), with password (SCRAM) authentication
for TCP and a superuser whose password is known only to the tests. Run as root, the cluster
belongs to an unprivileged user (PostgreSQL refuses to run as root): `THREER_PG_USER`, else
`nobody`. `stop()` shuts it down and removes the folder.

Where PostgreSQL is missing the tests that need it are skipped with one line saying how to
install it, unless `THREER_REQUIRE_POSTGRES=1` (set by `.ci/run`): then they fail.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

INSTALL_HINT = (
    "PostgreSQL is not installed: these tests need initdb and pg_ctl "
    "(Debian/Ubuntu: apt-get install postgresql; macOS: brew install postgresql@15)."
)


def find_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, newest version first; None if there is none."""
    candidates: list[str] = []
    if os.environ.get("THREER_PG_BINDIR"):
        candidates.append(os.environ["THREER_PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(os.path.realpath(on_path)).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_key, reverse=True)
    candidates += sorted(glob.glob("/usr/pgsql-*/bin"), key=_version_key, reverse=True)
    candidates += ["/usr/local/bin", "/usr/local/pgsql/bin", "/opt/homebrew/bin", "/usr/bin"]
    for folder in candidates:
        path = Path(folder)
        if all((path / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def _version_key(path: str) -> tuple[int, ...]:
    digits = "".join(c if c.isdigit() else " " for c in path).split()
    return tuple(int(d) for d in digits)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresUnavailable(Exception):
    pass


@dataclass
class PostgresCluster:
    bindir: Path
    root: Path
    port: int
    password: str
    superuser: str = "threer_admin"
    run_as: str | None = None  # the unprivileged owner when the tests run as root
    _counter: int = field(default=0)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @classmethod
    def start(cls) -> "PostgresCluster":
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(INSTALL_HINT)
        run_as = None
        if os.geteuid() == 0:
            run_as = os.environ.get("THREER_PG_USER", "nobody")
            try:
                pwd.getpwnam(run_as)
            except KeyError:
                raise PostgresUnavailable(f"The user {run_as!r} to run PostgreSQL as does not exist.") from None
        root = Path(tempfile.mkdtemp(prefix="threer-pg-"))
        cluster = cls(bindir=bindir, root=root, port=_free_port(), password=secrets.token_urlsafe(16), run_as=run_as)
        try:
            cluster._init()
            cluster._run_server()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def _chown(self, path: Path) -> None:
        if self.run_as:
            entry = pwd.getpwnam(self.run_as)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        # never as root: PostgreSQL refuses it, and a test cluster needs no privilege
        return subprocess.run(args, user=self.run_as, cwd=self.root, capture_output=True, text=True,
                              env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}, **kwargs)

    def _init(self) -> None:
        os.chmod(self.root, 0o755)
        self._chown(self.root)
        pwfile = self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        os.chmod(pwfile, 0o600)
        self._chown(pwfile)
        done = self._run([str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", self.superuser,
                          f"--pwfile={pwfile}", "--auth-local=scram-sha-256", "--auth-host=scram-sha-256",
                          "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"], timeout=120)
        pwfile.unlink()
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(self.port),
            "unix_socket_directories": f"'{self.root}'",
            "fsync": "off",  # a throwaway cluster: durability costs time and buys nothing
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "shared_buffers": "16MB",
            "max_connections": "60",
            "log_min_messages": "warning",
        }
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _run_server(self) -> None:
        started = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.root / "log"),
                             "-w", "-t", "60", "start"], timeout=90)
        if started.returncode != 0:
            log = (self.root / "log").read_text(errors="replace") if (self.root / "log").exists() else ""
            raise PostgresUnavailable(f"PostgreSQL did not start: {(started.stderr + log).strip()[-800:]}")

    def stop_server(self) -> None:
        """Stop the server (the cluster stays, `start_server` brings it back on the same port)."""
        # fast, not immediate: with fsync and synchronous_commit off, only a clean shutdown keeps every commit
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], timeout=60)

    def start_server(self) -> None:
        for attempt in range(20):
            try:
                self._run_server()
                return
            except PostgresUnavailable:
                if attempt == 19:
                    raise
                time.sleep(0.25)

    def stop(self) -> None:
        if self.data_dir.exists():
            self.stop_server()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- URLs and databases --------------------------------------------------------------

    def url(self, database: str = "postgres", *, user: str | None = None, password: str | None = None) -> str:
        user = user or self.superuser
        password = self.password if password is None and user == self.superuser else password
        auth = quote(user, safe="") + (":" + quote(password, safe="") if password else "")
        return f"postgresql://{auth}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str, *args: object, database: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(database), autocommit=True, connect_timeout=10) as conn:
            cur = conn.execute(sql, args or None)
            return cur.fetchall() if cur.description else []

    def new_database(self, prefix: str = "t") -> str:
        """A fresh empty database owned by the superuser; its name."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}_{secrets.token_hex(3)}"
        self.admin(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\'')
        return name

    def drop_database(self, name: str) -> None:
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
