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
from bisect import bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from threer.errors import BadInput
from threer.kb.analysis import STOP_WORDS, TOKEN_RE, _fold, is_code, plain_text, term, terms, token_spans
from threer.kb.models import SearchResult

MAX_QUERY_CHARS = 1000
MAX_CONCEPTS = 16
BM25_WEIGHTS = (10.0, 5.0, 1.0)  # title, tags, body
POOL = 40  # candidates re-scored per FTS query
COMMON = 2000  # a concept in more documents than this is left out of BM25 (see _candidates)
MAX_SCORED = 2000  # rows BM25 is computed for, at most, per FTS query (see _bm25)
PROXIMITY_RESCORED = 12  # leading candidates whose proximity is measured
SCAN_CHARS = 20_000  # characters of a document's analysed body examined for coverage and proximity
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
    group: int | None = None  # a synonym group: searched as its group token

    @property
    def key(self) -> object:
        return ("group", self.group) if self.group is not None else self.alternatives


@dataclass
class ParsedQuery:
    text: str
    concepts: list[Concept] = field(default_factory=list)
    highlight: frozenset[str] = frozenset()
    highlight_stop_words: bool = False  # the query was nothing but stop words

    def fts(self, mode: str) -> str:
        """The FTS5 expression: every term quoted, concepts joined by AND or OR."""
        return f" {mode} ".join(_concept_fts(c) for c in self.concepts)


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
    from threer.kb.synonyms import find_groups, group_alternatives

    text = (text or "")[:MAX_QUERY_CHARS]
    concepts: list[Concept] = []
    stop_only: list[str] = []
    for segment, quoted in _segments(text):
        raw = [m.group() for m in TOKEN_RE.finditer(segment)]
        pairs = [(term(tok), _fold(tok) in STOP_WORDS or (len(tok) == 1 and not tok.isdigit())) for tok in raw]
        seq = [t for t, _ in pairs if t]
        stops = [stop for t, stop in pairs if t]
        if quoted and len(seq) > 1:
            concepts.append(Concept((tuple(seq),), weight=1.5, code=any(is_code(t) for t in seq)))
            continue
        groups = {start: (end, group) for start, end, group in find_groups(seq)} if synonyms else {}
        i = 0
        while i < len(seq):
            if i in groups:
                end, group = groups[i]
                typed = tuple(seq[i:end])
                # the words the person typed come first: they are what the snippet shows
                alternatives = (typed, *[alt for alt in group_alternatives(group) if alt != typed])
                concepts.append(Concept(alternatives, weight=1.0, group=group))
                i = end
                continue
            t, stop = seq[i], stops[i]
            i += 1
            if stop:
                stop_only.append(t)
            elif is_code(t):
                concepts.append(Concept(_code_alternatives(t), weight=2.0, code=True))
            else:
                concepts.append(Concept(((t,),), weight=1.0))
    only_stop_words = not concepts and bool(stop_only)
    if only_stop_words:
        concepts = [Concept(((t,),)) for t in stop_only]
    unique: dict[object, Concept] = {}
    for concept in concepts:
        unique.setdefault(concept.key, concept)
    kept = list(unique.values())[:MAX_CONCEPTS]
    highlight = frozenset(t for c in kept for alt in c.alternatives for t in alt)
    return ParsedQuery(text=text, concepts=kept, highlight=highlight, highlight_stop_words=only_stop_words)


# -- scoring ----------------------------------------------------------------------------


class _Matcher:
    """Finds every alternative of every concept in analysed text (space-separated terms)."""

    def __init__(self, pq: ParsedQuery) -> None:
        self.count = len(pq.concepts)
        # first term -> [(alternative, concept index)], longest alternative first
        self.first: dict[str, list[tuple[tuple[str, ...], int]]] = {}
        for index, concept in enumerate(pq.concepts):
            for alt in concept.alternatives:
                self.first.setdefault(alt[0], []).append((alt, index))
        for entries in self.first.values():
            entries.sort(key=lambda entry: -len(entry[0]))

    def spans(self, text: str) -> list[list[tuple[int, int]]]:
        """For each concept, the (first, last) term positions where it occurs in `text`."""
        found: list[list[tuple[int, int]]] = [[] for _ in range(self.count)]
        tokens = text[:SCAN_CHARS].split()
        first = self.first
        for position, t in enumerate(tokens):
            entries = first.get(t)
            if entries is None:
                continue
            for alt, index in entries:
                size = len(alt)
                if size == 1 or tuple(tokens[position : position + size]) == alt:
                    found[index].append((position, position + size - 1))
        return found


