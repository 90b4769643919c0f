"""Outcome learning on the team index: which article or past case solved which issue, for everyone.

The same rules as threer.kb.feedback (its constants, its similarity, its lift), over
`kb_feedback` in the team database: an outcome recorded by one technician lifts the
document in every technician's later searches. Rows leave with their session.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from threer.kb.analysis import analysed_column
from threer.kb.feedback import MATCHES, OUTCOMES, boosts_from, votes
from threer.kb.pg.terms import single_text, tsquery_text


def record(cur: Any, *, session_id: str, doc_id: str, outcome: str, issue: str) -> None:
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {OUTCOMES}")
    issue = " ".join((issue or "").split())[:4000]
    terms = analysed_column(issue)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    cur.execute(
        "INSERT INTO kb_feedback (session_id, doc_id, outcome, issue, terms, tsv, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s::tsvector, %s) ON CONFLICT (session_id, doc_id) DO UPDATE SET "
        "outcome = excluded.outcome, issue = excluded.issue, terms = excluded.terms, tsv = excluded.tsv, "
        "created_at = excluded.created_at",
        (session_id, doc_id, outcome, issue, terms, single_text(terms), now))


def copy_outcome(cur: Any, *, session_id: str, doc_id: str, outcome: str, issue: str, created_at: str) -> int:
    """Add an outcome learnt elsewhere (a technician's SQLite file, `db migrate`), keeping its time; one the
    team index already has for this session and document is left as it is. Returns 1 if added, else 0."""
    if outcome not in OUTCOMES:
        return 0
    issue = " ".join((issue or "").split())[:4000]
    terms = analysed_column(issue)
    cur.execute(
        "INSERT INTO kb_feedback (session_id, doc_id, outcome, issue, terms, tsv, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s::tsvector, %s) ON CONFLICT (session_id, doc_id) DO NOTHING",
        (session_id, doc_id, outcome, issue, terms, single_text(terms), created_at))
    return 1 if cur.rowcount == 1 else 0


def record_outcomes(kb: Any, *, session_id: str, issue: str, outcomes: dict[str, str]) -> int:
    session_id = session_id.strip().upper()
    own_case = f"case:{session_id}".upper()
    count = 0
    with kb.write() as cur:
        for doc_id, outcome in outcomes.items():
            cur.execute("SELECT doc_id FROM kb_documents WHERE doc_id = %s UNION ALL "
                        "(SELECT doc_id FROM kb_documents WHERE lower(doc_id) = lower(%s) ORDER BY id LIMIT 1)",
                        (doc_id, doc_id))
            row = cur.fetchone()
            if row is None or row[0].upper() == own_case:
                continue
            record(cur, session_id=session_id, doc_id=row[0], outcome=outcome, issue=issue)
            count += 1
    return count


def _count(terms: list[str], alternative: tuple[str, ...]) -> int:
    if len(alternative) == 1:
        return terms.count(alternative[0])
    width = len(alternative)
    return sum(1 for i in range(len(terms) - width + 1) if tuple(terms[i:i + width]) == alternative)


def learned_boosts(kb: Any, cur: Any, plan: Any, source: str | None) -> dict[int, float]:
    words = [c for c in plan.concepts if c.kind in ("word", "code", "phrase")]
    if not words:
        return {}
    cur.execute("SELECT count(*) FROM kb_feedback")
    n = int(cur.fetchone()[0])
    if not n:
        return {}
    weights: dict[tuple[str, ...], float] = {}
    df_of: dict[tuple[str, ...], int] = {}
    for concept in words:
        for alt in concept.alternatives[:1]:
            cur.execute("SELECT count(*) FROM kb_feedback WHERE tsv @@ %s::tsquery", (tsquery_text([alt]),))
            df = df_of[alt] = int(cur.fetchone()[0])
            if df:
                weights[alt] = concept.weight * math.log(1.0 + (n + 1) / df)
    if not weights:
        return {}
    ceiling = sum(concept.weight * math.log(1.0 + (n + 1) / 1) for concept in words)
    cur.execute("SELECT id, doc_id, outcome, terms FROM kb_feedback WHERE tsv @@ %s::tsquery ORDER BY id",
                (tsquery_text(list(weights)),))
    rows = cur.fetchall()
    if len(rows) > MATCHES:  # the SQLite index takes FTS5's BM25 best: the same formula over the issue text
        from threer.kb.pg.bm25 import B, K1, fts5_idf

        cur.execute("SELECT sum(array_length(string_to_array(terms, ' '), 1)) FROM kb_feedback WHERE terms <> ''")
        average = float(cur.fetchone()[0] or 0) / n or 1.0
        alts = list(weights)
        idfs = [fts5_idf(n, df_of[alt]) for alt in alts]  # the counts taken above, in this transaction

        def bm25(row: tuple[Any, ...]) -> float:
            terms = row[3].split()
            norm = K1 * (1 - B + B * len(terms) / average)
            score = 0.0
            for alt, idf in zip(alts, idfs):
                f = float(_count(terms, alt))
                score += idf * ((f * (K1 + 1.0)) / (f + norm))
            return score

        rows = sorted(rows, key=lambda r: (-bm25(r), r[0]))[:MATCHES]
    per_doc = votes(((doc_id, outcome, terms) for _id, doc_id, outcome, terms in rows), weights, ceiling)
    if not per_doc:
        return {}
    cur.execute("SELECT doc_id, id, source FROM kb_documents WHERE doc_id = ANY(%s)", (list(per_doc),))
    return boosts_from(per_doc, cur.fetchall(), source)


def forget_sessions(cur: Any, session_ids: list[str]) -> None:
    """What these sessions taught the search goes with them (deleted or purged)."""
    cur.execute("DELETE FROM kb_feedback WHERE session_id = ANY(%s)", (session_ids,))
