"""Reading and writing KB documents: one row in `kb_documents`, its shadow row in `kb_fts`.

Every write goes through `put_document` / `delete_document` inside the caller's
transaction, so the table and the FTS index never disagree.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime, timezone
from typing import Any, NamedTuple

from threer.errors import NotFound
from threer.safe_text import is_storable, quoted
from threer.kb.analysis import analyzer_signature, index_text, plain_text
from threer.kb.models import KbDocument
from threer.kb.spelling import MIN_LENGTH, record_terms

SAMPLE_ROOT = "sample:"
INSERT_FTS = "INSERT INTO kb_fts (rowid, title, tags, body, ptitle, ptags, pbody) VALUES (?, ?, ?, ?, ?, ?, ?)"


class Analysed(NamedTuple):
    """What indexing a document writes, from one analysis of its text."""

    columns: tuple[str, str, str, str, str, str]  # the FTS columns (threer.kb.phrases.indexed_columns)
    impact: list[tuple[str, float]]  # its kb_top entries (threer.kb.impact.top_terms)
    words: set[str]  # its distinct terms in title, tags and body

    def spelling(self, known: set[str] | frozenset[str] = frozenset()) -> set[str]:
        """Its terms worth keeping for typo correction (threer.kb.spelling.spell_terms), but not `known` ones."""
        return {t for t in self.words - known if len(t) >= MIN_LENGTH and t.isalpha() and t.isascii()}


def analyse(title: str, tags: list[str] | str, plain: str) -> Analysed:
    """The FTS columns, impact list and distinct terms of a document, its text split and counted once."""
    from threer.kb.impact import top_terms_counted
    from threer.kb.phrases import builtin_phrases

    columns = index_text(title, tags, plain)
    fields = [column.split() for column in columns]
    counts = [Counter(field) for field in fields]
    phrases = builtin_phrases()
    joined = [phrases.column_of(field, count) for field, count in zip(fields, counts)]
    words = set(counts[2])
    words.update(counts[0], counts[1])
    return Analysed(
        (columns[0], columns[1], columns[2], joined[0], joined[1], joined[2]),
        top_terms_counted(counts, [len(field) for field in fields]),
        words,
    )


_DOCUMENT_COLUMNS = (  # the kb_documents columns put_document writes
    "doc_id", "source", "origin", "title", "tags", "body", "format", "path", "domain", "size", "mtime_ns",
    "content_hash", "indexed_at",
)
_INSERT_DOCUMENT = (f"INSERT INTO kb_documents ({', '.join(_DOCUMENT_COLUMNS)}) "
                    f"VALUES ({', '.join('?' for _ in _DOCUMENT_COLUMNS)})")
INSERT_DOCUMENT_AT = (f"INSERT INTO kb_documents (rowid, {', '.join(_DOCUMENT_COLUMNS)}) "
                      f"VALUES ({', '.join('?' for _ in range(len(_DOCUMENT_COLUMNS) + 1))})")
_UPDATE_DOCUMENT = f"UPDATE kb_documents SET {', '.join(f'{c} = ?' for c in _DOCUMENT_COLUMNS)} WHERE rowid = ?"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def put_document(
    cur: sqlite3.Cursor,
    *,
    doc_id: str,
    source: str,
    origin: str,
    title: str,
    tags: list[str],
    body: str,
    fmt: str,
    path: str | None,
    domain: str | None = None,
    size: int | None = None,
    mtime_ns: int | None = None,
    content_hash: str | None = None,
    shadow_columns: tuple[str, ...] | None = None,
    replace_rowid: int | None = None,
    indexed_at: str | None = None,
    record_spelling: bool = True,
    impact: list[tuple[str, float]] | None = None,
    new: bool = False,
) -> int:
    """Insert or replace a document (matched by `replace_rowid`, else by id); return its rowid.

    `new`: the caller has just seen that no document has this id (nothing to look up).

    An article's terms join the spelling list (`record_spelling=False`: the caller does it);
    a past case's never do, so no customer's words outlive the case.
    """
    from threer.kb import impact as impact_lists

    if shadow_columns is None:
        analysed = analyse(title, tags, plain_text(body, fmt))
        shadow_columns = analysed.columns
        if impact is None:
            impact = analysed.impact
        if record_spelling and source == "kb":
            record_terms(cur, analysed.spelling())
    elif record_spelling and source == "kb":
        from threer.kb.spelling import spell_terms

        record_terms(cur, spell_terms(shadow_columns[:3]))
    columns = shadow_columns
    values: dict[str, Any] = {
        "doc_id": doc_id,
        "source": source,
        "origin": origin,
        "title": title,
        "tags": ", ".join(tags),
        "body": body,
        "format": fmt,
        "path": path,
        "domain": domain,
        "size": size,
        "mtime_ns": mtime_ns,
        "content_hash": content_hash,
        "indexed_at": indexed_at or now_iso(),
    }
    rowid = replace_rowid
    if rowid is None and not new:
        row = cur.execute("SELECT rowid FROM kb_documents WHERE doc_id = ?", (doc_id,)).fetchone()
        rowid = row[0] if row else None
    if rowid is None:
        cur.execute(_INSERT_DOCUMENT, [values[name] for name in _DOCUMENT_COLUMNS])
        rowid = cur.lastrowid
    else:
        cur.execute(_UPDATE_DOCUMENT, [*(values[name] for name in _DOCUMENT_COLUMNS), rowid])
        cur.execute("DELETE FROM kb_fts WHERE rowid = ?", (rowid,))
        impact_lists.forget(cur, rowid)
    cur.execute(INSERT_FTS, (rowid, *columns))
    assert rowid is not None
    impact_lists.record(cur, rowid, impact if impact is not None else impact_lists.top_terms(columns))
    return rowid


def delete_rowid(cur: sqlite3.Cursor, rowid: int) -> None:
    from threer.kb.impact import forget

    forget(cur, rowid)
    cur.execute("DELETE FROM kb_fts WHERE rowid = ?", (rowid,))
    cur.execute("DELETE FROM kb_documents WHERE rowid = ?", (rowid,))


def delete_document(cur: sqlite3.Cursor, doc_id: str) -> bool:
    row = cur.execute("SELECT rowid FROM kb_documents WHERE doc_id = ?", (doc_id,)).fetchone()
    if row is None:
        return False
    delete_rowid(cur, row[0])
    return True


def _document(row: sqlite3.Row) -> KbDocument:
    return KbDocument(
        id=row["doc_id"],
        title=row["title"],
        source=row["source"],
        origin=row["origin"],
        tags=[t.strip() for t in row["tags"].split(",") if t.strip()],
        body=row["body"],
        format=row["format"],
        path=row["path"],
        domain=row["domain"],
        indexed_at=row["indexed_at"],
    )


def find_document(store: Any, doc_id: str) -> KbDocument:
    """The document with this id in whatever `SessionStore.kb_index()` returned; NotFound otherwise."""
    from threer.kb.backend import is_team_index

    if is_team_index(store):
        return store.get_document(doc_id)  # type: ignore[no-any-return]
    return get_document(store.conn, doc_id)


def article_dates(store: Any) -> list[tuple[str, str, str]]:
    """(doc_id, origin, indexed_at) of every article (not past case) in the index."""
    from threer.kb.backend import is_team_index

    if is_team_index(store):
        return store.article_dates()  # type: ignore[no-any-return]
    rows = store.conn.execute("SELECT doc_id, origin, indexed_at FROM kb_documents WHERE source = 'kb'")
    return [(r[0], r[1], r[2]) for r in rows]


def check_document_id(wanted: str) -> None:
    """NotFound for text no id can be: too long, or bytes that are not UTF-8."""
    if len(wanted) > 500 or not is_storable(wanted):
        raise NotFound(f"No article or past case with id {quoted(wanted, 60)}. Run `threer kb search WORDS` to find the ids.")


def id_candidates(wanted: str) -> list[str]:
    """The ids a typed id may mean, in order: as typed, then as a past case's id (a bare session id)."""
    if not wanted.lower().startswith("case:"):
        return [wanted, "case:" + wanted.upper()]
    return [wanted, "case:" + wanted[5:].strip().upper()]


