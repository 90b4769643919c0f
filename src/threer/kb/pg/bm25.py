"""FTS5's BM25, computed from tsvector positions, so the candidate pool is the one SQLite picks.

threer finds candidates with FTS5's own `bm25()` (field weights 4/2/1, k1 1.2, b 0.75,
IDF log((N - n + 0.5) / (n + 0.5)), at least 1e-6, and the row's length in all fields
against the index's average), then scores them itself (threer.kb.ranking). To rank alike,
the team index computes the same formula: PostgreSQL gives the positions and field
labels of the query's terms in every matching row, and the sums are made here in FTS5's
order, so equal inputs give equal scores.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from threer.kb.pg.terms import LABEL_FIELD
from threer.kb.ranking import FIELD_WEIGHTS

K1 = 1.2
B = 0.75


def fts5_idf(documents: int, hits: int) -> float:
    value = math.log((documents - hits + 0.5) / (hits + 0.5))
    return value if value > 0.0 else 1e-6


def frequency(alternative: tuple[str, ...], where: dict[str, dict[int, str]]) -> float:
    """The field-weighted count of an alternative's instances (a phrase: its terms at consecutive positions)."""
    first = where.get(alternative[0])
    if not first:
        return 0.0
    if len(alternative) == 1:
        return float(sum(FIELD_WEIGHTS[LABEL_FIELD[label]] for label in first.values()))
    rest = [where.get(t) for t in alternative[1:]]
    if not all(rest):
        return 0.0
    total = 0.0
    for position, label in first.items():
        if all(position + k + 1 in spots for k, spots in enumerate(rest)):  # type: ignore[operator]
            total += FIELD_WEIGHTS[LABEL_FIELD[label]]
    return total


def scores(
    rows: Iterable[tuple[int, int, str, list[int], list[str]]],
    alternatives: list[tuple[str, ...]],
    idfs: list[float],
    average_length: float,
) -> dict[int, float]:
    """rowid -> FTS5 BM25, from (rowid, row length, lexeme, positions, labels) of the query's terms."""
    rows_by_id: dict[int, tuple[int, dict[str, dict[int, str]]]] = {}
    for rowid, length, lexeme, positions, labels in rows:
        entry = rows_by_id.get(rowid)
        if entry is None:
            entry = rows_by_id[rowid] = (length, {})
        entry[1][lexeme] = dict(zip(positions, labels))
    out: dict[int, float] = {}
    for rowid, (length, where) in rows_by_id.items():
        score = 0.0
        norm = K1 * (1 - B + B * length / average_length)
        for alternative, idf in zip(alternatives, idfs):
            f = frequency(alternative, where)
            score += idf * ((f * (K1 + 1.0)) / (f + norm))
        out[rowid] = score
    return out
