"""FTS5's BM25, computed from tsvector positions, so the candidate pool is the one SQLite picks.

threer finds candidates with FTS5's own `bm25()` (field weights 4/2/1, k1 1.2, b 0.75,
IDF log((N - n + 0.5) / (n + 0.5)), at least 1e-6, and the row's length in all fields
against the index's average), then scores them itself (threer.kb.ranking). To rank alike,
the team index computes the same formula: PostgreSQL gives the positions of the query's terms in every
matching row (the row's tsvector cut down to them: `ts_filter(setweight(tsv, 'C', terms),
'{c}')`, far cheaper than unnesting every lexeme), each position's field follows from the
row's field lengths, and the sums are made here in FTS5's order, so equal inputs give equal
scores.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from threer.kb.ranking import FIELD_WEIGHTS

_LEXEME = re.compile(r"'((?:[^']|'')*)':([0-9A-D,]+)")

K1 = 1.2
B = 0.75


def fts5_idf(documents: int, hits: int) -> float:
    value = math.log((documents - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def positions(text: str, title_length: int, tags_length: int) -> dict[str, dict[int, int]]:
    """lexeme -> {position: field} from a tsvector's text (fields laid out as threer.kb.pg.terms does)."""
    tags_end = title_length + 1 + tags_length
    where: dict[str, dict[int, int]] = {}
    for lexeme, spots in _LEXEME.findall(text):
        fields = {}
        for spot in spots.split(","):
            p = int(spot.rstrip("ABCD"))
            fields[p] = 0 if p <= title_length else 1 if p <= tags_end else 2
        where[lexeme.replace("''", "'")] = fields
    return where


def frequency(alternative: tuple[str, ...], where: dict[str, dict[int, int]]) -> float:
    """The field-weighted count of an alternative's instances (a phrase: its terms at consecutive positions)."""
    first = where.get(alternative[0])
    if not first:
        return 0.0
    if len(alternative) == 1:
        return float(sum(FIELD_WEIGHTS[field] for field in first.values()))
    rest = [where.get(t) for t in alternative[1:]]
    if not all(rest):
        return 0.0
    total = 0.0
    for position, field in first.items():
        if all(position + k + 1 in spots for k, spots in enumerate(rest)):  # type: ignore[operator]
            total += FIELD_WEIGHTS[field]
    return total


def scores(
    rows: Iterable[tuple[int, int, int, int, str]],
    alternatives: list[tuple[str, ...]],
    idfs: list[float],
    average_length: float,
) -> dict[int, float]:
    """rowid -> FTS5 BM25, from (rowid, row length, title length, tags length, the tsvector of the query's terms)."""
    out: dict[int, float] = {}
    for rowid, length, title_length, tags_length, text in rows:
        where = positions(text, title_length, tags_length)
        score = 0.0
        norm = K1 * (1 - B + B * length / average_length)
        for alternative, idf in zip(alternatives, idfs):
            f = frequency(alternative, where)
            score += idf * ((f * (K1 + 1.0)) / (f + norm))
        out[rowid] = score
    return out
