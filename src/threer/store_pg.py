"""The team database: threer's sessions, answers, history, drafts and past cases on PostgreSQL.

`PostgresStore` implements `threer.store_api.SessionStore` with psycopg 3. Each write is one
transaction; the schema is migrated under an advisory lock, so several technicians' threer
starting at once migrate it once. The schema's steps are `PG_MIGRATIONS`, one for each step of
`threer.store.MIGRATIONS` (same numbers, so both backends report the same schema version).

The KB index is in the team database too (`kb_index()`, threer.kb.pg): every technician indexes
and searches one KB, with the team's past cases (from the `cases` table) and what outcomes taught.

An answer or draft that cannot be written because the server is unreachable is appended to a
spool file beside the local database (mode 0600) and written, in order, the next time threer
reaches the server; the error says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import secrets
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from threer.errors import BadInput, NotFound, StoreError
from threer.store_api import (
    AnswerConflict, StoreOffline, conflict_message, normalise_session_id, session_not_found, session_update,
    purge_filter, settings_from_text,
)

_CORE = """
CREATE TABLE sessions (
    id              TEXT PRIMARY KEY,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    customer_name   TEXT,
    customer_domain TEXT,
    status          TEXT NOT NULL DEFAULT 'open',
    closed_at       TEXT,
    technician      TEXT,
    host            TEXT
);
CREATE INDEX sessions_updated ON sessions(updated_at);
CREATE TABLE answers (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    revision    INTEGER NOT NULL DEFAULT 1,
    recorded_by TEXT,
    PRIMARY KEY (session_id, step_id)
);
CREATE TABLE drafts (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,
    saved_at    TEXT NOT NULL,
    PRIMARY KEY (session_id, step_id)
);
CREATE TABLE answer_history (
    session_id  TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    step_id     TEXT NOT NULL,
    data        TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    recorded_by TEXT,
    superseded  BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX answer_history_session ON answer_history(session_id, step_id);
"""

# The KB step: on PostgreSQL only the team's past cases (articles are indexed on each machine).
_CASES = """
CREATE TABLE cases (
    doc_id      TEXT PRIMARY KEY,
    session_id  TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '',
    body        TEXT NOT NULL,
    domain      TEXT,
    indexed_at  TEXT NOT NULL,
    change      BIGINT NOT NULL
);
CREATE SEQUENCE cases_change;
"""

# One entry for each entry of threer.store.MIGRATIONS, in the same order (a test holds them equal).
PG_MIGRATIONS: list[str] = [
    _CORE,
    _CASES,
    "ALTER TABLE sessions ADD COLUMN settings TEXT",  # 3 (issue 10): how the session checks DNS
    # 4 (issue 13): when the ticket reached the provider's desk (technician and host are in step 1 here)
    "ALTER TABLE sessions ADD COLUMN ticket_sent_at TEXT; ALTER TABLE sessions ADD COLUMN ticket_message_id TEXT",
    # 5 (issue 7): the KB's outcome feedback and spelling words: on PostgreSQL the KB's tables are
    # threer.kb.pg's, under a version of their own (kb_meta 'schema')
    "",
    # 6 (issue 11): every check-dns run, per domain
    "CREATE TABLE check_history (id BIGSERIAL PRIMARY KEY, domain TEXT NOT NULL, checked_at TEXT NOT NULL, "
    "records TEXT NOT NULL, findings TEXT NOT NULL); "
    "CREATE INDEX check_history_domain ON check_history(domain, checked_at)",
    # 7 (issue 12): the machine each answer revision was saved on (the technician is in step 1 here)
    "ALTER TABLE answers ADD COLUMN recorded_host TEXT; ALTER TABLE answer_history ADD COLUMN recorded_host TEXT",
    # 8 (issue 7 speed): the SQLite KB's FTS table gains thesaurus-phrase columns; nothing here (threer.kb.pg)
    "",
    # issue 7 (speed): the KB's impact lists, also in each machine's KB index
    "",
    # 10: the sessions removed here (sessions purge, sessions delete), so that a later `db migrate --from`
    # of a technician's file that still holds them does not bring them back (no customer text: id, times, host)
    "CREATE TABLE removed_sessions (id TEXT NOT NULL, created_at TEXT NOT NULL, host TEXT, removed_at TEXT NOT NULL, "
    "why TEXT NOT NULL, PRIMARY KEY (id, created_at))",
]

_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
_LOCK_KEY = 0x7468726565720001  # pg_advisory_xact_lock key for migrations ("threer" + 1)
def _iso(dt: datetime | str) -> str:
    if isinstance(dt, str):
        return dt
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


def redact_url(url: str) -> str:
    """The URL as it may be shown: host, port and database, never a password."""
    from urllib.parse import parse_qsl, urlencode

    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL that can be read: nothing of it shown but its scheme (it may hold a password)
        scheme = url.split("://", 1)[0] if "://" in url else ""
        return f"{scheme}://…" if scheme.isalnum() else "(a URL that cannot be read)"
    host = parts.hostname or "localhost"
    port: int | str | None
    try:
        port = parts.port
    except ValueError:  # not a number: shown as "?" rather than refused here
        port = "?"
    if ":" in host:  # an IPv6 address keeps its brackets, so the port after it reads as a port
        host = f"[{host}]"
    netloc = (f"{parts.username}@" if parts.username else "") + host + (f":{port}" if port else "")
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "password"])
    return f"{parts.scheme}://{netloc}{parts.path}" + (f"?{query}" if query else "")


SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")  # libpq's sslmode values


def url_has_password(url: str) -> bool:
    return urlsplit(url).password is not None or "password=" in (urlsplit(url).query or "")


def explain_pg_error(exc: BaseException, url: str) -> StoreError:
    """One sentence for a psycopg error, naming the server (never its password) and the fix."""
    import psycopg

    where = redact_url(url)
    parts = urlsplit(url)
    user = parts.username or os.environ.get("PGUSER") or "(your login name)"
    text = str(exc).strip()
    low = text.lower()
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return StoreError(f"The role {user} has no permission for this on the team database {where} "
                          f"({text.splitlines()[0]}). Ask its administrator to grant it (see the how-to "
                          "'Set up threer for a team').")
    if "password authentication failed" in low or "no password supplied" in low or "authentication failed" in low:
        return StoreError(f"The team database {where} refused the credentials of role {user}. Check the password "
                          "in PGPASSWORD or ~/.pgpass (never in the config file).")
    if "does not exist" in low and "database" in low:
        return StoreError(f"The database named in {where} does not exist on the server. Create it "
                          "(createdb -O ROLE NAME) or fix database_url.")
    if "role" in low and "does not exist" in low:
        return StoreError(f"The role {user} does not exist on the team database server {where}. "
                          "Ask its administrator to create it, or fix the user in database_url.")
    if "ssl" in low and ("not support" in low or "certificate" in low or "unsupported" in low):
        return StoreError(f"TLS to the team database {where} failed ({text.splitlines()[0]}). "
                          "Check sslmode and sslrootcert in database_url.")
    if "could not translate host name" in low or "name or service not known" in low:
        return StoreError(f"The team database server's name in {where} cannot be resolved. Check the host in "
                          "database_url and your VPN.")
    if not isinstance(exc, psycopg.OperationalError):  # an error in what was asked, not in reaching the server
        return StoreError(f"The team database {where} refused an operation ({text.splitlines()[0] if text else type(exc).__name__}). "
                          "Run `threer db status`; if it says the schema is current, report this.")
    return StoreOffline(f"The team database {where} cannot be reached ({text.splitlines()[0] if text else 'no answer'}). "
                        "Check that the server is running and your network or VPN is up, then run again.")


class PostgresStore:
    """A connection to the team database, migrated to the current schema."""

    backend = "postgresql"

    def __init__(self, url: str, *, local_home: Path, connect_timeout: float = 10.0) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:  # pragma: no cover - a dependency of threer
            raise StoreError("PostgreSQL support needs psycopg 3: pip install 'psycopg[binary]'.") from None
        self.url = url
        self.local_home = Path(local_home)
        self.connect_timeout = connect_timeout
        self._conn: Any = None
        self._kb: Any = None
        self._connect()
        self._migrate()
        self.flush_spool()

    # -- connection ------------------------------------------------------------------

    def _connect(self) -> None:
        import psycopg
        from psycopg.rows import dict_row

        try:
            self._conn = psycopg.connect(self.url, autocommit=True, row_factory=dict_row,
                                         connect_timeout=max(1, int(self.connect_timeout)),
                                         application_name="threer")
        except psycopg.Error as exc:
            raise explain_pg_error(exc, self.url) from None

    @contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction. A connection lost before is opened again; one lost during it is StoreOffline."""
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            self._connect()
        try:
            with self._conn.transaction():
                with self._conn.cursor() as cur:
                    yield cur
        except psycopg.errors.UniqueViolation:
            raise
        except psycopg.Error as exc:
            raise explain_pg_error(exc, self.url) from None

    def _again(self, write: Any, *args: Any) -> None:
        """A write whose connection was lost (a server restart, a VPN hiccup) is tried once more, on a new one."""
        try:
            write(*args)
        except StoreOffline:
            if self._conn is not None and not (self._conn.closed or self._conn.broken):
                raise
            write(*args)  # a second StoreOffline: the server is really unreachable

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(sql, list(args))
            return cur.fetchall() if cur.description else []

    def close(self) -> None:
        if self._conn is not None and not self._conn.closed:
            self._conn.close()
        self._kb = None

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def describe(self) -> str:
        return redact_url(self.url)

    # -- schema ----------------------------------------------------------------------

    def _migrate(self) -> None:
        import psycopg

        from threer.store import SCHEMA_VERSION

        with self._tx() as cur:
            cur.execute("SELECT to_regclass('threer_schema') AS t")
            exists = cur.fetchone()["t"] is not None
            version = self._read_version(cur) if exists else 0
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"The team database {self.describe()} was written by a newer threer (schema {version}, this one "
                    f"knows {SCHEMA_VERSION}). Upgrade threer; the database has not been changed.")
            if version == SCHEMA_VERSION:
                return
        with self._tx() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            try:
                if not exists:
                    cur.execute("CREATE TABLE IF NOT EXISTS threer_schema (version INTEGER NOT NULL)")
                version = self._read_version(cur)
                if version > SCHEMA_VERSION:  # pragma: no cover - another, newer threer migrated in between
                    raise StoreError(f"The team database {self.describe()} was just migrated by a newer threer "
                                     f"(schema {version}). Upgrade threer.")
                if version == SCHEMA_VERSION:
                    return  # another threer upgraded it while this one waited for the lock
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    for statement in _statements(PG_MIGRATIONS[number - 1]):
                        cur.execute(statement)
                cur.execute("DELETE FROM threer_schema")
                cur.execute("INSERT INTO threer_schema (version) VALUES (%s)", (SCHEMA_VERSION,))
            except psycopg.errors.InsufficientPrivilege as exc:
                if not exists:  # a database threer has never set up: the role needs the grants of the how-to
                    raise explain_pg_error(exc, self.url) from None
                user = urlsplit(self.url).username or os.environ.get("PGUSER") or "(your login name)"
                raise StoreError(
                    f"The team database {self.describe()} has schema {version} and this threer needs "
                    f"{SCHEMA_VERSION}; the role {user} may not upgrade it (rightly: technicians' roles do not "
                    "own the tables). Ask the database owner to run `threer db status` once with this threer "
                    "version, which upgrades the schema, then run again. The database has not been changed."
                ) from None

    @staticmethod
    def _read_version(cur: Any) -> int:
        cur.execute("SELECT max(version) AS v FROM threer_schema")
        row = cur.fetchone()
        return int(row["v"] or 0) if row else 0

    def schema_version(self) -> int:
        with self._tx() as cur:
            return self._read_version(cur)

    def counts(self) -> dict[str, int]:
        tables = ("sessions", "answers", "answer_history", "drafts", "cases", "check_history")
        with self._tx() as cur:
            out = {}
            for table in tables:
                cur.execute(f"SELECT count(*) AS n FROM {table}")
                out[table] = int(cur.fetchone()["n"])
            return out

    # -- sessions --------------------------------------------------------------------

    def create_session(self, now: datetime, *, technician: str | None = None, host: str | None = None) -> str:
        import psycopg

        for _ in range(20):
            session_id = now.strftime("%Y%m%d") + "-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(4))
            try:
                with self._tx() as cur:
                    cur.execute("INSERT INTO sessions (id, created_at, updated_at, technician, host) "
                                "VALUES (%s, %s, %s, %s, %s)", (session_id, _iso(now), _iso(now), technician, host))
                return session_id
            except psycopg.errors.UniqueViolation:
                continue
        raise StoreError("Could not allocate a new session id; try again.")  # pragma: no cover

    def get_session_row(self, session_id: str) -> Mapping[str, Any]:
        rows = self._query("SELECT * FROM sessions WHERE id = %s", (normalise_session_id(session_id),))
        if not rows:
            raise session_not_found(session_id)
        return rows[0]

    def list_sessions(self, *, status: str | None = None, limit: int | None = None) -> list[Mapping[str, Any]]:
        sql, args = "SELECT * FROM sessions", list[Any]()
        if status:
            sql += " WHERE status = %s"
            args.append(status)
        sql += " ORDER BY updated_at DESC, id DESC"
        if limit:
            sql += " LIMIT %s"
            args.append(limit)
        rows: list[Mapping[str, Any]] = list(self._query(sql, args))
        return rows

    def update_session(self, session_id: str, now: datetime, **columns: Any) -> None:
        with self._tx() as cur:
            self._update_session(cur, normalise_session_id(session_id), now, columns)

    def _update_session(self, cur: Any, session_id: str, now: datetime | str, columns: dict[str, Any]) -> None:
        sets, args = session_update(columns, _iso(now), "%s")
        cur.execute(f"UPDATE sessions SET {sets} WHERE id = %s", [*args, session_id])
        if cur.rowcount == 0:
            raise session_not_found(session_id)

    def delete_session(self, session_id: str) -> None:
        session_id = normalise_session_id(session_id)
        self.get_session_row(session_id)
        with self._tx() as cur:
            self._mark_removed(cur, [session_id], "deleted")
            cur.execute("DELETE FROM cases WHERE session_id = %s", (session_id,))
            self._forget_in_kb(cur, [session_id])
            cur.execute("DELETE FROM sessions WHERE id = %s", (session_id,))

    def purge_sessions(self, older_than: datetime, *, keep_open: bool = False,
                       keep_open_since: datetime | None = None) -> list[str]:
        sql, args = purge_filter(older_than, keep_open, keep_open_since, "%s")
        with self._tx() as cur:
            cur.execute("SELECT id FROM sessions WHERE " + sql, args)
            ids = [r["id"] for r in cur.fetchall()]
            self._mark_removed(cur, ids, "purged")
            cur.execute("DELETE FROM cases WHERE session_id = ANY(%s)", (ids,))
            self._forget_in_kb(cur, ids)
            cur.execute("DELETE FROM sessions WHERE id = ANY(%s)", (ids,))
        return ids

    @staticmethod
    def _mark_removed(cur: Any, session_ids: list[str], why: str) -> None:
        """In the transaction removing these sessions: remember that they were (see `removed_sessions`)."""
        if session_ids:
            cur.execute("INSERT INTO removed_sessions (id, created_at, host, removed_at, why) "
                        "SELECT id, created_at, host, %s, %s FROM sessions WHERE id = ANY(%s) "
                        "ON CONFLICT (id, created_at) DO NOTHING",
                        (_iso(datetime.now(timezone.utc)), why, session_ids))

    def _forget_in_kb(self, cur: Any, session_ids: list[str]) -> None:
        """In the transaction deleting these sessions: their past cases and feedback leave the KB index."""
        if not session_ids:
            return
        cur.execute("SELECT to_regclass('kb_documents') AS t")
        if cur.fetchone()["t"] is None:
            return  # the KB index was never used on this database
        from psycopg.rows import tuple_row

        from threer.kb.pg.index import PgKb

        with self._conn.cursor(row_factory=tuple_row) as kb_cur:
            PgKb.forget_sessions(kb_cur, session_ids)

    # -- answers ---------------------------------------------------------------------

    def answers(self, session_id: str) -> dict[str, tuple[dict[str, Any], str, int]]:
        rows = self._query("SELECT step_id, data, recorded_at, revision FROM answers WHERE session_id = %s",
                           (normalise_session_id(session_id),))
        return {r["step_id"]: (json.loads(r["data"]), r["recorded_at"], r["revision"]) for r in rows}

    def answer_details(self, session_id: str) -> dict[str, dict[str, Any]]:
        rows = self._query("SELECT step_id, data, recorded_at, revision, recorded_by, recorded_host FROM answers "
                           "WHERE session_id = %s", (normalise_session_id(session_id),))
        return {r["step_id"]: {**{k: v for k, v in r.items() if k != "step_id"}, "data": json.loads(r["data"])}
                for r in rows}

    def answer_history(self, session_id: str) -> list[dict[str, Any]]:
        rows = self._query(
            "SELECT step_id, data, recorded_at, revision, recorded_by, recorded_host, superseded FROM answer_history "
            "WHERE session_id = %s ORDER BY step_id, recorded_at, revision", (normalise_session_id(session_id),))
        return [{**r, "data": json.loads(r["data"])} for r in rows]

    def record_answer(self, session_id: str, step_id: str, data: dict[str, Any], now: datetime, *,
                      header: dict[str, Any] | None = None, expected_revision: int | None = None,
                      technician: str | None = None, host: str | None = None) -> None:
        """Write one answer; with `expected_revision`, refuse (AnswerConflict) if someone changed it since."""
        session_id = normalise_session_id(session_id)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        try:
            self._again(self._record, session_id, step_id, payload, _iso(now), header or {}, expected_revision,
                        technician, host)
        except StoreOffline as exc:
            self._spool({"op": "answer", "session_id": session_id, "step_id": step_id, "data": payload,
                         "now": _iso(now), "header": {k: _iso(v) if isinstance(v, datetime) else v
                                                      for k, v in (header or {}).items()},
                         "expected_revision": expected_revision, "technician": technician, "host": host})
            raise StoreOffline(f"{exc.message} Your answer to {step_id} is kept on this machine and will be "
                               f"written when threer next reaches the server: `threer triage --resume {session_id}`."
                               ) from None

    def _record(self, session_id: str, step_id: str, payload: str, now: str, header: dict[str, Any],
                expected_revision: int | None, technician: str | None, host: str | None = None) -> None:
        with self._tx() as cur:
            # the session row is locked first, so two writers of one session queue rather than race
            cur.execute("SELECT id FROM sessions WHERE id = %s FOR UPDATE", (session_id,))
            if cur.fetchone() is None:
                raise session_not_found(session_id)
            cur.execute("SELECT data, recorded_at, revision, recorded_by, recorded_host FROM answers "
                        "WHERE session_id = %s AND step_id = %s", (session_id, step_id))
            old = cur.fetchone()
            current = old["revision"] if old else 0
            if old is not None and current == (expected_revision or 0) + 1 and old["data"] == payload:
                return  # this very answer, written before a lost connection hid the commit: nothing to do
            if expected_revision is not None and current != expected_revision:
                # keep the refused answer too: the history holds both, nothing typed is lost
                cur.execute("INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision, "
                            "recorded_by, recorded_host, superseded) VALUES (%s, %s, %s, %s, %s, %s, %s, TRUE)",
                            (session_id, step_id, payload, now, current, technician, host))
                conflict = (session_id, step_id, old["recorded_by"] if old else None,
                            old["recorded_host"] if old else None, old["recorded_at"] if old else now, current)
            else:
                conflict = None
                if old is not None:
                    cur.execute("INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision, "
                                "recorded_by, recorded_host) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                                (session_id, step_id, old["data"], old["recorded_at"], old["revision"],
                                 old["recorded_by"], old["recorded_host"]))
                cur.execute(
                    "INSERT INTO answers (session_id, step_id, data, recorded_at, revision, recorded_by, recorded_host) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, step_id) DO UPDATE SET "
                    "data = excluded.data, recorded_at = excluded.recorded_at, revision = excluded.revision, "
                    "recorded_by = excluded.recorded_by, recorded_host = excluded.recorded_host",
                    (session_id, step_id, payload, now, current + 1, technician, host))
                cur.execute("DELETE FROM drafts WHERE session_id = %s AND step_id = %s", (session_id, step_id))
                self._update_session(cur, session_id, now, header)
        if conflict:
            sid, step, by, on, at, revision = conflict
            raise AnswerConflict(conflict_message(sid, step, by, at, revision, host=on), step_id=step, by=by, at=at,
                                 revision=revision, host=on)

    def save_draft(self, session_id: str, step_id: str, data: dict[str, Any], now: datetime) -> None:
        session_id = normalise_session_id(session_id)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)
        try:
            self._again(self._save_draft, session_id, step_id, payload, _iso(now))
        except StoreOffline:
            self._spool({"op": "draft", "session_id": session_id, "step_id": step_id, "data": payload,
                         "now": _iso(now)})
            raise

    def _save_draft(self, session_id: str, step_id: str, payload: str, now: str) -> None:
        with self._tx() as cur:
            cur.execute("INSERT INTO drafts (session_id, step_id, data, saved_at) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (session_id, step_id) DO UPDATE SET data = excluded.data, "
                        "saved_at = excluded.saved_at", (session_id, step_id, payload, now))

    def drafts(self, session_id: str) -> dict[str, dict[str, Any]]:
        rows = self._query("SELECT step_id, data FROM drafts WHERE session_id = %s",
                           (normalise_session_id(session_id),))
        return {r["step_id"]: json.loads(r["data"]) for r in rows}

    def save_settings(self, session_id: str, settings: dict[str, Any], now: datetime) -> None:
        with self._tx() as cur:
            cur.execute("UPDATE sessions SET settings = %s, updated_at = %s WHERE id = %s",
                        (json.dumps(settings, sort_keys=True), _iso(now), normalise_session_id(session_id)))

    def settings(self, session_id: str) -> dict[str, Any]:
        return settings_from_text(self.get_session_row(session_id)["settings"])

    def add_check_runs(self, rows: list[tuple[str, str, str, str]]) -> None:
        with self._tx() as cur:
            cur.executemany("INSERT INTO check_history (domain, checked_at, records, findings) "
                            "VALUES (%s, %s, %s, %s)", rows)

    def last_check_run(self, domain: str, before: str) -> tuple[str, str, str, str] | None:
        rows = self._query("SELECT domain, checked_at, records, findings FROM check_history WHERE domain = %s "
                           "AND checked_at < %s ORDER BY checked_at DESC, id DESC LIMIT 1", (domain, before))
        return (rows[0]["domain"], rows[0]["checked_at"], rows[0]["records"], rows[0]["findings"]) if rows else None

    def purge_check_runs(self, older_than: str) -> int:
        with self._tx() as cur:
            cur.execute("DELETE FROM check_history WHERE checked_at < %s", (older_than,))
            return int(cur.rowcount)

    # -- the spool: writes kept on this machine while the server is unreachable -------

    @property
    def spool_path(self) -> Path:
        parts = urlsplit(self.url)
        key = f"{parts.hostname}:{parts.port}/{parts.path.lstrip('/')}"
        return self.local_home / f"pending-{hashlib.sha256(key.encode()).hexdigest()[:12]}.jsonl"

    def _spool(self, entry: dict[str, Any]) -> None:
        self.local_home.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spool_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def pending(self) -> int:
        """How many writes wait in the spool for the server."""
        try:
            return sum(1 for line in self.spool_path.read_text(encoding="utf-8").splitlines() if line.strip())
        except FileNotFoundError:
            return 0

    def flush_spool(self) -> int:
        """Write what the spool holds, in order; return how many entries were written."""
        if not self.spool_path.exists():
            return 0
        written = 0
        with open(self.spool_path, "r+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            lines = [line for line in fh.read().splitlines() if line.strip()]
            for index, line in enumerate(lines):
                entry = json.loads(line)
                try:
                    if entry["op"] == "answer":
                        self._record(entry["session_id"], entry["step_id"], entry["data"], entry["now"],
                                     entry["header"], entry["expected_revision"], entry["technician"],
                                     entry.get("host"))
                    else:
                        self._save_draft(entry["session_id"], entry["step_id"], entry["data"], entry["now"])
                except (AnswerConflict, NotFound):
                    pass  # a conflicting answer is in the history; a deleted session has nothing to keep
                except StoreOffline:
                    fh.seek(0)
                    fh.truncate()
                    fh.write("".join(rest + "\n" for rest in lines[index:]))
                    return written
                written += 1
            fh.seek(0)
            fh.truncate()
        self.spool_path.unlink(missing_ok=True)
        return written

    # -- past cases ------------------------------------------------------------------

    def put_case(self, session_id: str, *, title: str, body: str, tags: Iterable[str] = (),
                 domain: str | None = None) -> str:
        from threer.kb.cases import case_id, case_title, case_tags

        session_id = normalise_session_id(session_id)
        doc_id = case_id(session_id)
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO cases (doc_id, session_id, title, tags, body, domain, indexed_at, change) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, nextval('cases_change')) ON CONFLICT (doc_id) DO UPDATE SET "
                "title = excluded.title, tags = excluded.tags, body = excluded.body, domain = excluded.domain, "
                "indexed_at = excluded.indexed_at, change = excluded.change",
                (doc_id, session_id, case_title(title, session_id), ", ".join(case_tags(tags, domain)), body or "",
                 domain, _iso(datetime.now(timezone.utc))))
        if self._kb is not None:
            self._kb.sync_cases()  # searchable at once, by every technician
        return doc_id

    def remove_case(self, session_id: str) -> None:
        session_id = normalise_session_id(session_id)
        with self._tx() as cur:
            cur.execute("DELETE FROM cases WHERE session_id = %s", (session_id,))
            self._forget_in_kb(cur, [session_id])

    def kb_index(self) -> Any:
        """The team's KB index (threer.kb.pg.index.PgKb), with the past cases brought up to date in it."""
        if self._kb is None:
            from threer.kb.pg.index import PgKb

            self._kb = PgKb(self)
            self._retire_local_index()
        self._kb.sync_cases()
        return self._kb

    def _retire_local_index(self) -> None:
        """threer before the team KB kept a KB index on each machine (kb-index.db, with copies of the team's
        past cases): what its searches learnt is moved into the team index, and the file removed."""
        path = self.local_home / "kb-index.db"
        if not path.exists():
            return
        import sqlite3

        from threer.kb.pg.feedback import record

        try:
            with sqlite3.connect(path) as local:
                rows = local.execute("SELECT session_id, doc_id, outcome, issue FROM kb_feedback").fetchall()
        except sqlite3.Error:
            rows = []  # damaged or from before outcome learning: nothing to keep
        if rows:
            kept = {r["id"] for r in self._query("SELECT id FROM sessions WHERE id = ANY(%s)",
                                                  (sorted({r[0] for r in rows}),))}
            with self._kb.write() as cur:
                for session_id, doc_id, outcome, issue in rows:
                    if session_id in kept:
                        cur.execute("SELECT 1 FROM kb_feedback WHERE session_id = %s AND doc_id = %s",
                                    (session_id, doc_id))
                        if cur.fetchone() is None:
                            record(cur, session_id=session_id, doc_id=doc_id, outcome=outcome, issue=issue)
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(path) + suffix).unlink(missing_ok=True)


