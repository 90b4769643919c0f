"""Scoring documents against a query plan: BM25F over title, tags and body, computed here.

Every concept of a plan (a typed word, an error code, a quoted phrase, a corrected
typo, a thesaurus group, a term from the best candidates) has a weight and one or more
alternatives (term sequences). A document's score for a concept is the best of its
alternatives: IDF(alternative) x saturated field-weighted term frequency (BM25F); the
document's score is the weighted sum over concepts, divided by the most any document
could get, so it lies in 0..1.

Candidates come from FTS5 first (an OR of the selective alternatives: those in at most
2,000 documents or 2% of the index, ranked by FTS5's own BM25 with the same field
weights); only they are scored here, from their analysed text. IDF uses each
alternative's document count over the whole index (counted up to 2,000 or 2% of the
index; a word more common than that counts as being in a third of it). At most the 16
rarest alternatives find candidates.
"""

from __future__ import annotations

import math
import sqlite3
from itertools import zip_longest
from dataclasses import dataclass, field
from typing import Any

# the field lengths (title, tags, body) of an index with no documents yet, and of the impact lists
DEFAULT_AVERAGES = (8.0, 4.0, 400.0)

FIELD_WEIGHTS = (4.0, 2.0, 1.0)  # title, tags, body
FTS_WEIGHTS = ", ".join(str(w) for w in FIELD_WEIGHTS * 2)  # bm25(): the joined phrases of each field weigh alike
FIELD_B = (0.4, 0.4, 0.75)  # length normalisation per field
K1 = 1.2
COMMON_SHARE = 0.02  # an alternative in more of the index than this (and than SELECTIVE_DOCUMENTS) does not
SELECTIVE_DOCUMENTS = 2000  # find candidates: it weighs little, and FTS5 would score every row holding it
COUNT_CAP = 2000  # documents counted for one term's IDF, at least
COUNT_CAP_SHARE = 0.02  # or this share of the index
CANDIDATE_TERMS = 16  # the rarest alternatives that find candidates (a long call has dozens)
SCAN_TERMS = 6000  # terms of a body examined (articles are a few hundred; a pasted log may be huge)


@dataclass(frozen=True)
class Concept:
    """One thing the query asks for; any of its alternatives (term tuples) satisfies it."""

    alternatives: tuple[tuple[str, ...], ...]
    weight: float
    kind: str  # word | code | phrase | thesaurus | feedback
    label: str = ""


@dataclass
class IndexStats:
    """Counts over the whole index that BM25 needs, read once per search (cached per connection)."""

    documents: int
    average_lengths: tuple[float, float, float]
    df_cache: dict[tuple[str, ...], int] = field(default_factory=dict)
    phrases: frozenset[tuple[str, ...]] = frozenset()  # held as single terms (threer.kb.phrases)
    titled: dict[str, bool] = field(default_factory=dict)  # whether any title or tag holds a term


# id(conn) -> (the connection itself, its (data_version, total_changes), the stats): the connection is
# kept so its id cannot be reused by a later one while the entry lives, and compared by identity
_stats_cache: dict[int, tuple[sqlite3.Connection, tuple[int, int], IndexStats]] = {}


def _varints(blob: bytes) -> list[int]:
    """SQLite's variable-length integers, as FTS5 writes them in its averages record."""
    values, i = [], 0
    while i < len(blob):
        value = 0
        for k in range(9):
            byte = blob[i]
            i += 1
            if k == 8:
                value = (value << 8) | byte
                break
            value = (value << 7) | (byte & 0x7F)
            if not byte & 0x80:
                break
        values.append(value)
    return values


def index_stats(conn: sqlite3.Connection) -> IndexStats:
    """N and the average analysed length of each column; kept until another connection writes."""
    version = conn.execute("PRAGMA data_version").fetchone()[0]
    changes = conn.total_changes
    key = id(conn)
    cached = _stats_cache.get(key)
    if cached is not None and cached[0] is conn and cached[1] == (version, changes):
        return cached[2]
    row = conn.execute("SELECT block FROM kb_fts_data WHERE id = 1").fetchone()
    numbers = _varints(row[0]) if row and row[0] else []
    if len(numbers) >= 4 and numbers[0] > 0:
        n = numbers[0]
        averages = tuple(max(1.0, total / n) for total in numbers[1:4])
    else:  # an empty index, or a layout this code does not know: count instead
        n = conn.execute("SELECT count(*) FROM kb_fts").fetchone()[0]
        averages = DEFAULT_AVERAGES
    from threer.kb.phrases import index_phrases

    stats = IndexStats(documents=n, average_lengths=averages, phrases=index_phrases(conn))  # type: ignore[arg-type]
    if len(_stats_cache) > 16:
        _stats_cache.clear()
    _stats_cache[key] = (conn, (version, changes), stats)
    return stats


