"""The SQLite file `threer db migrate` copies from, opened for reading only.

The copy never writes to it: the file is opened read-only (SQLite's mode=ro) and is refused, before
anything is read from it, when it is not SQLite at all, when it is some other program's database, or
when its schema is not the one this threer writes.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from pathlib import Path

from threer.errors import BadInput
from threer.store import SCHEMA_VERSION, SQLITE_HEADER

# the tables the copy reads; a file without them is not threer's
TABLES = ("sessions", "answers", "answer_history", "drafts", "kb_documents", "check_history")

_GIVE = "Give threer's own SQLite file (threer.db in THREER_HOME) with --from FILE"


class SourceFile:
    """A read-only connection to a threer SQLite database (`conn`, rows as sqlite3.Row)."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self.conn = conn

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "SourceFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_source(path: Path) -> SourceFile:
    """Open `path` to copy from, read-only; BadInput naming the file when it cannot be the source."""
    if not path.is_file():
        if path.exists():
            raise BadInput(f"{path} is a folder, not a threer database. {_GIVE}.")
        raise BadInput(f"There is no threer database at {path} to copy. {_GIVE}.")
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise BadInput(f"Cannot read {path} ({exc.strerror}). Check its permissions, or {_GIVE[0].lower()}"
                       f"{_GIVE[1:]}.") from None
    if head != SQLITE_HEADER:
        raise BadInput(f"{path} is not a threer database (it is not an SQLite file at all); nothing was copied "
                       f"and it has not been changed. {_GIVE}.")
    conn = _connect(path)
    try:
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise BadInput(f"{path} cannot be read as a database ({exc}); it may be damaged. Nothing was copied "
                           f"and it has not been changed. {_GIVE}.") from None
        lacking = [t for t in TABLES if t not in tables]
        if lacking:
            raise BadInput(f"{path} is an SQLite file but not a threer database (it has no {', '.join(lacking)} "
                           f"table{'s' if len(lacking) > 1 else ''}); nothing was copied and it has not been "
                           f"changed. {_GIVE}.")
        if version > SCHEMA_VERSION:
            raise BadInput(f"{path} was written by a newer threer (schema {version}; this one knows "
                           f"{SCHEMA_VERSION}). Upgrade threer and run db migrate again; the file has not been "
                           "changed.")
        if version < SCHEMA_VERSION:
            raise BadInput(f"{path} is a threer database of an older version (schema {version}; this threer "
                           f"copies schema {SCHEMA_VERSION}). Open it once with this threer first, so it is brought "
                           f"up to date (with THREER_HOME set to its folder, the file named threer.db there: "
                           f"threer db status), then run db migrate --from FILE again. It has not been changed.")
    except BaseException:
        conn.close()
        raise
    return SourceFile(path, conn)


def _connect(path: Path) -> sqlite3.Connection:
    target = "file:" + urllib.parse.quote(str(path.resolve())) + "?mode=ro"
    conn = sqlite3.connect(target, uri=True, timeout=10, isolation_level=None, check_same_thread=False)
    try:
        conn.execute("PRAGMA user_version").fetchone()
    except sqlite3.OperationalError:
        # a WAL database whose -shm this process cannot create (a folder it may not write): read the file as it is
        conn.close()
        conn = sqlite3.connect(target + "&immutable=1", uri=True, timeout=10, isolation_level=None,
                               check_same_thread=False)
    except sqlite3.DatabaseError:
        pass  # not a database after all: said by the caller with the file's name
    conn.row_factory = sqlite3.Row
    return conn
