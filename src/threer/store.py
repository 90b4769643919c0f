"""The one SQLite database: sessions and their answers, past cases, and the KB index.

Every write is its own transaction (WAL), so an answer is on disk the moment
`record_answer` returns. The file is created readable by its owner only. A corrupt
database, or one written by a newer threer, is reported and never touched.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from threer.errors import NotFound, StoreError

SQLITE_HEADER = b"SQLite format 3\x00"

_CORE_SCHEMA = """
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    customer_name   TEXT,
    customer_domain TEXT,
    status          TEXT NOT NULL DEFAULT 'open',   -- open | resolved | escalated
    closed_at       TEXT
);
CREATE INDEX sessions_updated ON sessions(updated_at);
CREATE TABLE answers (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,      -- JSON of the step's answer model
    recorded_at TEXT NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (session_id, step_id)
);
-- fields typed so far in a step not yet recorded (a form interrupted half-way): prefilled on resume
CREATE TABLE drafts (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,
    saved_at    TEXT NOT NULL,
    PRIMARY KEY (session_id, step_id)
);
-- every earlier value of a changed answer, so "change an answer" never loses one
CREATE TABLE answer_history (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    revision    INTEGER NOT NULL
);
"""


def _kb_schema() -> str:
    from threer.kb.schema import SCHEMA_SQL

    return SCHEMA_SQL


# how a triage session checks DNS (nameservers, profile, timeout, --dns-only), kept so a resume uses it
_SESSION_SETTINGS = """
ALTER TABLE sessions ADD COLUMN settings TEXT;
"""

# issue 13: who ran a session and where (for `threer report --by technician`), and when its ticket reached
# the provider's desk (`threer ticket ID --send`), with the Message-ID the desk replies to
_SESSION_ORIGIN_AND_SENT = """
ALTER TABLE sessions ADD COLUMN technician TEXT;
ALTER TABLE sessions ADD COLUMN host TEXT;
ALTER TABLE sessions ADD COLUMN ticket_sent_at TEXT;
ALTER TABLE sessions ADD COLUMN ticket_message_id TEXT;
"""


# issue 7: what the KB learns from outcomes, and the articles' words for typo correction
def _kb_learning_schema() -> str:
    from threer.kb.schema import LEARNING_SQL

    return LEARNING_SQL


# issue 11: every check-dns run, per domain (threer.checks.history)
def _check_history_schema() -> str:
    from threer.checks.history import SCHEMA_SQL

    return SCHEMA_SQL


# Migration N (1-based) brings the database to user_version N.
MIGRATIONS: list[Any] = [
    _CORE_SCHEMA, _kb_schema, _SESSION_SETTINGS, _SESSION_ORIGIN_AND_SENT, _kb_learning_schema, _check_history_schema,
]
SCHEMA_VERSION = len(MIGRATIONS)

_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read over the phone


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A connection to threer's database, migrated to the current schema."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._check_file()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the data folder {self.path.parent} ({exc.strerror}). "
                "Set THREER_HOME to a folder you can write."
            ) from None
        if not self.path.exists():
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as exc:
                raise StoreError(
                    f"Cannot create the database {self.path} ({exc.strerror}). Set THREER_HOME to a folder you can write."
                ) from None
        try:
            self.conn = sqlite3.connect(self.path, timeout=10, isolation_level=None, check_same_thread=False)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA busy_timeout = 10000")
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self.conn.close()
                raise StoreError(
                    f"The database {self.path} was written by a newer threer (schema {version}, this one knows "
                    f"{SCHEMA_VERSION}). Upgrade threer; the file has not been changed."
                )
            self._set_wal()
            self._migrate(version)
        except sqlite3.DatabaseError as exc:
            state = "is damaged" if "malformed" in str(exc) else "cannot be read"  # a schema past page 1 is read here
            raise StoreError(
                f"The database {self.path} {state} ({exc}). It has not been changed; move it aside "
                "(or set THREER_HOME elsewhere) and run again."
            ) from None
        except sqlite3.OperationalError as exc:  # pragma: no cover - subsumed above, kept for clarity
            raise StoreError(f"Cannot open the database {self.path} ({exc}).") from None
        try:
            os.chmod(self.path, 0o600)
        except OSError:
            pass

    def _set_wal(self) -> None:
        # switching a new file to WAL needs a moment of exclusive access; another process opening it at
        # the same instant makes that fail with "locked" rather than wait on busy_timeout
        for attempt in range(50):
            try:
                self.conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 49:
                    raise
                time.sleep(0.02 * (attempt + 1))

    def _check_file(self) -> None:
        """Refuse a file that is not SQLite before sqlite3 gets a chance to write to it."""
        if not self.path.exists():
            return
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not threer's database. Set THREER_HOME to another folder.")
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"Cannot read the database {self.path} ({exc.strerror}). Check its permissions.") from None
        if head and head != SQLITE_HEADER:
            raise StoreError(
                f"The database {self.path} is corrupt or not a threer database. It has not been changed; "
                "move it aside (or set THREER_HOME elsewhere) and run again."
            )

    def _migrate(self, version: int) -> None:
        if version >= SCHEMA_VERSION:
            return
        # one transaction for all steps; the version is read again inside it, because another
        # process may have migrated the file between our first read and taking the write lock
        with self.transaction() as cur:
            version = cur.execute("PRAGMA user_version").fetchone()[0]
            for number in range(version + 1, SCHEMA_VERSION + 1):
                script = MIGRATIONS[number - 1]
                sql = script() if callable(script) else script
                # executescript would COMMIT on its own; run statement by statement inside ours
                for statement in _split_sql(sql):
                    cur.execute(statement)
                cur.execute(f"PRAGMA user_version = {number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            cur.execute("COMMIT")
        except BaseException:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise
        finally:
            cur.close()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions ---------------------------------------------------------------------

    def create_session(self, now: datetime, *, technician: str | None = None, host: str | None = None) -> str:
        for _ in range(20):
            session_id = now.strftime("%Y%m%d") + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))
            try:
                with self.transaction() as cur:
                    cur.execute(
                        "INSERT INTO sessions (id, created_at, updated_at, technician, host) VALUES (?, ?, ?, ?, ?)",
                        (session_id, _iso(now), _iso(now), technician, host),
                    )
                return session_id
            except sqlite3.IntegrityError:
                continue
        raise StoreError("Could not allocate a new session id; try again.")  # pragma: no cover

    def get_session_row(self, session_id: str) -> sqlite3.Row:
        row = self.conn.execute("SELECT * FROM sessions WHERE id = ?", (normalise_session_id(session_id),)).fetchone()
        if row is None:
            raise NotFound(f"No triage session {session_id!r}. Run `threer sessions list` to see the ids.")
        return row

    def list_sessions(self, *, status: str | None = None, limit: int | None = None) -> list[sqlite3.Row]:
        sql = "SELECT * FROM sessions"
        args: list[Any] = []
        if status:
            sql += " WHERE status = ?"
            args.append(status)
        sql += " ORDER BY updated_at DESC, id DESC"
        if limit:
            sql += " LIMIT ?"
            args.append(limit)
        return list(self.conn.execute(sql, args))

    def answers(self, session_id: str) -> dict[str, tuple[dict[str, Any], str, int]]:
        """step id -> (answer data, recorded_at, revision)."""
        rows = self.conn.execute(
            "SELECT step_id, data, recorded_at, revision FROM answers WHERE session_id = ?",
            (normalise_session_id(session_id),),
        )
        return {r["step_id"]: (json.loads(r["data"]), r["recorded_at"], r["revision"]) for r in rows}

    def record_answer(
        self, session_id: str, step_id: str, data: dict[str, Any], now: datetime, *, header: dict[str, Any] | None = None
    ) -> None:
        """Write one answer (and any session columns it sets) in one committed transaction."""
        session_id = normalise_session_id(session_id)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        with self.transaction() as cur:
            old = cur.execute(
                "SELECT data, recorded_at, revision FROM answers WHERE session_id = ? AND step_id = ?",
                (session_id, step_id),
            ).fetchone()
            revision = 1
            if old is not None:
                revision = old["revision"] + 1
                cur.execute(
                    "INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision) VALUES (?,?,?,?,?)",
                    (session_id, step_id, old["data"], old["recorded_at"], old["revision"]),
                )
            cur.execute(
                "INSERT INTO answers (session_id, step_id, data, recorded_at, revision) VALUES (?,?,?,?,?) "
                "ON CONFLICT (session_id, step_id) DO UPDATE SET data = excluded.data, "
                "recorded_at = excluded.recorded_at, revision = excluded.revision",
                (session_id, step_id, payload, _iso(now), revision),
            )
            cur.execute("DELETE FROM drafts WHERE session_id = ? AND step_id = ?", (session_id, step_id))
            self._update_session(cur, session_id, now, header or {})

    def save_draft(self, session_id: str, step_id: str, data: dict[str, Any], now: datetime) -> None:
        """Keep the fields typed so far in a step, so an interrupted form is not typed again."""
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        with self.transaction() as cur:
            cur.execute(
                "INSERT INTO drafts (session_id, step_id, data, saved_at) VALUES (?,?,?,?) "
                "ON CONFLICT (session_id, step_id) DO UPDATE SET data = excluded.data, saved_at = excluded.saved_at",
                (normalise_session_id(session_id), step_id, payload, _iso(now)),
            )

    def save_settings(self, session_id: str, settings: dict[str, Any], now: datetime) -> None:
        """Keep how the session runs its checks, for a later resume."""
        with self.transaction() as cur:
            cur.execute("UPDATE sessions SET settings = ?, updated_at = ? WHERE id = ?",
                        (json.dumps(settings, sort_keys=True), _iso(now), normalise_session_id(session_id)))

    def settings(self, session_id: str) -> dict[str, Any]:
        row = self.get_session_row(session_id)
        try:
            data = json.loads(row["settings"]) if row["settings"] else {}
        except (TypeError, ValueError):
            data = {}
        return data if isinstance(data, dict) else {}

    def drafts(self, session_id: str) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute("SELECT step_id, data FROM drafts WHERE session_id = ?",
                                 (normalise_session_id(session_id),))
        return {r["step_id"]: json.loads(r["data"]) for r in rows}

    def update_session(self, session_id: str, now: datetime, **columns: Any) -> None:
        with self.transaction() as cur:
            self._update_session(cur, normalise_session_id(session_id), now, columns)

    def _update_session(self, cur: sqlite3.Cursor, session_id: str, now: datetime, columns: dict[str, Any]) -> None:
        allowed = {"customer_name", "customer_domain", "status", "closed_at", "ticket_sent_at", "ticket_message_id"}
        sets = ["updated_at = ?"]
        args: list[Any] = [_iso(now)]
        for key, value in columns.items():
            if key not in allowed:
                raise ValueError(key)
            sets.append(f"{key} = ?")
            args.append(_iso(value) if isinstance(value, datetime) else value)
        args.append(session_id)
        cur.execute(f"UPDATE sessions SET {', '.join(sets)} WHERE id = ?", args)
        if cur.rowcount == 0:
            raise NotFound(f"No triage session {session_id!r}. Run `threer sessions list` to see the ids.")

    def delete_session(self, session_id: str) -> None:
        session_id = normalise_session_id(session_id)
        self.get_session_row(session_id)
        with self.transaction() as cur:
            self._forget_case(cur, session_id)
            cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def purge_sessions(self, older_than: datetime) -> list[str]:
        """Delete sessions last touched before `older_than`; return their ids."""
        ids = [r[0] for r in self.conn.execute("SELECT id FROM sessions WHERE updated_at <= ?", (_iso(older_than),))]
        with self.transaction() as cur:
            for session_id in ids:
                self._forget_case(cur, session_id)
                cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return ids

    def _forget_case(self, cur: sqlite3.Cursor, session_id: str) -> None:
        from threer.kb import cases

        cases.remove_case(cur, session_id)


def normalise_session_id(session_id: str) -> str:
    return session_id.strip().upper()


def _split_sql(sql: str) -> list[str]:
    """Split a schema script into statements (sqlite3.complete_statement knows about triggers)."""
    statements, buf = [], ""
    for line in sql.splitlines(keepends=True):
        buf += line
        if sqlite3.complete_statement(buf):
            if buf.strip():
                statements.append(buf.strip())
            buf = ""
    if buf.strip():
        statements.append(buf.strip())
    return statements