# -- moving a technician's SQLite data into the team database ---------------------------


def import_sqlite(source: Any, target: PostgresStore) -> dict[str, dict[str, int]]:
    """Copy sessions, answers, history, drafts, past cases and outcome learning from a SQLite Store into
    the team database.

    Idempotent: a row already there is not copied again (a session or answer changed locally since is
    updated), so running it twice adds nothing. Returns {table: {"copied": n, "already": m}}; a session
    whose id another technician's session already has is left out and counted under "clash", and one the
    team database has removed (sessions purge, sessions delete) is not brought back: counted under
    "purged" or "deleted", with everything of it.
    """
    report: dict[str, dict[str, int]] = {}
    src = source.conn
    pg_columns = {r["table_name"] + "." + r["column_name"] for r in target._query(
        "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = current_schema()")}

    def columns(table: str) -> list[str]:
        names = [r[1] for r in src.execute(f"PRAGMA table_info({table})")]
        return [n for n in names if f"{table}.{n}" in pg_columns]

    def tally(table: str, copied: int, already: int, **more: int) -> None:
        report[table] = {"copied": copied, "already": already, **more}

    session_cols = columns("sessions")
    sessions = [dict(r) for r in src.execute(f"SELECT {', '.join(session_cols)} FROM sessions ORDER BY id")]
    removed = {(r["id"], r["created_at"]): r["why"] for r in target._query(
        "SELECT id, created_at, why FROM removed_sessions WHERE id = ANY(%s)", ([r["id"] for r in sessions],))}
    clashes: set[str] = set()  # left out: another technician's session, or one the team database removed
    copied = already = 0
    gone = {"purged": 0, "deleted": 0}
    with target._tx() as cur:
        for row in sessions:
            why = removed.get((row["id"], row["created_at"]))
            if why is not None:
                clashes.add(row["id"])  # purged or deleted by the team: it stays gone
                gone[why if why in gone else "deleted"] += 1
                continue
            cur.execute("SELECT created_at, host, technician, updated_at FROM sessions WHERE id = %s", (row["id"],))
            there = cur.fetchone()
            if there is not None and (there["created_at"] != row["created_at"]
                                      or (there["host"] or None) != (row.get("host") or None)):
                clashes.add(row["id"])  # the same id from another technician's file: not theirs to overwrite
                continue
            if there is not None and there["updated_at"] >= row["updated_at"]:
                already += 1
                continue
            sets = ", ".join(f"{c} = excluded.{c}" for c in session_cols if c != "id")
            cur.execute(f"INSERT INTO sessions ({', '.join(session_cols)}) VALUES "
                        f"({', '.join('%s' for _ in session_cols)}) ON CONFLICT (id) DO UPDATE SET {sets}",
                        [row[c] for c in session_cols])
            copied += 1
        tally("sessions", copied, already, clash=len(clashes) - sum(gone.values()), **gone)

        copied = already = 0
        for r in src.execute("SELECT session_id, step_id, data, recorded_at, revision, recorded_by, recorded_host "
                             "FROM answers"):
            if r["session_id"] in clashes:
                continue
            cur.execute("INSERT INTO answers (session_id, step_id, data, recorded_at, revision, recorded_by, "
                        "recorded_host) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (session_id, step_id) DO "
                        "UPDATE SET data = excluded.data, recorded_at = excluded.recorded_at, "
                        "revision = excluded.revision, recorded_by = excluded.recorded_by, "
                        "recorded_host = excluded.recorded_host WHERE answers.revision < excluded.revision",
                        (r["session_id"], r["step_id"], r["data"], r["recorded_at"], r["revision"], r["recorded_by"],
                         r["recorded_host"]))
            copied += cur.rowcount
            already += 1 - cur.rowcount
        tally("answers", copied, already)

        copied = already = 0
        for r in src.execute("SELECT session_id, step_id, data, recorded_at, revision, recorded_by, recorded_host, "
                             "superseded FROM answer_history"):
            if r["session_id"] in clashes:
                continue
            cur.execute("INSERT INTO answer_history (session_id, step_id, data, recorded_at, revision, recorded_by, "
                        "recorded_host, superseded) SELECT %s, %s, %s, %s, %s, %s, %s, %s WHERE NOT EXISTS "
                        "(SELECT 1 FROM answer_history WHERE session_id = %s AND step_id = %s AND revision = %s "
                        "AND recorded_at = %s AND data = %s)",
                        (*(r[k] for k in ("session_id", "step_id", "data", "recorded_at", "revision", "recorded_by",
                                          "recorded_host")), bool(r["superseded"]),
                         *(r[k] for k in ("session_id", "step_id", "revision", "recorded_at", "data"))))
            copied += cur.rowcount
            already += 1 - cur.rowcount
        tally("answer_history", copied, already)

        copied = already = 0
        for r in src.execute("SELECT session_id, step_id, data, saved_at FROM drafts"):
            if r["session_id"] in clashes:
                continue
            cur.execute("INSERT INTO drafts (session_id, step_id, data, saved_at) VALUES (%s, %s, %s, %s) "
                        "ON CONFLICT (session_id, step_id) DO UPDATE SET data = excluded.data, saved_at = "
                        "excluded.saved_at WHERE drafts.saved_at < excluded.saved_at",
                        (r["session_id"], r["step_id"], r["data"], r["saved_at"]))
            copied += cur.rowcount
            already += 1 - cur.rowcount
        tally("drafts", copied, already)

        copied = already = 0
        for r in src.execute("SELECT doc_id, title, tags, body, domain, indexed_at FROM kb_documents "
                             "WHERE source = 'case'"):
            session_id = r["doc_id"].split(":", 1)[1]
            if session_id in clashes:
                continue
            cur.execute("INSERT INTO cases (doc_id, session_id, title, tags, body, domain, indexed_at, change) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, nextval('cases_change')) ON CONFLICT (doc_id) DO "
                        "UPDATE SET title = excluded.title, tags = excluded.tags, body = excluded.body, "
                        "domain = excluded.domain, indexed_at = excluded.indexed_at, change = excluded.change "
                        "WHERE cases.indexed_at < excluded.indexed_at",
                        (r["doc_id"], session_id, r["title"], r["tags"], r["body"], r["domain"], r["indexed_at"]))
            copied += cur.rowcount
            already += 1 - cur.rowcount
        tally("cases", copied, already)

        copied = already = 0
        for r in src.execute("SELECT domain, checked_at, records, findings FROM check_history ORDER BY id"):
            cur.execute("INSERT INTO check_history (domain, checked_at, records, findings) SELECT %s, %s, %s, %s "
                        "WHERE NOT EXISTS (SELECT 1 FROM check_history WHERE domain = %s AND checked_at = %s "
                        "AND records = %s AND findings = %s)", (*tuple(r), *tuple(r)))
            copied += cur.rowcount
            already += 1 - cur.rowcount
        tally("check_history", copied, already)

    # what the technician's outcomes taught the search (threer.kb.feedback), for the sessions now in the team
    # database: it lifts the same articles and past cases in every technician's searches
    copied = already = 0
    learned = [r for r in src.execute("SELECT session_id, doc_id, outcome, issue, created_at FROM kb_feedback "
                                      "ORDER BY id") if r["session_id"] not in clashes]
    if learned:
        from threer.kb.pg.feedback import copy_outcome

        present = {r["id"] for r in target._query("SELECT id FROM sessions WHERE id = ANY(%s)",
                                                  (sorted({r["session_id"] for r in learned}),))}
        with target.kb_index().write() as kb_cur:
            for r in learned:
                if r["session_id"] not in present:
                    continue
                added = copy_outcome(kb_cur, session_id=r["session_id"], doc_id=r["doc_id"], outcome=r["outcome"],
                                     issue=r["issue"], created_at=r["created_at"])
                copied += added
                already += 1 - added
    tally("kb_feedback", copied, already)
    return report


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip() and not s.strip().startswith("--")]


