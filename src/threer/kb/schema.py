"""The KB tables, applied as migration 2 of threer's database (see threer.store).

`kb_documents` holds each article or past case as it is shown (`kb show`), with the
file's size, mtime and content hash for incremental indexing. `kb_fts` is the FTS5
index over an analysed "shadow" of the same text: threer's own tokenizer and the
Snowball English stemmer produce space-separated terms, and FTS5's `ascii` tokenizer
(with `_` as a token character) only has to split them on spaces, so index and query
always agree on what a term is. Rows of both tables share their rowid.
"""

SCHEMA_SQL = """
CREATE TABLE kb_documents (
    rowid        INTEGER PRIMARY KEY,
    doc_id       TEXT NOT NULL UNIQUE,
    source       TEXT NOT NULL CHECK (source IN ('kb', 'case')),
    origin       TEXT NOT NULL CHECK (origin IN ('file', 'sample', 'web', 'case')),
    title        TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',          -- comma-separated
    body         TEXT NOT NULL,                     -- Markdown or plain text, as `kb show` renders it
    format       TEXT NOT NULL DEFAULT 'markdown',  -- markdown | text
    path         TEXT,                              -- file path, page URL, or NULL for a past case
    domain       TEXT,                              -- the customer domain of a past case
    size         INTEGER,                           -- file size and mtime: the cheap "unchanged" test
    mtime_ns     INTEGER,
    content_hash TEXT,
    indexed_at   TEXT NOT NULL
);
CREATE INDEX kb_documents_origin_path ON kb_documents(origin, path);
CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, tags, body,
    tokenize = "ascii tokenchars '_'"
);
CREATE TABLE kb_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""
