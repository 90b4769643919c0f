"""Impact lists: for each document, the few terms that weigh most in it, kept in `kb_top`.

In a large index most words of a query are common: "mail", "error", "send" are in tens
of thousands of articles. When fewer than two of a query's alternatives are selective
(threer.kb.ranking), candidates used to come from FTS5 scoring every document holding
the rarest three common words, which at 100,000 articles is most of the index. Instead,
each document records its TERMS_PER_DOCUMENT heaviest terms with their field-weighted,
length-normalised frequency (the pseudo frequency BM25F saturates, threer.kb.ranking),
and a common word finds the documents where it weighs most by reading the top of its
list. Those candidates are then scored like any others.

A document's entries depend on that document alone (fixed average field lengths), so
they are written and removed with it, in the same transaction, and never go stale.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from operator import itemgetter
from typing import Any

from threer.kb.ranking import DEFAULT_AVERAGES, FIELD_B, FIELD_WEIGHTS, K1, IndexStats, document_count, idf

TERMS_PER_DOCUMENT = 8
_BODY_CANDIDATES = 3 * TERMS_PER_DOCUMENT  # the most frequent body terms considered
_AVERAGES = DEFAULT_AVERAGES  # fixed, so a document's entries never depend on the rest of the index
_skip: frozenset[str] | None = None
INSERT_TOP = "INSERT OR REPLACE INTO kb_top (term, impact, doc) VALUES (?, ?, ?)"


def _skipped() -> frozenset[str]:
    """Terms never searched on their own (stop words, filler): no list is read for them."""
    global _skip
    if _skip is None:
        from threer.kb.analysis import STOP_WORDS, term
        from threer.kb.query import FILLER

        _skip = frozenset(STOP_WORDS | FILLER | {term(w) for w in STOP_WORDS | FILLER})
    return _skip


def top_terms(columns: tuple[str, ...]) -> list[tuple[str, float]]:
    """A document's heaviest searchable terms and their pseudo frequencies, heaviest first."""
    fields = [columns[0].split(), columns[1].split(), columns[2].split()]
    return top_terms_counted([Counter(f) for f in fields], [len(f) for f in fields])


def top_terms_counted(counts: list[Counter[str]], lengths: list[int]) -> list[tuple[str, float]]:
    """`top_terms` from the term counts and lengths of the title, tags and body (the indexer has them)."""
    factors = [
        FIELD_WEIGHTS[i] / (1.0 - FIELD_B[i] + FIELD_B[i] * lengths[i] / _AVERAGES[i]) if lengths[i] else 0.0
        for i in range(3)
    ]
    # sorted(...)[:n] picks as Counter.most_common and heapq.nlargest do (ties in order of first
    # appearance), in C
    frequent = sorted(counts[2].items(), key=itemgetter(1), reverse=True)[:_BODY_CANDIDATES]
    candidates = set(counts[0]) | set(counts[1]) | {t for t, _ in frequent}
    candidates -= _skipped()
    title, tags, body = counts
    scored = [
        (t, title.get(t, 0) * factors[0] + tags.get(t, 0) * factors[1] + body.get(t, 0) * factors[2])
        for t in sorted(candidates)  # sorted: ties fall the same way in every process
    ]
    scored.sort(key=itemgetter(1), reverse=True)
    return scored[:TERMS_PER_DOCUMENT]


def impact_rows(rowid: int, terms: list[tuple[str, float]]) -> list[tuple[str, float, int]]:
    """The `kb_top` rows of one document."""
    return [(t, round(value, 6), rowid) for t, value in terms]


def record(cur: sqlite3.Cursor, rowid: int, terms: list[tuple[str, float]]) -> None:
    cur.executemany(INSERT_TOP, impact_rows(rowid, terms))


def forget(cur: sqlite3.Cursor, rowid: int) -> None:
    cur.execute("DELETE FROM kb_top WHERE doc = ?", (rowid,))


def impact_candidates(
    conn: sqlite3.Connection, stats: IndexStats, alternatives: list[tuple[str, ...]], source: str | None, pool: int
) -> dict[int, float]:
    """rowid -> the BM25F share of these (single-term) alternatives, for the documents where they weigh most.

    Each alternative's list is read from the top, `pool` entries; a document on several
    lists adds up. Multi-word alternatives have no list and are left out.
    """
    scores: dict[int, float] = {}
    sql = "SELECT doc, impact FROM kb_top WHERE term = ? ORDER BY impact DESC LIMIT ?"
    if source:
        sql = ("SELECT t.doc, t.impact FROM kb_top AS t JOIN kb_documents AS d ON d.rowid = t.doc "
               "WHERE t.term = ? AND d.source = ? ORDER BY t.impact DESC LIMIT ?")
    for alt in alternatives:
        if len(alt) != 1:
            continue
        weight = idf(stats, document_count(conn, stats, alt))
        args: list[Any] = [alt[0], source, pool] if source else [alt[0], pool]
        try:
            rows = conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # an index from before impact lists, opened read-only
            return {}
        for doc, impact in rows:
            scores[doc] = scores.get(doc, 0.0) + weight * impact * (K1 + 1.0) / (impact + K1)
    best = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[:pool]
    return dict(best)