_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def check_url(url: str, *, from_config: bool) -> str:
    """A usable postgresql:// URL, or BadInput saying what is wrong with it."""
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:  # `postgresql://[::1`: a bracket left open
        raise BadInput("database_url is not a URL threer can read: an IPv6 address must stand in brackets, "
                       "[::1]. Example: postgresql://alice@[::1]:5432/threer") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise BadInput(f"database_url must start with postgresql:// (got {parts.scheme or 'no scheme'}://). "
                       "Example: postgresql://alice@db.example.net/threer?sslmode=verify-full")
    if from_config and url_has_password(url):
        raise BadInput("database_url in the config file holds a password; remove it from the URL and give it in "
                       "PGPASSWORD or ~/.pgpass instead.")
    try:
        port = parts.port
    except ValueError:  # not a number, or out of range
        port = 0
    if port == 0:
        raise BadInput("database_url has a port that is not a number from 1 to 65535 (after the host, "
                       "host:5432). Example: postgresql://alice@db.example.net:5432/threer")
    if _BAD_PERCENT.search(url):  # libpq's own message would quote the token, and it may be the password
        raise BadInput("database_url has a % that is not followed by two hexadecimal digits; write a % in a "
                       "user name, password or database name as %25. Example: postgresql://alice@db.example.net/threer")
    from urllib.parse import parse_qsl

    try:
        query = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise BadInput(f"database_url has a query string that cannot be read ({redact_url(url)}). "
                       "Example: postgresql://alice@db.example.net/threer?sslmode=verify-full") from None
    for key, value in query:
        if key == "sslmode" and value not in SSL_MODES:
            raise BadInput(f"sslmode cannot be {value!r}: it must be one of {', '.join(SSL_MODES)}.")
    return url