def _near(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> float:
    """1 when `right` follows `left` within PROXIMITY terms, 0.5 when it comes just before, else 0."""
    if not left or not right:
        return 0.0
    starts = [s for s, _ in right]
    ends = sorted(e for _, e in right)
    best = 0.0
    for s_left, e_left in left:
        i = bisect_right(starts, e_left)
        if i < len(starts) and starts[i] - e_left <= PROXIMITY:
            return 1.0
        j = bisect_right(ends, s_left - 1) - 1
        if best < 0.5 and j >= 0 and s_left - ends[j] <= PROXIMITY:
            best = 0.5
    return best


def _present(concept: Concept, padded: str) -> bool:
    """Whether a concept occurs in one analysed column (its text with a space at each end)."""
    if concept.group is not None:
        from threer.kb.synonyms import group_token

        return f" {group_token(concept.group)} " in padded
    return any(f" {' '.join(alt)} " in padded for alt in concept.alternatives)


def _coverage(pq: ParsedQuery, title: str, tags: str, body: str) -> tuple[float, float]:
    """(share of the query's concepts found anywhere, share found in the title or tags), by weight."""
    total = sum(c.weight for c in pq.concepts)
    columns = (f" {title} ", f" {tags} ", f" {body} ")
    covered = in_title = 0.0
    for concept in pq.concepts:
        in_columns = [_present(concept, padded) for padded in columns]
        if any(in_columns):
            covered += concept.weight
        if in_columns[0]:
            in_title += concept.weight
        elif in_columns[1]:
            in_title += concept.weight * 0.5
    return covered / total, in_title / total


def _proximity(pq: ParsedQuery, matcher: _Matcher, title: str, body: str) -> float:
    """Share of neighbouring query concepts that also stand near each other in the title or body."""
    pairs = len(pq.concepts) - 1
    if pairs <= 0:
        return 0.0
    title_spans, body_spans = matcher.spans(title), matcher.spans(body)
    near = 0.0
    for i in range(pairs):
        near += max(_near(body_spans[i], body_spans[i + 1]), _near(title_spans[i], title_spans[i + 1]))
    return near / pairs


def _rank(pq: ParsedQuery, found: dict[int, float], rows: list[Any], limit: int) -> list[tuple[float, int]]:
    """Final scores, best first: BM25 (0..1) + coverage + title matches, then proximity for the leaders."""
    first = []
    for rowid, title, tags, body in rows:
        covered, in_title = _coverage(pq, title, tags, body)
        first.append((W_BM25 * found[rowid] + W_COVERAGE * covered + W_TITLE * in_title, rowid, title, body))
    first.sort(key=lambda item: (-item[0], item[1]))
    # proximity adds at most W_PROXIMITY: only the leaders can still change places because of it
    leaders = first[: max(PROXIMITY_RESCORED, limit)]
    matcher = _Matcher(pq)
    final = [(score + W_PROXIMITY * _proximity(pq, matcher, title, body), rowid) for score, rowid, title, body in leaders]
    final.sort(key=lambda item: (-item[0], item[1]))
    return final[:limit]


# -- snippets ---------------------------------------------------------------------------

SNIPPET_CHARS = 220
_SNIPPET_SOURCE_CHARS = 60_000


def _surface_regex(pq: ParsedQuery) -> re.Pattern[str] | None:
    """Words in the original text that may be a highlighted term: each term's start, any ending.

    Stems are not always prefixes of their words ("policy" stems to "polici"), so the last
    letter is dropped; every candidate is then checked by analysing it.
    """
    prefixes = set()
    for t in pq.highlight:
        if not t.isascii():
            return None  # accents were folded away: the original spelling is not a prefix
        if "_" in t:
            prefixes.add(re.escape(t.replace("_", ".")))
        else:
            prefixes.add(re.escape(t[: max(3, len(t) - 1)]))
    if not prefixes:
        return None
    return re.compile(r"(?<![^\W_])(?:" + "|".join(sorted(prefixes, key=len, reverse=True)) + ")", re.I)


def _hits(text: str, pq: ParsedQuery, surface: re.Pattern[str] | None) -> list[tuple[int, int, str]]:
    """(start, end, term) of the words of `text` to highlight (stop words only for a query of them)."""

    def wanted(token: str, t: str) -> bool:
        return t in pq.highlight and (pq.highlight_stop_words or _fold(token) not in STOP_WORDS)

    if surface is None:
        return [(s, e, t) for s, e, t in token_spans(text) if wanted(text[s:e], t)]
    hits = []
    last_end = -1
    for match in surface.finditer(text):
        if match.start() < last_end:
            continue
        token = TOKEN_RE.match(text, match.start())
        if token is None:
            continue
        t = term(token.group())
        if wanted(token.group(), t):
            hits.append((token.start(), token.end(), t))
            last_end = token.end()
    return hits


def make_snippet(text: str, pq: ParsedQuery, surface: re.Pattern[str] | None = None) -> str:
    """About 30 words of `text` around the most query concepts, matched words in `**…**`."""
    text = text[:_SNIPPET_SOURCE_CHARS]
    concept_of: dict[str, int] = {}
    for index, concept in enumerate(pq.concepts):
        for alt in concept.alternatives:
            for t in alt:
                concept_of.setdefault(t, index)
    typed = {t for concept in pq.concepts for t in concept.alternatives[0]}  # the words as the person typed them
    hits = _hits(text, pq, surface) if pq.highlight else []
    start = 0
    if hits:
        best_key = (-1, -1, -1)
        last = 0
        for i, (h_start, _, _) in enumerate(hits[:200]):
            last = max(last, i)
            while last + 1 < len(hits) and hits[last + 1][0] < h_start + SNIPPET_CHARS:
                last += 1
            window = hits[i : last + 1]
            key = (len({concept_of.get(t, -1) for _, _, t in window}), sum(t in typed for _, _, t in window), len(window))
            if key > best_key:
                best_key, start = key, h_start
        # a few words of context before the first match, from a word boundary
        start = max(0, start - 40)
        if start:
            space = text.find(" ", start, start + 40)
            start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    pieces = []
    cursor = start
    for s, e, _ in hits:
        if s < start or e > end:
            continue
        pieces.append(text[cursor:s].replace("**", "*"))
        pieces.append("**" + text[s:e].replace("**", "*") + "**")
        cursor = e
    pieces.append(text[cursor:end].replace("**", "*"))
    snippet = " ".join("".join(pieces).split())
    if start > 0:
        snippet = "… " + snippet
    if end < len(text) and text[end:].strip():
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
    except BaseException:
        # end the read quietly and let the first error through: a damaged file must be
        # reported as damaged, not as whatever COMMIT would say after it
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass
        raise
    conn.execute("COMMIT")


def _concept_fts(concept: Concept) -> str:
    if concept.group is not None:
        from threer.kb.synonyms import group_token

        return f'"{group_token(concept.group)}"'
    alts = ['"' + " ".join(alt).replace('"', '""') + '"' for alt in concept.alternatives]
    return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"


def _capped_count(conn: sqlite3.Connection, expression: str, cap: int) -> int:
    sql = "SELECT count(*) FROM (SELECT 1 FROM kb_fts WHERE kb_fts MATCH ? LIMIT ?)"
    return conn.execute(sql, (expression, cap)).fetchone()[0]


def _bm25(
    conn: sqlite3.Connection, expression: str, source: str | None, pool: int, at_most: int | None = None
) -> dict[int, float]:
    """The `pool` best rows for one FTS5 expression by BM25, scaled so the best is 1.

    FTS5 computes BM25 for every matching row, so an expression matching more than
    MAX_SCORED rows is scored over the most recently indexed MAX_SCORED of them.
    """
    # `at_most`: what the caller already knows of the number of matches, to save counting them
    matches = at_most if at_most is not None and at_most <= MAX_SCORED else _capped_count(conn, expression, MAX_SCORED + 1)
    if not matches:
        return {}
    weights = ", ".join(str(w) for w in BM25_WEIGHTS)
    sql = f"SELECT kb_fts.rowid, -bm25(kb_fts, {weights}) AS score FROM kb_fts"
    args: list[Any] = [expression]
    sql += _source_filter(source, args)
    if matches > MAX_SCORED:
        sql += " AND kb_fts.rowid >= ?"
        args.append(_floor(conn, expression, MAX_SCORED))
    sql += " ORDER BY score DESC LIMIT ?"
    args.append(pool)
    rows = conn.execute(sql, args).fetchall()
    best = max((score for _, score in rows), default=0.0)
    return {rowid: (score / best if best > 0 else 0.0) for rowid, score in rows}


def _newest(conn: sqlite3.Connection, expression: str, source: str | None, pool: int) -> dict[int, float]:
    """The most recently indexed `pool` rows matching an expression, unscored (BM25 0)."""
    args: list[Any] = [expression]
    sql = "SELECT kb_fts.rowid FROM kb_fts" + _source_filter(source, args) + " ORDER BY kb_fts.rowid DESC LIMIT ?"
    args.append(pool)
    return {rowid: 0.0 for (rowid,) in conn.execute(sql, args)}


def _source_filter(source: str | None, args: list[Any]) -> str:
    if not source:
        return " WHERE kb_fts MATCH ?"
    args.append(source)
    return " JOIN kb_documents AS d ON d.rowid = kb_fts.rowid WHERE kb_fts MATCH ? AND d.source = ?"


def _floor(conn: sqlite3.Connection, expression: str, count: int) -> int:
    """The rowid above which the newest `count` rows matching the expression lie."""
    sql = "SELECT rowid FROM kb_fts WHERE kb_fts MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?"
    return conn.execute(sql, (expression, count - 1)).fetchone()[0]


def _candidates(conn: sqlite3.Connection, pq: ParsedQuery, source: str | None, pool: int) -> dict[int, float]:
    """Documents worth re-scoring, with their BM25 (0..1).

    BM25 also costs a pass over every document holding each of the expression's
    terms (for their IDF), so concepts found in more than COMMON documents are left
    out of the BM25 queries: they weigh little in BM25 and still count in coverage.
    The rare concepts are searched together (AND), then apart (OR). When every concept
    is common, the newest documents with all of them (else with any) are taken, for the
    re-scoring to order.
    """
    expressions = [_concept_fts(c) for c in pq.concepts]
    counts = [_capped_count(conn, e, COMMON + 1) for e in expressions]
    present = [e for e, n in zip(expressions, counts) if n]
    rare = [e for e, n in zip(expressions, counts) if 0 < n <= COMMON]
    rare_counts = [n for n in counts if 0 < n <= COMMON]
    if not present:
        return {}
    if not rare:
        return _newest(conn, " AND ".join(present), source, pool * 2) or _newest(conn, " OR ".join(present), source, pool)
    found = _bm25(conn, " AND ".join(rare), source, pool, min(rare_counts)) if len(rare) > 1 else {}
    for rowid, score in _bm25(conn, " OR ".join(rare), source, pool, sum(rare_counts)).items():
        found[rowid] = max(score, found.get(rowid, 0.0))
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
            found = _bm25(conn, " OR ".join(_concept_fts(c) for c in pq.concepts), source, limit)
            scored = sorted(((score, rowid) for rowid, score in found.items()), key=lambda i: (-i[0], i[1]))
        else:
            found = _candidates(conn, pq, source, pool)
            marks = ", ".join("?" for _ in found)
            rows = conn.execute(f"SELECT rowid, title, tags, body FROM kb_fts WHERE rowid IN ({marks})", list(found))
            scored = _rank(pq, found, rows.fetchall(), limit)
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
    surface = _surface_regex(pq)
    results = []
    for score, rowid in scored:
        doc = documents.get(rowid)
        if doc is None:  # pragma: no cover - the snapshot makes this impossible
            continue
        plain = plain_text(doc["body"], doc["format"])
        results.append(
            SearchResult(
                id=doc["doc_id"],
                title=doc["title"],
                source=doc["source"],
                score=round(score, 4),
                snippet=make_snippet(plain, pq, surface),
                path=doc["path"],
            )
        )
    return results


def query_terms(query: str) -> list[str]:
    """The terms a query searches for (for tests and `--debug`)."""
    return terms(query)