def get_document(conn: sqlite3.Connection, doc_id: str) -> KbDocument:
    """The document with this id; a bare session id finds its past case. NotFound otherwise."""
    wanted = doc_id.strip()
    check_document_id(wanted)
    for candidate in id_candidates(wanted):
        row = conn.execute("SELECT * FROM kb_documents WHERE doc_id = ?", (candidate,)).fetchone()
        if row is not None:
            return _document(row)
    row = conn.execute("SELECT * FROM kb_documents WHERE doc_id = ? COLLATE NOCASE", (wanted,)).fetchone()
    if row is not None:
        return _document(row)
    raise NotFound(
        f"No article or past case with id {quoted(wanted, 60)}. Run `threer kb search WORDS` to find the ids."
    )


# -- the analyser version: a changed analysis means rebuilding the FTS rows ------------


def get_meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM kb_meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def set_meta(cur: sqlite3.Cursor, key: str, value: str) -> None:
    cur.execute(
        "INSERT INTO kb_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def ensure_analyzer(store: Any) -> bool:
    """Rebuild the FTS rows when they were made by another analysis; True if it did.

    The index's joined thesaurus phrases (threer.kb.phrases) are recorded with the
    analyser signature, in the same transaction, so a search knows which phrases it may
    look up as single terms.
    """
    from threer.kb.backend import is_team_index
    from threer.kb import impact as impact_lists
    from threer.kb.phrases import META_KEY, builtin_phrases

    if is_team_index(store):
        return store.ensure_analyzer()  # type: ignore[no-any-return]
    signature = analyzer_signature()
    if get_meta(store.conn, "analyzer") == signature:
        return False
    with store.transaction() as cur:
        if get_meta(store.conn, "analyzer") == signature:  # another process just rebuilt
            return False
        count = cur.execute("SELECT count(*) FROM kb_documents").fetchone()[0]
        if count:
            cur.execute("DELETE FROM kb_fts")
            cur.execute("DELETE FROM kb_spell")
            cur.execute("DELETE FROM kb_top")
            rows = store.conn.execute("SELECT rowid, title, tags, body, format, source FROM kb_documents").fetchall()
            spelling: set[str] = set()
            for row in rows:
                analysed = analyse(row["title"], row["tags"], plain_text(row["body"], row["format"]))
                cur.execute(INSERT_FTS, (row[0], *analysed.columns))
                impact_lists.record(cur, row[0], analysed.impact)
                if row["source"] == "kb":
                    spelling |= analysed.spelling(spelling)
            record_terms(cur, spelling)
        cur.execute("DELETE FROM kb_meta WHERE key = 'synonym_table'")  # left by threer 0.1
        set_meta(cur, META_KEY, builtin_phrases().to_json())
        set_meta(cur, "analyzer", signature)
    return bool(count)
