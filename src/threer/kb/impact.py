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

import heapq
import sqlite3
from collections import Counter
from operator import itemgetter
from typing import Any

from threer.kb.ranking import FIELD_B, FIELD_WEIGHTS, K1, IndexStats, document_count, idf

TERMS_PER_DOCUMENT = 8
_BODY_CANDIDATES = 3 * TERMS_PER_DOCUMENT  # the most frequent body terms considered
_AVERAGES = (8.0, 4.0, 400.0)  # fixed, so a document's entries never depend on the rest of the index
_skip: frozenset[str] | None = None


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
    counts = [Counter(f) for f in fields]
    factors = [
        FIELD_WEIGHTS[i] / (1.0 - FIELD_B[i] + FIELD_B[i] * len(fields[i]) / _AVERAGES[i]) if fields[i] else 0.0
        for i in range(3)
    ]
    candidates = set(counts[0]) | set(counts[1]) | {t for t, _ in counts[2].most_common(_BODY_CANDIDATES)}
    candidates -= _skipped()
    scored = [
        (t, counts[0].get(t, 0) * factors[0] + counts[1].get(t, 0) * factors[1] + counts[2].get(t, 0) * factors[2])
        for t in sorted(candidates)  # sorted: ties fall the same way in every process
    ]
    return heapq.nlargest(TERMS_PER_DOCUMENT, scored, key=itemgetter(1))


def record(cur: sqlite3.Cursor, rowid: int, terms: list[tuple[str, float]]) -> None:
    cur.executemany("INSERT OR REPLACE INTO kb_top (term, impact, doc) VALUES (?, ?, ?)",
                    [(t, round(value, 6), rowid) for t, value in terms])


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
