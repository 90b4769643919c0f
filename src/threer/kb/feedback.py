"""Learning from outcomes: which article or past case solved which issue, and using it.

When a triage records in `research.prior` or `research.kb` that an article or past case
solved the problem (or helped), the session's issue and error text is stored beside the
document's id (`kb_feedback`, searched through `kb_feedback_fts`). A later search whose
words are like a stored issue lifts the documents that solved it: the more alike, and
the more sessions agree, the more. Rows leave with their session (delete or purge), so
no customer's words outlive it.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from threer.kb.analysis import analysed_column

OUTCOMES = ("solved", "helped", "not-helpful")
OUTCOME_WEIGHT = {"solved": 1.0, "helped": 0.5, "not-helpful": 0.0}
MAX_BOOST = 1.0  # the most a document can gain, on a 0..1 score scale (a perfect text match scores 1)
MATCHES = 50  # stored issues looked at per search
MIN_SIMILARITY = 0.25  # a stored issue less alike than this lifts nothing


def record_outcome(cur: sqlite3.Cursor, *, session_id: str, doc_id: str, outcome: str, issue: str) -> None:
    """Store (or update) that `doc_id` had `outcome` for a session's issue, inside the caller's transaction."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    issue = " ".join((issue or "").split())[:4000]
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    row = cur.execute(
        "SELECT id FROM kb_feedback WHERE session_id = ? AND doc_id = ?", (session_id, doc_id)
    ).fetchone()
    if row is not None:
        cur.execute("UPDATE kb_feedback SET outcome = ?, issue = ?, created_at = ? WHERE id = ?",
                    (outcome, issue, now, row[0]))
        cur.execute("DELETE FROM kb_feedback_fts WHERE rowid = ?", (row[0],))
        rowid = row[0]
    else:
        cur.execute(
            "INSERT INTO kb_feedback (session_id, doc_id, outcome, issue, created_at) VALUES (?, ?, ?, ?, ?)",
            (session_id, doc_id, outcome, issue, now),
        )
        rowid = cur.lastrowid
    cur.execute("INSERT INTO kb_feedback_fts (rowid, issue) VALUES (?, ?)", (rowid, analysed_column(issue)))


def record_outcomes(store: Any, *, session_id: str, issue: str, outcomes: dict[str, str]) -> int:
    """Learn a session's outcomes ({doc id as typed: outcome}) in whatever `SessionStore.kb_index()` returned.

    Ids in no index, and the session's own past case, are left out; returns how many were stored.
    """
    from threer.kb.backend import is_team_index

    if is_team_index(store):
        return store.record_outcomes(session_id=session_id, issue=issue, outcomes=outcomes)  # type: ignore[no-any-return]
    own_case = f"case:{session_id}".upper()
    count = 0
    with store.transaction() as cur:
        for doc_id, outcome in outcomes.items():
            row = cur.execute(
                "SELECT doc_id FROM kb_documents WHERE doc_id = ? OR doc_id = ? COLLATE NOCASE", (doc_id, doc_id)
            ).fetchone()
            if row is None or row[0].upper() == own_case:
                continue
            record_outcome(cur, session_id=session_id, doc_id=row[0], outcome=outcome, issue=issue)
            count += 1
    return count


def forget_session(cur: sqlite3.Cursor, session_id: str) -> None:
    """Remove what a session taught (the session is being deleted or purged)."""
    ids = [r[0] for r in cur.execute("SELECT id FROM kb_feedback WHERE session_id = ?", (session_id,))]
    for rowid in ids:
        cur.execute("DELETE FROM kb_feedback_fts WHERE rowid = ?", (rowid,))
    cur.execute("DELETE FROM kb_feedback WHERE session_id = ?", (session_id,))


def outcomes_for(conn: sqlite3.Connection, session_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT doc_id, outcome, created_at FROM kb_feedback WHERE session_id = ? ORDER BY id", (session_id,)
    )
    return [{"id": r[0], "outcome": r[1], "at": r[2]} for r in rows]


def learned_boosts(conn: sqlite3.Connection, plan: Any, source: str | None) -> dict[int, float]:
    """rowid -> how much to lift it, from stored issues like this query that it solved."""
    words = [c for c in plan.concepts if c.kind in ("word", "code", "phrase")]
    if not words:
        return {}
    try:
        total_rows = conn.execute("SELECT count(*) FROM kb_feedback").fetchone()[0]
    except sqlite3.OperationalError:  # a database from before migration 6, opened read-only
        return {}
    if not total_rows:
        return {}
    # how alike: the IDF-weighted share of the query's words that a stored issue holds
    n = total_rows
    weights: dict[tuple[str, ...], float] = {}
    for concept in words:
        for alt in concept.alternatives[:1]:
            df = conn.execute(
                "SELECT count(*) FROM kb_feedback_fts WHERE kb_feedback_fts MATCH ?", ('"' + " ".join(alt) + '"',)
            ).fetchone()[0]
            if df:
                weights[alt] = concept.weight * math.log(1.0 + (n + 1) / df)
    if not weights:
        return {}
    ceiling = sum(concept.weight * math.log(1.0 + (n + 1) / 1) for concept in words)
    expression = " OR ".join('"' + " ".join(alt) + '"' for alt in weights)
    rows = conn.execute(
        "SELECT f.doc_id, f.outcome, t.issue FROM kb_feedback_fts AS t JOIN kb_feedback AS f ON f.id = t.rowid "
        "WHERE kb_feedback_fts MATCH ? ORDER BY bm25(kb_feedback_fts) LIMIT ?",
        (expression, MATCHES),
    ).fetchall()
    per_doc = votes(rows, weights, ceiling)
    if not per_doc:
        return {}
    marks = ", ".join("?" for _ in per_doc)
    sql = f"SELECT doc_id, rowid, source FROM kb_documents WHERE doc_id IN ({marks})"
    return boosts_from(per_doc, conn.execute(sql, list(per_doc)), source)


def votes(rows: Iterable[tuple[str, str, str]], weights: dict[tuple[str, ...], float],
          ceiling: float) -> dict[str, list[float]]:
    """doc id -> what each stored session like the query says of it: (doc_id, outcome, analysed issue)
    rows, each worth its IDF-weighted likeness to the query times its outcome's weight (both backends)."""
    per_doc: dict[str, list[float]] = {}
    for doc_id, outcome, issue in rows:
        present = set(issue.split())
        similarity = sum(w for alt, w in weights.items() if all(t in present for t in alt)) / ceiling
        value = similarity * OUTCOME_WEIGHT.get(outcome, 0.0)
        if similarity >= MIN_SIMILARITY and value > 0:
            per_doc.setdefault(doc_id, []).append(value)
    return per_doc


def boosts_from(per_doc: dict[str, list[float]], documents: Iterable[tuple[str, int, str]],
                source: str | None) -> dict[int, float]:
    """row id -> lift, from `votes` and the (doc_id, row id, source) of those documents (both backends)."""
    boosts: dict[int, float] = {}
    for doc_id, rowid, doc_source in documents:
        if source and doc_source != source:
            continue
        values = sorted(per_doc[doc_id], reverse=True)
        # agreeing sessions add up, each less than the one before
        combined = sum(v / (k + 1) for k, v in enumerate(values[:5]))
        boosts[rowid] = MAX_BOOST * min(1.0, combined)
    return boosts
