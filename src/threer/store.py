"""The one SQLite database: sessions and their answers, past cases, and the KB index.

Every write is its own transaction (WAL), so an answer is on disk the moment
`record_answer` returns. The file is created readable by its owner only (0600, in a
0700 folder). A damaged database, or one written by a newer threer, is reported and
never touched: before the first write of every Store, SQLite's quick check runs on the
tables that hold what technicians typed (sessions, answers, their history, drafts, the
check-dns history, outcome learning) and on the schema and free-page list, a cost that does
not grow with the KB; a KB index table is checked before the first transaction writing it
commits (see `_verify`). Every SQLite error on a write is classified (damaged, disk full,
read-only, busy) into its own plain message. A database that can be read but not written (a read-only folder
or disk) is opened read-only, so commands that only read still work.
Deleting sessions removes their text from the file: secure_delete is on, the FTS index
is optimised (merged) and the file vacuumed afterwards.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
import sqlite3
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from threer.files import make_private_folder
from threer.errors import DatabaseDamaged, NewerSchema, StorageFull, StorageReadOnly, StoreError
from threer.store_api import (
    normalise_session_id,
    purge_filter,
    session_not_found,
    session_update,
    settings_from_text,
)

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


# issue 12: who saved each answer revision and on which machine (the team database had the technician
# from the start), and which history rows are answers refused because a colleague's came first
_ANSWER_ORIGIN = """
ALTER TABLE answers ADD COLUMN recorded_by TEXT;
ALTER TABLE answers ADD COLUMN recorded_host TEXT;
ALTER TABLE answer_history ADD COLUMN recorded_by TEXT;
ALTER TABLE answer_history ADD COLUMN recorded_host TEXT;
ALTER TABLE answer_history ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
"""


# issue 7 (speed): thesaurus phrases indexed as single terms; the FTS rows are rebuilt on first use
def _kb_phrases_schema() -> str:
    from threer.kb.schema import PHRASES_SQL

    return PHRASES_SQL


# issue 7 (speed): each document's heaviest terms, for queries whose words are all common
def _kb_impact_schema() -> str:
    from threer.kb.schema import IMPACT_SQL

    return IMPACT_SQL


# 10: the team database remembers the sessions it removed, so `db migrate --from` does not revive them;
# a SQLite file deletes its sessions in place and has nothing to remember
_REMOVED_SESSIONS = ""


# Migration N (1-based) brings the database to user_version N.
MIGRATIONS: list[Any] = [
    _CORE_SCHEMA, _kb_schema, _SESSION_SETTINGS, _SESSION_ORIGIN_AND_SENT, _kb_learning_schema, _check_history_schema,
    _ANSWER_ORIGIN, _kb_phrases_schema, _kb_impact_schema, _REMOVED_SESSIONS,
]
SCHEMA_VERSION = len(MIGRATIONS)

# The page size of a new database. An article's row (about 4 kB of Markdown, and as much analysed text in
# kb_fts) and an FTS5 leaf (8,000 bytes, threer.kb.schema) fit in one page of 16 kB; with SQLite's
# default 4 kB each took a chain of overflow pages. A first build of 100,000 articles makes a file of
# 748 MB instead of 928 MB, with 0.84x the writer's CPU time (docs/explanation/search-ranking.md §7);
# searches take as long. A database made before keeps the page size it has.
PAGE_SIZE = 16384

_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read over the phone

# Quick-checked before a Store's first write: the schema (its check of page 1 covers the free-page list,
# from which every new page is taken) and the tables of what technicians typed. None grows with the KB.
RECORD_TABLES = ("sqlite_schema", "sessions", "answers", "answer_history", "drafts", "check_history", "kb_meta",
                 "kb_feedback", "kb_feedback_fts_data", "kb_feedback_fts_idx", "kb_feedback_fts_docsize",
                 "kb_feedback_fts_config")
# SQLite authorizer actions that write to the table named in their first argument
_WRITE_ACTIONS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})


def _iso(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


class Store:
    """A connection to threer's database, migrated to the current schema (the SQLite SessionStore)."""

    backend = "sqlite"

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.read_only: str | None = None  # why the database can only be read, when it can only be read
        self._verified = False  # the quick check of RECORD_TABLES has passed: writing is allowed
        self._checked: set[str] = set()  # tables the quick check has passed
        self._written: set[str] = set()  # tables statements of this Store write (its authorizer sees them)
        self._writes = 0  # transactions committed by this Store
        self._check_file()
        existed = self.path.exists()
        try:
            make_private_folder(self.path.parent)
        except OSError as exc:
            if not existed:
                raise _os_error(exc, self.path, f"Cannot create the data folder {self.path.parent}") from None
        if not existed:
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600)
                os.close(fd)
            except OSError as exc:
                raise _os_error(exc, self.path, f"Cannot create the database {self.path}") from None
        try:
            if readonly:
                self._open_read_only("opened read-only")
            else:
                self._open_read_write()
        except sqlite3.Error as exc:
            self._close_quietly()
            error = self.storage_error(exc)
            if isinstance(error, StorageReadOnly) and existed and not readonly:
                try:
                    self._open_read_only(str(exc))
                except sqlite3.Error:
                    self._close_quietly()
                    raise error from None
            else:
                raise error from None
        if self.read_only is None:
            for suffix in ("", "-wal", "-shm"):
                make_private(Path(f"{self.path}{suffix}"))

    def _connect(self, target: str, *, uri: bool = False) -> None:
        self.conn = sqlite3.connect(target, timeout=10, isolation_level=None, check_same_thread=False, uri=uri)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        # deleted rows are overwritten, not left in free pages (stock SQLite leaves them)
        self.conn.execute("PRAGMA secure_delete = ON")
        self.conn.set_authorizer(self._note_write)

    def _note_write(self, action: int, table: str | None, *_: Any) -> int:
        """SQLite's authorizer, called as each statement is prepared: which tables this Store writes."""
        if action in _WRITE_ACTIONS and table and table not in self._checked:
            self._written.add(table)
        return sqlite3.SQLITE_OK

    def _open_read_write(self) -> None:
        self._connect(str(self.path))
        version = self._schema_version()
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            if version:
                self._verify()  # switching an existing file to WAL writes its header
            elif not self.conn.execute("PRAGMA page_count").fetchone()[0]:
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # a new file: fixed by its first write
            self._set_wal()
        self._migrate(version)

    def _open_read_only(self, reason: str) -> None:
        target = "file:" + urllib.parse.quote(str(self.path.resolve())) + "?mode=ro"
        try:
            self._connect(target, uri=True)
            version = self._schema_version()
        except sqlite3.OperationalError:
            # a WAL database in a folder nobody may write: its -shm cannot be made; read the file as it is
            self._close_quietly()
            self._connect(target + "&immutable=1", uri=True)
            version = self._schema_version()
        self.read_only = reason
        if version < SCHEMA_VERSION:
            raise sqlite3.OperationalError("attempt to write a readonly database (it needs its schema upgraded)")

    def _schema_version(self) -> int:
        version = int(self.conn.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise NewerSchema(
                f"The database {self.path} was written by a newer threer (schema {version}, this one knows "
                f"{SCHEMA_VERSION}). Upgrade threer; the file has not been changed."
            )
        return version

    def _close_quietly(self) -> None:
        conn = getattr(self, "conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:
                pass

    def _verify(self) -> None:
        """SQLite's quick check of RECORD_TABLES, once per Store before its first write: a damaged file is
        never written. Checking the whole file would read the KB index too (seconds on a large KB)."""
        if self._verified:
            return
        self._quick_check(RECORD_TABLES)
        self._verified = True

    def _verify_written(self) -> None:
        """Before a commit: the quick check of each table this Store writes that has not been checked yet
        (the KB index's, in practice). Damage found rolls the transaction back: nothing of it is kept."""
        pending = sorted(self._written - self._checked)
        if pending:
            self._quick_check(pending)
            self._written.clear()

    def _quick_check(self, tables: Any) -> None:
        try:
            rows = self.conn.execute("SELECT name, sql LIKE 'CREATE VIRTUAL%' FROM sqlite_schema WHERE type = 'table'")
            kinds = {name: bool(virtual) for name, virtual in rows}
            kinds["sqlite_schema"] = False
            for table in tables:
                if table in self._checked:
                    continue
                # a virtual table (FTS5) keeps its rows in shadow tables it writes itself, out of the
                # authorizer's sight: writing it checks them
                names = sorted(n for n in kinds if n.startswith(table + "_") and not kinds[n]) \
                    if kinds.get(table) else [table] if table in kinds else []
                for name in names:
                    if name not in self._checked:
                        result = self.conn.execute(f'PRAGMA quick_check("{name}")').fetchone()[0]
                        if result != "ok":
                            raise self._damaged(str(result))
                        self._checked.add(name)
                self._checked.add(table)
        except sqlite3.DatabaseError as exc:
            raise self.storage_error(exc) from None

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
            raise StorageReadOnly(
                f"Cannot read the database {self.path} ({exc.strerror}). Check its permissions, or set "
                "THREER_HOME to another folder."
            ) from None
        if head and head != SQLITE_HEADER:
            raise DatabaseDamaged(
                f"The database {self.path} is corrupt or not a threer database. It has not been changed; "
                "move it aside (or set THREER_HOME elsewhere) and run again."
            )

    # -- what went wrong, in words ------------------------------------------------------

    def storage_error(self, exc: BaseException) -> StoreError:
        """The plain message for an SQLite (or OS) error on this database."""
        error = storage_error(exc, self.path, last_saved=self._last_saved, done=self._done())
        if error is None:
            raise exc
        return error

    def _done(self) -> str:
        return "threer stopped at the first sign of it; what it saved before is kept" if self._writes else (
            "it has not been changed")

    def _damaged(self, detail: str) -> DatabaseDamaged:
        return DatabaseDamaged(damaged_message(self.path, detail, self._done()))

    def _last_saved(self) -> str:
        try:
            row = self.conn.execute(
                "SELECT session_id, step_id, recorded_at FROM answers ORDER BY recorded_at DESC, rowid DESC LIMIT 1"
            ).fetchone()
        except (sqlite3.Error, AttributeError):
            row = None
        if row is not None:
            return f"the last answer saved is {row[1]} of triage {row[0]} ({row[2]})"
        if self._writes:
            return "everything saved before this point is in it"
        return "the database is as it was before this command"

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
        """One write transaction. The first of a Store runs the quick check; SQLite errors become plain ones."""
        if self.read_only is not None:
            raise self.storage_error(sqlite3.OperationalError(f"attempt to write a readonly database: {self.read_only}"))
        self._verify()
        cur = self.conn.cursor()
        try:
            cur.execute("BEGIN IMMEDIATE")
            yield cur
            self._verify_written()
            cur.execute("COMMIT")
        except BaseException as exc:
            try:
                cur.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            if isinstance(exc, sqlite3.Error) and classify(exc, self.path) is not None:
                raise self.storage_error(exc) from None
            raise
        finally:
            cur.close()
        self._writes += 1

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
        row: sqlite3.Row | None = self.conn.execute(
            "SELECT * FROM sessions WHERE id = ?", (normalise_session_id(session_id),)).fetchone()
        if row is None:
            raise session_not_found(session_id)
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

    def answer_details(self, session_id: str) -> dict[str, dict[str, Any]]:
        """step id -> {data, recorded_at, revision, recorded_by, recorded_host}."""
        rows = self.conn.execute(
            "SELECT step_id, data, recorded_at, revision, recorded_by, recorded_host FROM answers "
            "WHERE session_id = ?", (normalise_session_id(session_id),))
        return {r["step_id"]: {"data": json.loads(r["data"]), "recorded_at": r["recorded_at"],
                               "revision": r["revision"], "recorded_by": r["recorded_by"],
                               "recorded_host": r["recorded_host"]} for r in rows}

    def record_answer(
        self, session_id: str, step_id: str, data: dict[str, Any], now: datetime, *, header: dict[str, Any] | None = None,
        expected_revision: int | None = None, technician: str | None = None, host: str | None = None,
    ) -> None:
        """Write one answer (and any session columns it sets) in one committed transaction, with who
        saved it (`technician`) and on which machine (`host`).

        With `expected_revision` (the revision the caller read, 0 for none), an answer someone else
        recorded since is not overwritten: AnswerConflict, and ours goes to the history (superseded).
        """
        session_id = normalise_session_id(session_id)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        conflict = None
        with self.transaction() as cur:
            old = cur.execute(
                "SELECT data, recorded_at, revision, recorded_by, recorded_host FROM answers "
                "WHERE session_id = ? AND step_id = ?", (session_id, step_id),
            ).fetchone()
            current = old["revision"] if old is not None else 0
            if expected_revision is not None and current != expected_revision:
                # the refused answer is kept in the history too: nothing typed is lost
                cur.execute(
                    "INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision, recorded_by, "
                    "recorded_host, superseded) VALUES (?,?,?,?,?,?,?,1)",
                    (session_id, step_id, payload, _iso(now), current, technician, host),
                )
                conflict = (old["recorded_by"] if old is not None else None,
                            old["recorded_host"] if old is not None else None,
                            old["recorded_at"] if old is not None else _iso(now), current)
            else:
                self._update_session(cur, session_id, now, header or {})  # first: NotFound for no such session
                if old is not None:
                    cur.execute(
                        "INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision, recorded_by, "
                        "recorded_host) VALUES (?,?,?,?,?,?,?)",
                        (session_id, step_id, old["data"], old["recorded_at"], old["revision"], old["recorded_by"],
                         old["recorded_host"]),
                    )
                cur.execute(
                    "INSERT INTO answers (session_id, step_id, data, recorded_at, revision, recorded_by, recorded_host) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT (session_id, step_id) DO UPDATE SET data = excluded.data, "
                    "recorded_at = excluded.recorded_at, revision = excluded.revision, "
                    "recorded_by = excluded.recorded_by, recorded_host = excluded.recorded_host",
                    (session_id, step_id, payload, _iso(now), current + 1, technician, host),
                )
                cur.execute("DELETE FROM drafts WHERE session_id = ? AND step_id = ?", (session_id, step_id))
        if conflict is not None:
            from threer.store_api import AnswerConflict, conflict_message

            by, on, at, revision = conflict
            raise AnswerConflict(conflict_message(session_id, step_id, by, at, revision, host=on), step_id=step_id,
                                 by=by, at=at, revision=revision, host=on)

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
        return settings_from_text(self.get_session_row(session_id)["settings"])

    def drafts(self, session_id: str) -> dict[str, dict[str, Any]]:
        rows = self.conn.execute("SELECT step_id, data FROM drafts WHERE session_id = ?",
                                 (normalise_session_id(session_id),))
        return {r["step_id"]: json.loads(r["data"]) for r in rows}

    def update_session(self, session_id: str, now: datetime, **columns: Any) -> None:
        with self.transaction() as cur:
            self._update_session(cur, normalise_session_id(session_id), now, columns)

    def _update_session(self, cur: sqlite3.Cursor, session_id: str, now: datetime, columns: dict[str, Any]) -> None:
        sets, args = session_update(columns, _iso(now), "?")
        cur.execute(f"UPDATE sessions SET {sets} WHERE id = ?", [*args, session_id])
        if cur.rowcount == 0:
            raise session_not_found(session_id)

    def delete_session(self, session_id: str) -> None:
        session_id = normalise_session_id(session_id)
        self.get_session_row(session_id)
        with self.transaction() as cur:
            self._forget_case(cur, session_id)
            cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        self.compact()

    def purge_sessions(self, older_than: datetime, *, keep_open: bool = False,
                       keep_open_since: datetime | None = None) -> list[str]:
        """Delete sessions last touched before `older_than` (with `keep_open`, not the open ones; with
        `keep_open_since`, not the open ones touched since then); return their ids."""
        sql, args = purge_filter(older_than, keep_open, keep_open_since, "?")
        ids = [r[0] for r in self.conn.execute("SELECT id FROM sessions WHERE " + sql, args)]
        with self.transaction() as cur:
            for session_id in ids:
                self._forget_case(cur, session_id)
                cur.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        if ids:
            self.compact()
        return ids

    def compact(self) -> None:
        """Leave no deleted text in the file: merge the FTS index, vacuum, and empty the WAL.

        FTS5 keeps deleted terms in its segments until they are merged ('optimize'); VACUUM
        rewrites the file without free pages; the TRUNCATE checkpoint drops the WAL's old frames.
        """
        with self.transaction() as cur:
            if cur.execute("SELECT 1 FROM sqlite_master WHERE name = 'kb_fts'").fetchone():
                cur.execute("INSERT INTO kb_fts (kb_fts) VALUES ('optimize')")
        try:
            self.conn.execute("VACUUM")
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            if classify(exc, self.path) is not None:
                raise self.storage_error(exc) from None
            raise

    def _forget_case(self, cur: sqlite3.Cursor, session_id: str) -> None:
        from threer.kb import cases

        cases.remove_case(cur, session_id)

    # -- the rest of the SessionStore interface (threer.store_api) ----------------------

    def answer_history(self, session_id: str) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT step_id, data, recorded_at, revision, recorded_by, recorded_host, superseded FROM answer_history "
            "WHERE session_id = ? ORDER BY step_id, recorded_at, revision", (normalise_session_id(session_id),))
        return [{"step_id": r["step_id"], "data": json.loads(r["data"]), "recorded_at": r["recorded_at"],
                 "revision": r["revision"], "recorded_by": r["recorded_by"], "recorded_host": r["recorded_host"],
                 "superseded": bool(r["superseded"])} for r in rows]

    def put_case(self, session_id: str, *, title: str, body: str, tags: Any = (), domain: str | None = None) -> str:
        from threer.kb.cases import index_case

        return index_case(self, session_id, title=title, body=body, tags=tags, domain=domain)

    def remove_case(self, session_id: str) -> None:
        with self.transaction() as cur:
            self._forget_case(cur, normalise_session_id(session_id))

    def add_check_runs(self, rows: list[tuple[str, str, str, str]]) -> None:
        """Check-dns runs (domain, checked_at, records JSON, findings JSON), one transaction."""
        with self.transaction() as cur:
            cur.executemany("INSERT INTO check_history (domain, checked_at, records, findings) VALUES (?, ?, ?, ?)", rows)

    def last_check_run(self, domain: str, before: str) -> tuple[str, str, str, str] | None:
        row = self.conn.execute(
            "SELECT domain, checked_at, records, findings FROM check_history WHERE domain = ? AND checked_at < ? "
            "ORDER BY checked_at DESC, id DESC LIMIT 1", (domain, before)).fetchone()
        return tuple(row) if row is not None else None

    def purge_check_runs(self, older_than: str) -> int:
        with self.transaction() as cur:
            cur.execute("DELETE FROM check_history WHERE checked_at < ?", (older_than,))
            return cur.rowcount

    def kb_index(self) -> "Store":
        return self  # the KB index lives in the same file

    def describe(self) -> str:
        return str(self.path)

    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def counts(self) -> dict[str, int]:
        tables = {"sessions": "sessions", "answers": "answers", "answer_history": "answer_history",
                  "drafts": "drafts", "cases": "kb_documents WHERE source = 'case'", "check_history": "check_history"}
        return {name: int(self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
                for name, table in tables.items()}


# SQLite primary result codes (sqlite3.h)
_SQLITE_PERM, _SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY = 3, 5, 6, 8
_SQLITE_IOERR, _SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_CANTOPEN = 10, 11, 13, 14
_SQLITE_AUTH, _SQLITE_NOTADB = 23, 26
_LOW_SPACE = 1 << 20  # under 1 MiB free, an I/O error on write is a full disk


def classify(exc: BaseException, path: Path) -> str | None:
    """What kind of storage failure an SQLite or OS error is: damaged, full, readonly, busy, io; None: not one."""
    if isinstance(exc, OSError):
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return "full"
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return "readonly"
        return "io"
    if not isinstance(exc, sqlite3.DatabaseError) or isinstance(exc, sqlite3.IntegrityError):
        return None
    code = getattr(exc, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    text = str(exc).lower()
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB) or "malformed" in text or "not a database" in text:
        return "damaged"
    if primary == _SQLITE_FULL or "is full" in text:
        return "full"
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_AUTH, _SQLITE_CANTOPEN) or "readonly" in text:
        return "readonly"
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return "busy"
    if primary == _SQLITE_IOERR or "disk i/o error" in text:
        return "full" if _free_space(path) < _LOW_SPACE else "io"
    return None


def storage_error(exc: BaseException, path: Path, *, last_saved: Any = None,
                  done: str = "it has not been changed") -> StoreError | None:
    """The plain message for a storage failure on the database at `path`; None when `exc` is not one.

    `last_saved` is a callable giving what the database last saved, for "nothing was lost; …".
    """
    kind = classify(exc, path)
    kept = last_saved() if last_saved is not None else "what was saved before is kept"
    if kind == "damaged":
        return DatabaseDamaged(damaged_message(path, str(exc), done))
    if kind == "full":
        return StorageFull(
            f"There is no space left for the database {path}: free space on {mount_point(path)} "
            f"and run the command again. Nothing was lost; {kept}."
        )
    if kind == "readonly":
        return StorageReadOnly(
            f"threer cannot write to the database {path} ({exc}). Commands that only read "
            "(sessions list and show, kb search and show, ticket) still work; to save, make the file and "
            f"{path.parent} writable for you, or set THREER_HOME to a folder you can write."
        )
    if kind == "busy":
        return StoreError(f"The database {path} is busy: another threer is writing to it. Run the command again.")
    if kind == "io":
        return StoreError(
            f"The database {path} could not be written ({exc}). Nothing was lost; {kept}. "
            "Check the disk, then run the command again."
        )
    return None


def damaged_message(path: Path, detail: str, done: str = "it has not been changed") -> str:
    return (
        f"The database {path} is damaged ({detail}); {done}. Keep a copy of it, then move it aside (or set "
        f"THREER_HOME to another folder) and run again; `sqlite3 {path} .recover` can often get its data back."
    )


def _free_space(path: Path) -> int:
    try:
        return shutil.disk_usage(path.parent).free
    except OSError:
        return 1 << 62


def mount_point(path: Path) -> Path:
    """The mount point of the file system holding `path`, where space would have to be freed."""
    current = Path(os.path.abspath(path)).parent
    while not os.path.ismount(current) and current != current.parent:
        current = current.parent
    return current


def _os_error(exc: OSError, path: Path, what: str) -> StoreError:
    kind = classify(exc, path)
    if kind == "full":
        return StorageFull(f"{what}: there is no space left; free space on {mount_point(path)} and run again.")
    return StorageReadOnly(f"{what} ({exc.strerror}). Set THREER_HOME to a folder you can write.")


def make_private(path: Path) -> None:
    """Make an existing file readable and writable by its owner only (0600)."""
    try:
        if path.exists():
            os.chmod(path, 0o600)
    except OSError:
        pass



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


def open_store(env: Any, config: Any = None) -> Any:
    """The store the config names: the team's PostgreSQL database when `database_url` (or
    THREER_DATABASE_URL) is set, else the SQLite file in THREER_HOME. Call this, never a backend."""
    from threer.store_open import open_store as _open

    return _open(env, config)
