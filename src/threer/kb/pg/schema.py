"""The KB tables in the team database, under a schema version of their own.

The KB keeps its version in `kb_meta` ('schema'), apart from the store's `threer_schema`,
because these tables exist only on PostgreSQL (the SQLite file has its FTS5 twins under the
store's migrations 2 and 5). Each entry of MIGRATIONS is one version; a newer version than
this threer knows stops it, as the store does.

pg_trgm (typo correction by trigram similarity) is created where the role may; where it
cannot be, correction falls back to rapidfuzz over the same words and `threer db status` says so.
"""

from __future__ import annotations

from typing import Any

from threer.errors import StoreError

_V1 = """
CREATE TABLE kb_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE kb_documents (
    id BIGSERIAL PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL CHECK (source IN ('kb', 'case')),
    origin TEXT NOT NULL CHECK (origin IN ('file', 'sample', 'web', 'case')),
    path TEXT,
    size BIGINT,
    mtime_ns BIGINT,
    content_hash TEXT,
    format TEXT NOT NULL DEFAULT 'markdown',
    domain TEXT,
    indexed_at TEXT NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    terms_title TEXT NOT NULL,
    terms_tags TEXT NOT NULL,
    terms_body TEXT NOT NULL,
    len_title INTEGER NOT NULL,
    len_tags INTEGER NOT NULL,
    len_body INTEGER NOT NULL,
    len_phrases INTEGER NOT NULL,
    tsv tsvector NOT NULL
);
CREATE INDEX kb_documents_tsv ON kb_documents USING GIN (tsv);
CREATE INDEX kb_documents_files ON kb_documents (origin, path);
CREATE TABLE kb_totals (
    one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (one),
    documents BIGINT NOT NULL,
    title BIGINT NOT NULL,
    tags BIGINT NOT NULL,
    body BIGINT NOT NULL,
    phrases BIGINT NOT NULL
);
INSERT INTO kb_totals VALUES (TRUE, 0, 0, 0, 0, 0);
CREATE TABLE kb_terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL);
CREATE TABLE kb_spell (term TEXT PRIMARY KEY, len INTEGER NOT NULL);
CREATE INDEX kb_spell_len ON kb_spell (len);
CREATE TABLE kb_feedback (
    id BIGSERIAL PRIMARY KEY,
    session_id TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('solved', 'helped', 'not-helpful')),
    issue TEXT NOT NULL,
    terms TEXT NOT NULL,
    tsv tsvector NOT NULL,
    created_at TEXT NOT NULL,
    UNIQUE (session_id, doc_id)
);
CREATE INDEX kb_feedback_tsv ON kb_feedback USING GIN (tsv);
CREATE INDEX kb_feedback_session ON kb_feedback (session_id)
"""

MIGRATIONS = [_V1]
KB_SCHEMA_VERSION = len(MIGRATIONS)
LOCK_KEY = 0x7468726565720002  # pg_advisory_xact_lock key for KB writes ("threer" + 2)
TRGM_INDEX = "CREATE INDEX IF NOT EXISTS kb_spell_trgm ON kb_spell USING GIN (term gin_trgm_ops)"


def _statements(sql: str) -> list[str]:
    return [s.strip() for s in sql.split(";") if s.strip()]


def read_version(cur: Any) -> int:
    # pg_class read by a query, not to_regclass(): after waiting for the advisory lock, the catalog
    # cache may not yet know the table another threer has just created
    cur.execute("SELECT 1 FROM pg_catalog.pg_class WHERE relname = 'kb_meta' "
                "AND relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = current_schema())")
    if cur.fetchone() is None:
        return 0
    cur.execute("SELECT value FROM kb_meta WHERE key = 'schema'")
    row = cur.fetchone()
    return int(row[0]) if row else 0


def ensure_schema(cur: Any, where: str) -> None:
    """Create or upgrade the KB tables (inside the caller's transaction, under the KB lock)."""
    version = read_version(cur)
    if version == KB_SCHEMA_VERSION:
        return
    if version > KB_SCHEMA_VERSION:
        raise StoreError(f"The KB index in the team database {where} was written by a newer threer (KB schema "
                         f"{version}, this one knows {KB_SCHEMA_VERSION}). Upgrade threer; nothing was changed.")
    cur.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    version = read_version(cur)  # another threer may have migrated while this one waited
    for number in range(version + 1, KB_SCHEMA_VERSION + 1):
        for statement in _statements(MIGRATIONS[number - 1]):
            cur.execute(statement)
    cur.execute("INSERT INTO kb_meta (key, value) VALUES ('schema', %s) ON CONFLICT (key) DO UPDATE "
                "SET value = excluded.value", (str(KB_SCHEMA_VERSION),))


def trigram_support(conn: Any) -> tuple[bool, str]:
    """(usable, why): pg_trgm there (created now if the role may), and the vocabulary's trigram index."""
    import psycopg
    from psycopg.rows import tuple_row

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        present = cur.fetchone() is not None
    if not present:
        try:
            with conn.transaction():
                with conn.cursor() as cur:
                    cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            return False, f"pg_trgm could not be created ({first})"
    try:
        with conn.transaction():
            with conn.cursor(row_factory=tuple_row) as cur:
                cur.execute("SELECT to_regclass('kb_spell_trgm')")
                row = cur.fetchone()
                if row is None or row[0] is None:
                    cur.execute(TRGM_INDEX)
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return False, f"the trigram index could not be made ({first})"
    return True, "pg_trgm"
