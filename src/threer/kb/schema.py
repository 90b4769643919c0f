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
    path         TEXT,                              -- file path, page URL, or NULL for a past case
    size         INTEGER,                           -- file size and mtime: the cheap "unchanged" test
    mtime_ns     INTEGER,
    content_hash TEXT,
    format       TEXT NOT NULL DEFAULT 'markdown',  -- markdown | text
    domain       TEXT,                              -- the customer domain of a past case
    indexed_at   TEXT NOT NULL,
    title        TEXT NOT NULL,
    tags         TEXT NOT NULL DEFAULT '',          -- comma-separated
    body         TEXT NOT NULL                      -- Markdown or plain text, as `kb show` renders it (last: it is long)
);
-- covers the re-index scan, which reads these for every file under a folder
CREATE INDEX kb_documents_files ON kb_documents(origin, path, size, mtime_ns, content_hash, doc_id);
CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, tags, body,
    tokenize = "ascii tokenchars '_'"
);
-- bulk indexing: bigger leaf pages, one segment per transaction, fewer merges on the way
INSERT INTO kb_fts (kb_fts, rank) VALUES ('pgsz', 8000);
INSERT INTO kb_fts (kb_fts, rank) VALUES ('hashsize', 67108864);
INSERT INTO kb_fts (kb_fts, rank) VALUES ('automerge', 8);
CREATE TABLE kb_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""

# What threer learns from outcomes, and the words of the index for typo correction.
LEARNING_SQL = """
-- an article or past case that solved (or did not solve) a triage session's issue
CREATE TABLE kb_feedback (
    id         INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('solved', 'helped', 'not-helpful')),
    issue      TEXT NOT NULL,       -- the session's issue and error text, as searched
    created_at TEXT NOT NULL,
    UNIQUE (session_id, doc_id)
);
CREATE INDEX kb_feedback_session ON kb_feedback(session_id);
-- the analysed issue text of each feedback row (same rowid), searched like the articles
CREATE VIRTUAL TABLE kb_feedback_fts USING fts5(issue, tokenize = "ascii tokenchars '_'");
-- every alphabetic term of the indexed articles (not of past cases), by length: typo correction
CREATE TABLE kb_spell (
    len  INTEGER NOT NULL,
    term TEXT NOT NULL,
    PRIMARY KEY (len, term)
) WITHOUT ROWID;
"""

# Thesaurus phrases as single terms (threer.kb.phrases): kb_fts gains three columns that hold
# each document's joined phrases, and is rebuilt from kb_documents on first use (ensure_analyzer).
PHRASES_SQL = """
DROP TABLE kb_fts;
CREATE VIRTUAL TABLE kb_fts USING fts5(
    title, tags, body, ptitle, ptags, pbody,
    tokenize = "ascii tokenchars '_'"
);
INSERT INTO kb_fts (kb_fts, rank) VALUES ('pgsz', 8000);
INSERT INTO kb_fts (kb_fts, rank) VALUES ('hashsize', 67108864);
INSERT INTO kb_fts (kb_fts, rank) VALUES ('automerge', 8);
DELETE FROM kb_meta WHERE key IN ('analyzer', 'thesaurus', 'phrases');
"""

# Impact lists (threer.kb.impact): each document's heaviest terms, so a query of common words reads
# the top of a list instead of scoring every document that holds them; filled on first use.
IMPACT_SQL = """
CREATE TABLE kb_top (
    term   TEXT NOT NULL,
    impact REAL NOT NULL,
    doc    INTEGER NOT NULL,
    PRIMARY KEY (term, impact, doc)
) WITHOUT ROWID;
CREATE INDEX kb_top_doc ON kb_top(doc);
DELETE FROM kb_meta WHERE key = 'analyzer';
"""
