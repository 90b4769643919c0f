"""Ranked search over the articles and past cases, with highlighted snippets.

A query is never handed to FTS5 as typed. It is cut into terms by the same analysis
as the index (threer.kb.analysis), grouped into *concepts* (a plain term; an error
code; a quoted phrase; or a help-desk synonym group such as sign in / log in /
credentials), and every term is quoted when the FTS5 expression is built, so quotes,
colons, hyphens, parentheses, AND/OR/NOT, emoji and empty text are all just text.

Ranking (docs/explanation/search-ranking.md): FTS5 BM25 with title and tags weighted
above the body picks candidates (documents with every concept, then with any); they
are re-scored with query coverage, title matches and the proximity of the query's
concepts in the text, and the best are returned.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from threer.errors import BadInput
from threer.kb.analysis import STOP_WORDS, _fold, is_code, markdown_to_text, term, terms, token_spans
from threer.kb.models import SearchResult

MAX_QUERY_CHARS = 1000
MAX_CONCEPTS = 16
BM25_WEIGHTS = (10.0, 5.0, 1.0)  # title, tags, body
POOL = 60  # candidates re-scored per FTS query
SCAN_TOKENS = 4000  # tokens of a document examined for proximity
PROXIMITY = 3  # concepts this close (in terms) count as near each other

# How the final score mixes the signals (each in 0..1); tuned on tests/kb/known_answers.toml.
W_BM25 = 1.0
W_COVERAGE = 1.2
W_TITLE = 0.6
W_PROXIMITY = 0.5

_QUOTED = re.compile(r"[\"\u201c\u201d\u201e]([^\"\u201c\u201d\u201e]*)[\"\u201c\u201d\u201e]")
_HEX_BARE = re.compile(r"^[0-9a-f]{8}$")


@dataclass(frozen=True)
class Concept:
    """One thing the query asks for; any of its alternatives (term tuples) satisfies it."""

    alternatives: tuple[tuple[str, ...], ...]
    weight: float = 1.0
    code: bool = False


@dataclass
class ParsedQuery:
    text: str
    concepts: list[Concept] = field(default_factory=list)
    highlight: frozenset[str] = frozenset()

    def fts(self, mode: str) -> str:
        """The FTS5 expression: every term quoted, concepts joined by AND or OR."""
        parts = []
        for concept in self.concepts:
            alts = ['"' + " ".join(alt).replace('"', '""') + '"' for alt in concept.alternatives]
            parts.append(alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")")
        return f" {mode} ".join(parts)


def _stop_terms() -> frozenset[str]:
    return frozenset(term(w) for w in STOP_WORDS)


_STOP_TERMS: frozenset[str] | None = None


def _segments(text: str) -> Iterator[tuple[str, bool]]:
    """(text, quoted) pieces: balanced double quotes mark a phrase; stray ones are just text."""
    last = 0
    for match in _QUOTED.finditer(text):
        if match.start() > last:
            yield text[last : match.start()], False
        yield match.group(1), True
        last = match.end()
    if last < len(text):
        yield text[last:], False


def _code_alternatives(t: str) -> tuple[tuple[str, ...], ...]:
    """An error code and its usual spellings: 0x800CCC0E is also written 800CCC0E."""
    if t.startswith("0x") and _HEX_BARE.match(t[2:]):
        return ((t,), (t[2:],))
    if _HEX_BARE.match(t) and any(c.isalpha() for c in t):
        return ((t,), ("0x" + t,))
    return ((t,),)


def parse_query(text: str, *, synonyms: bool = True) -> ParsedQuery:
    """Turn anything a person types into concepts; never raises."""
    from threer.kb.synonyms import group_alternatives, max_phrase_length, synonym_phrases

    global _STOP_TERMS
    if _STOP_TERMS is None:
        _STOP_TERMS = _stop_terms()
    text = (text or "")[:MAX_QUERY_CHARS]
    phrases = synonym_phrases() if synonyms else {}
    longest = max_phrase_length() if synonyms else 0
    concepts: list[Concept] = []
    stop_only: list[str] = []
    for segment, quoted in _segments(text):
        raw_tokens = [m.group() for m in re.finditer(r"\d+(?:\.\d+)+|[^\W_]+(?:['\u2019][^\W_]+)*", segment)]
        seq = [(term(tok), _fold(tok) in STOP_WORDS or (len(tok) == 1 and not tok.isdigit())) for tok in raw_tokens]
        seq = [(t, stop) for t, stop in seq if t]
        if quoted and len(seq) > 1:
            phrase = tuple(t for t, _ in seq)
            concepts.append(Concept((phrase,), weight=1.5, code=any(is_code(t) for t in phrase)))
            continue
        i = 0
        while i < len(seq):
            matched = False
            for size in range(min(longest, len(seq) - i), 0, -1):
                key = tuple(t for t, _ in seq[i : i + size])
                group = phrases.get(key)
                if group is not None and not all(stop for _, stop in seq[i : i + size]):
                    alternatives = group_alternatives(group)
                    # the words the person typed come first: they are what the snippet shows
                    ordered = (key, *[alt for alt in alternatives if alt != key])
                    concepts.append(Concept(ordered, weight=1.0))
                    i += size
                    matched = True
                    break
            if matched:
                continue
            t, stop = seq[i]
            i += 1
            if stop:
                stop_only.append(t)
                continue
            if is_code(t):
                concepts.append(Concept(_code_alternatives(t), weight=2.0, code=True))
            else:
                concepts.append(Concept(((t,),), weight=1.0))
    if not concepts and stop_only:
        concepts = [Concept(((t,),)) for t in stop_only]
    unique: dict[tuple[tuple[str, ...], ...], Concept] = {}
    for concept in concepts:
        unique.setdefault(concept.alternatives, concept)
    kept = list(unique.values())[:MAX_CONCEPTS]
    highlight = {t for c in kept for alt in c.alternatives for t in alt}
    if len(highlight) > len(_STOP_TERMS & highlight):
        highlight -= _STOP_TERMS
    return ParsedQuery(text=text, concepts=kept, highlight=frozenset(highlight))


# -- scoring ----------------------------------------------------------------------------


def _positions(tokens: list[str], wanted: frozenset[str]) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for index, t in enumerate(tokens[:SCAN_TOKENS]):
        if t in wanted:
            found.setdefault(t, []).append(index)
    return found


def _spans(concept: Concept, positions: dict[str, list[int]]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for alt in concept.alternatives:
        first = positions.get(alt[0])
        if not first:
            continue
        if len(alt) == 1:
            spans.extend((p, p) for p in first)
            continue
        rest = [set(positions.get(t, ())) for t in alt[1:]]
        if not all(rest):
            continue
        spans.extend((p, p + len(alt) - 1) for p in first if all(p + k + 1 in s for k, s in enumerate(rest)))
    return spans


def _near(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> float:
    """1 when `right` follows `left` within PROXIMITY terms, 0.5 when in the other order, else 0."""
    if not left or not right:
        return 0.0
    best = 0.0
    starts = sorted(s for s, _ in right)
    for s_left, e_left in left:
        for s_right in starts:
            gap = s_right - e_left
            if 1 <= gap <= PROXIMITY:
                return 1.0
            if best < 0.5 and 1 <= s_left - s_right <= PROXIMITY + 1:
                best = 0.5
    return best


def _rescore(pq: ParsedQuery, bm25: float, best: float, title: str, tags: str, body: str) -> float:
    wanted = frozenset(t for c in pq.concepts for alt in c.alternatives for t in alt)
    fields = [_positions(text.split(), wanted) for text in (title, tags, body)]
    total = sum(c.weight for c in pq.concepts)
    covered = in_title = 0.0
    body_spans: list[list[tuple[int, int]]] = []
    title_spans: list[list[tuple[int, int]]] = []
    for concept in pq.concepts:
        t_spans = _spans(concept, fields[0])
        g_spans = _spans(concept, fields[1])
        b_spans = _spans(concept, fields[2])
        if t_spans or g_spans or b_spans:
            covered += concept.weight
        if t_spans:
            in_title += concept.weight
        elif g_spans:
            in_title += concept.weight * 0.5
        body_spans.append(b_spans)
        title_spans.append(t_spans)
    proximity = 0.0
    pairs = len(pq.concepts) - 1
    if pairs > 0:
        for i in range(pairs):
            proximity += max(_near(body_spans[i], body_spans[i + 1]), _near(title_spans[i], title_spans[i + 1]))
        proximity /= pairs
    normalised = bm25 / best if best > 0 else 0.0
    return (
        W_BM25 * normalised
        + W_COVERAGE * (covered / total)
        + W_TITLE * (in_title / total)
        + W_PROXIMITY * proximity
    )


# -- snippets ---------------------------------------------------------------------------

SNIPPET_TOKENS = 30
_SNIPPET_SOURCE_CHARS = 60_000


def make_snippet(text: str, pq: ParsedQuery) -> str:
    """About 30 words of `text` around the most query concepts, matched words in `**…**`."""
    text = text[:_SNIPPET_SOURCE_CHARS]
    spans = list(token_spans(text))
    if not spans:
        return " ".join(text.split())[:200]
    concept_of: dict[str, int] = {}
    for index, concept in enumerate(pq.concepts):
        for alt in concept.alternatives:
            for t in alt:
                concept_of.setdefault(t, index)
    hits = [i for i, (_, _, t) in enumerate(spans) if t in pq.highlight]
    start = 0
    if hits:
        best_key = (-1, -1)
        for h in hits:
            window_start = max(0, h - 3)
            window = spans[window_start : window_start + SNIPPET_TOKENS]
            matched = [t for _, _, t in window if t in pq.highlight]
            key = (len({concept_of.get(t, -1) for t in matched}), len(matched))
            if key > best_key:
                best_key, start = key, window_start
    window = spans[start : start + SNIPPET_TOKENS]
    pieces = []
    cursor = window[0][0]
    for s, e, t in window:
        pieces.append(text[cursor:s].replace("**", "*"))
        token = text[s:e].replace("**", "*")
        pieces.append(f"**{token}**" if t in pq.highlight else token)
        cursor = e
    snippet = " ".join("".join(pieces).split())
    if start > 0:
        snippet = "… " + snippet
    if start + SNIPPET_TOKENS < len(spans):
        snippet += " …"
    return snippet


# -- search -----------------------------------------------------------------------------


@contextmanager
def _snapshot(conn: sqlite3.Connection) -> Iterator[None]:
    """One read transaction, so every statement of a search sees the same index."""
    if conn.in_transaction:
        yield
        return
    conn.execute("BEGIN")
    try:
        yield
    finally:
        conn.execute("COMMIT")


def _candidates(
    conn: sqlite3.Connection, pq: ParsedQuery, source: str | None, pool: int, modes: list[str] | None = None
) -> dict[int, float]:
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    sql = f"SELECT kb_fts.rowid, -bm25(kb_fts, {weights}) AS score FROM kb_fts"
    args: list[Any] = []
    if source:
        sql += " JOIN kb_documents AS d ON d.rowid = kb_fts.rowid WHERE kb_fts MATCH ? AND d.source = ?"
    else:
        sql += " WHERE kb_fts MATCH ?"
    sql += " ORDER BY score DESC LIMIT ?"
    found: dict[int, float] = {}
    if modes is None:
        modes = ["AND", "OR"] if len(pq.concepts) > 1 else ["AND"]
    for mode in modes:
        args = [pq.fts(mode)] + ([source] if source else []) + [pool]
        for rowid, score in conn.execute(sql, args):
            found[rowid] = score
    return found


def prepare_kb(store: Any) -> None:
    """Once per Store: the bundled sample KB is indexed and the analysis is current."""
    if getattr(store, "_kb_ready", False):
        return
    from threer.kb.index import ensure_sample_kb

    ensure_sample_kb(store)
    try:
        store._kb_ready = True
    except AttributeError:  # pragma: no cover - a store object that takes no attributes
        pass


RANKINGS = ("full", "no-synonyms", "bm25")


def search(
    store: Any, query: str, *, limit: int = 10, source: str | None = None, ranking: str = "full"
) -> list[SearchResult]:
    """The best `limit` articles and past cases for `query`, best first; [] when nothing matches.

    `ranking` is for measuring the ranking (bench/kb.py): "full" (the default), "no-synonyms",
    or "bm25" (FTS5 BM25 alone over the query's terms, no synonyms and no re-scoring).
    """
    if source not in (None, "kb", "case"):
        raise BadInput(f"--source takes kb or case, not {source!r}.")
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {RANKINGS}")
    if limit <= 0:
        return []
    prepare_kb(store)
    pq = parse_query(query, synonyms=ranking == "full")
    if not pq.concepts:
        return []
    conn = store.conn
    pool = max(POOL, limit * 3)
    with _snapshot(conn):
        if ranking == "bm25":
            found = _candidates(conn, pq, source, limit, modes=["OR"])
            scored = sorted(((score, rowid) for rowid, score in found.items()), key=lambda i: (-i[0], i[1]))
        else:
            found = _candidates(conn, pq, source, pool)
            if not found:
                return []
            best = max(found.values())
            marks = ", ".join("?" for _ in found)
            rows = conn.execute(f"SELECT rowid, title, tags, body FROM kb_fts WHERE rowid IN ({marks})", list(found))
            scored = sorted(
                ((_rescore(pq, found[r[0]], best, r[1], r[2], r[3]), r[0]) for r in rows),
                key=lambda item: (-item[0], item[1]),
            )[:limit]
        if not scored:
            return []
        ids = [rowid for _, rowid in scored]
        marks = ", ".join("?" for _ in ids)
        documents = {
            r["rowid"]: r
            for r in conn.execute(
                f"SELECT rowid, doc_id, title, source, body, format, path FROM kb_documents WHERE rowid IN ({marks})",
                ids,
            )
        }
    results = []
    for score, rowid in scored:
        doc = documents.get(rowid)
        if doc is None:  # pragma: no cover - the snapshot makes this impossible
            continue
        plain = markdown_to_text(doc["body"]) if doc["format"] == "markdown" else doc["body"]
        results.append(
            SearchResult(
                id=doc["doc_id"],
                title=doc["title"],
                source=doc["source"],
                score=round(score, 4),
                snippet=make_snippet(plain, pq),
                path=doc["path"],
            )
        )
    return results


def query_terms(query: str) -> list[str]:
    """The terms a query searches for (for tests and `--debug`)."""
    return terms(query)
