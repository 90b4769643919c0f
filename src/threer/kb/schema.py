"""The KB tables, applied as migration 2 of threer's database (see threer.store)."""

SCHEMA_SQL = """
CREATE TABLE kb_documents (
    rowid        INTEGER PRIMARY KEY,
    doc_id       TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL,          -- 'kb' or 'case'
    title        TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL,
    path         TEXT,
    content_hash TEXT,
    indexed_at   TEXT NOT NULL
);
"""