def fts_phrase(alternative: tuple[str, ...], joined: frozenset[tuple[str, ...]] = frozenset()) -> str:
    """An FTS5 query for one alternative; a phrase the index holds as one term (`joined`) is that term."""
    if len(alternative) > 1 and alternative in joined:
        from threer.kb.phrases import joined as joined_term

        return '"' + joined_term(alternative) + '"'
    return '"' + " ".join(alternative).replace('"', '""') + '"'


def document_count(conn: sqlite3.Connection, stats: IndexStats, alternative: tuple[str, ...]) -> int:
    """How many documents hold `alternative`; counted up to a cap, beyond it estimated.

    Counting walks every document holding the term, and a word in most of a large index
    weighs almost nothing whatever its exact count: past COUNT_CAP it counts as a third of
    the index.
    """
    cached = stats.df_cache.get(alternative)
    if cached is None:
        cap = max(COUNT_CAP, int(stats.documents * COUNT_CAP_SHARE))
        sql = "SELECT count(*) FROM (SELECT 1 FROM kb_fts WHERE kb_fts MATCH ? LIMIT ?)"
        counted = conn.execute(sql, (fts_phrase(alternative, stats.phrases), cap + 1)).fetchone()[0]
        cached = counted if counted <= cap else max(cap, stats.documents // 3)
        stats.df_cache[alternative] = cached
    return cached


def idf(stats: IndexStats, df: int) -> float:
    n = max(stats.documents, 1)
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def candidates(
    index: Any, stats: IndexStats, concepts: list[Concept], source: str | None, pool: int
) -> dict[int, float]:
    """Rows worth scoring: the BM25 best for an OR of the selective alternatives.

    `index` is the KB index being searched (threer.kb.backend.KbIndex).
    """
    selective: list[tuple[int, float, tuple[str, ...]]] = []
    for concept in concepts:
        for alt in concept.alternatives:
            df = index.document_count(stats, alt)
            if df:
                selective.append((df, -concept.weight, alt))
    if not selective:
        return {}
    limit = max(SELECTIVE_DOCUMENTS, int(stats.documents * COMMON_SHARE))
    chosen = [alt for df, _, alt in selective if df <= limit]
    if len(chosen) < 2:  # (nearly) every word is common: the rarest few still decide
        # rarest first; among words counted past the cap (all alike), the heavier: the words typed
        # before the thesaurus's, so "SPF password" looks for spf and password, not "permit sender"
        rarest = list(dict.fromkeys(alt for _, _, alt in sorted(selective)))[:3]
        common = [alt for alt in rarest if alt not in chosen]
        listed = getattr(index, "impact_candidates", None)
        singles = [alt for alt in common if len(alt) == 1]
        if listed is not None and singles and all(len(alt) == 1 or alt in stats.phrases for alt in common):
            # where the common words weigh most (threer.kb.impact), not every document holding them; a
            # common thesaurus phrase (held as one term) has no list, and leaves candidates to the words
            found = index.best(chosen, source, pool) if chosen else {}
            return _interleave(found, listed(stats, singles, source, pool), pool)
        chosen = list(dict.fromkeys(chosen + common))
    rarity = {alt: df for df, _, alt in selective}
    chosen = sorted(dict.fromkeys(chosen), key=lambda alt: rarity[alt])[:CANDIDATE_TERMS]
    return index.best(chosen, source, pool)  # type: ignore[no-any-return]


def _interleave(first: dict[int, float], second: dict[int, float], pool: int) -> dict[int, float]:
    """The best of two rankings taken in turn (their scores are on different scales), up to `pool` rows."""
    orders = [sorted(d, key=lambda rowid: (-d[rowid], rowid)) for d in (first, second)]
    merged: dict[int, float] = {}
    for pair in zip_longest(*orders):
        for rowid in pair:
            if rowid is not None and len(merged) < pool:
                merged.setdefault(rowid, 0.0)
    return merged


def best_bm25(
    conn: sqlite3.Connection,
    chosen: list[tuple[str, ...]],
    source: str | None,
    pool: int,
    phrases: frozenset[tuple[str, ...]] = frozenset(),
) -> dict[int, float]:
    """FTS5's BM25 (FIELD_WEIGHTS) of the `pool` best rows holding any alternative; ties by rowid.

    `phrases`: the phrases the index holds as single terms (IndexStats.phrases).
    """
    unique = list(dict.fromkeys(chosen))
    expression = " OR ".join(fts_phrase(alt, phrases) for alt in unique)
    args: list[Any] = [expression]
    sql = f"SELECT kb_fts.rowid, -bm25(kb_fts, {FTS_WEIGHTS}) FROM kb_fts"
    if source:
        sql += " JOIN kb_documents AS d ON d.rowid = kb_fts.rowid WHERE kb_fts MATCH ? AND d.source = ?"
        args.append(source)
    else:
        sql += " WHERE kb_fts MATCH ?"
    sql += " ORDER BY 2 DESC, kb_fts.rowid LIMIT ?"
    args.append(pool)
    return {rowid: score for rowid, score in conn.execute(sql, args)}


def score_documents(
    index: Any, stats: IndexStats, concepts: list[Concept], rows: list[tuple[int, str, str, str]]
) -> tuple[dict[int, float], dict[int, list[int]]]:
    """(rowid -> score in 0..1, rowid -> indexes of the concepts it matched); `index` is a KbIndex."""
    # every alternative once: its IDF, and which concepts (with their weights) it serves
    alt_idf: dict[tuple[str, ...], float] = {}
    serves: dict[tuple[str, ...], list[int]] = {}
    ceiling = 0.0
    for number, concept in enumerate(concepts):
        best_idf = 0.0
        for alt in concept.alternatives:
            df = index.document_count(stats, alt)
            if df:
                value = alt_idf.setdefault(alt, idf(stats, df))
                serves.setdefault(alt, []).append(number)
                best_idf = max(best_idf, value)
        ceiling += concept.weight * best_idf * (K1 + 1.0)
    singles: dict[str, tuple[str, ...]] = {alt[0]: alt for alt in alt_idf if len(alt) == 1}
    # a phrase is counted in a field only when the field holds every one of its words
    phrases = [(alt, frozenset(alt), " " + " ".join(alt) + " ") for alt in alt_idf if len(alt) > 1]
    wanted = set(singles).union(*(words for _, words, _ in phrases))
    weights = [c.weight for c in concepts]
    avg = stats.average_lengths
    k1 = K1
    scores: dict[int, float] = {}
    matched: dict[int, list[int]] = {}
    for rowid, *columns in rows:
        fields = [columns[0].split(), columns[1].split(), columns[2].split()[:SCAN_TERMS]]
        norms = [1.0 - FIELD_B[i] + FIELD_B[i] * len(fields[i]) / avg[i] for i in range(3)]
        pseudo: dict[tuple[str, ...], float] = {}
        for i in range(3):
            field_terms = fields[i]
            present = wanted.intersection(field_terms)
            if not present:
                continue
            factor = FIELD_WEIGHTS[i] / norms[i]
            for t in present:
                single = singles.get(t)
                if single is not None:
                    pseudo[single] = pseudo.get(single, 0.0) + factor * field_terms.count(t)
            padded = ""
            for alt, words, needle in phrases:
                if words <= present:
                    padded = padded or " " + " ".join(field_terms) + " "
                    tf = padded.count(needle)
                    if tf:
                        pseudo[alt] = pseudo.get(alt, 0.0) + factor * tf
        best: dict[int, float] = {}
        for alt, value in pseudo.items():
            s = alt_idf[alt] * value * (k1 + 1.0) / (value + k1)
            for number in serves[alt]:
                if s > best.get(number, 0.0):
                    best[number] = s
        numbers = sorted(best)  # summed in the concepts' order: the same score in every process
        total = sum(weights[number] * best[number] for number in numbers)
        scores[rowid] = total / ceiling if ceiling else 0.0
        matched[rowid] = numbers
    return scores, matched
