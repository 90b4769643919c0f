"""Ranked search over the articles and past cases: the query plan, then scoring, then snippets.

1. The query's words are read (threer.kb.query) and weighed against the index: a
   word in no document is corrected against the index's own words (threer.kb.spelling)
   and the result says what was searched; a Capitalised word that no title or tag
   uses (a person, a place) weighs little; filler and stop words are not searched alone;
   bare numbers weigh little, error codes a lot.
2. The help-desk thesaurus (threer.kb.thesaurus) adds the other words of every group a
   query phrase belongs to, at half the weight of the words typed.
3. Candidates come from FTS5 (any of the words: OR, never AND), and are scored with
   BM25F over title, tags and body, each concept by its IDF (threer.kb.ranking).
4. Articles and past cases that solved similar issues before are lifted
   (threer.kb.feedback).

docs/explanation/search-ranking.md explains each step and its measured effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threer.errors import BadInput
from threer.kb.analysis import _fold, reading_text, terms
from threer.kb.backend import KbIndex, kb_index_of
from threer.kb.models import SearchResult
from threer.kb.query import is_status_code, read_words
from threer.kb.ranking import Concept, IndexStats, candidates, score_documents

POOL = 30  # candidates scored at least (FTS5's BM25 best), three times the results asked for: 30, 60 and 100 ranked alike on kb-eval
THESAURUS_WEIGHT = 0.5  # a thesaurus word counts this much of the word typed
CORRECTION_WEIGHT = 0.8  # a corrected typo counts this much of a word typed right
NAME_WEIGHT = 0.1  # a Capitalised word no title or tag uses: a person, a place
CONTEXT_WEIGHT = 0.2  # the customer's own thing or place: "on Anna's laptop" (threer.kb.query.CONTEXT_NOUNS)
STORY_WEIGHT = 0.5  # in a long description, a word that no title or tag uses: the story around the problem
NUMBER_WEIGHT = 0.3  # a bare number that is not an SMTP status code: a year, a count, a time
CODE_WEIGHT = 2.0  # an error code: 0x8004010F, 5.7.26
PHRASE_WEIGHT = 1.5  # a phrase the person put in quotes
REPEAT_BONUS = 0.25  # a word said again weighs this much more, up to REPEAT_CAP
REPEAT_CAP = 1.5

RANKINGS = ("full", "bm25")
COMPONENTS = ("thesaurus", "spelling", "names", "feedback")


@dataclass
class QueryPlan:
    """What a search looks for, and what it tells the person about it."""

    text: str
    concepts: list[Concept] = field(default_factory=list)
    corrections: list[tuple[str, str]] = field(default_factory=list)  # (as typed, searched for)
    searched_for: str | None = None  # the query with its corrections, when there were any
    highlight: frozenset[str] = frozenset()
    typed: frozenset[str] = frozenset()
    group_of: dict[str, int] = field(default_factory=dict)
    stop_words_only: bool = False  # every word common, and a phrase in quotes: all of them are searched
    searched_words: list[str] = field(default_factory=list)  # the words searched, as typed or corrected
    nothing_to_search: bool = False  # only stop words and filler ("hi there can you help please")


def _code_alternatives(t: str) -> tuple[tuple[str, ...], ...]:
    """An error code and its usual spellings: 0x800CCC0E is also written 800CCC0E."""
    if t.startswith("0x") and len(t) == 10 and all(c in "0123456789abcdef" for c in t[2:]):
        return ((t,), (t[2:],))
    if len(t) == 8 and all(c in "0123456789abcdef" for c in t) and any(c.isalpha() for c in t):
        return ((t,), ("0x" + t,))
    return ((t,),)


def plan_query(
    index: KbIndex,
    stats: IndexStats,
    text: str,
    *,
    thesaurus: Any = None,
    disabled: frozenset[str] = frozenset(),
) -> QueryPlan:
    """Weigh a query's words against the index (a KbIndex); never raises for any text."""
    from threer.kb.spelling import display_form

    plan = QueryPlan(text=text)
    words = read_words(text)
    if not words:
        return plan
    long_query = len(words) > 12
    if all(w.stop for w in words):
        if not any(w.quoted for w in words):
            # every article has such words: any result would be arbitrary, so nothing is searched
            plan.nothing_to_search = True
            return plan
        plan.stop_words_only = True  # "not now" in quotes: the person asked for those very words

    def df(alt: tuple[str, ...]) -> int:
        return index.document_count(stats, alt)

    def in_titles(t: str) -> bool:
        known = stats.titled.get(t)
        if known is None:
            known = stats.titled[t] = index.in_titles(t)
        return known

    # the term each word is searched as (a typo corrected), and its weight
    searched: dict[int, str] = {}
    weight_of: dict[int, float] = {}
    shown: dict[int, str] = {}
    for position, w in enumerate(words):
        searched[position] = w.term
        if w.stop and not plan.stop_words_only:
            continue
        weight = 1.0
        if w.code:
            weight = CODE_WEIGHT
        elif w.number:
            weight = 1.0 if is_status_code(w.term) else NUMBER_WEIGHT
        present = df((w.term,)) > 0
        if not present and "spelling" not in disabled and not w.code and not w.number and not w.quoted:
            # a long description is mostly real words the articles happen not to use (names,
            # places, the customer's own things); a word the thesaurus knows is spelt right
            if not long_query and not w.capital and not (thesaurus is not None and thesaurus.knows(w.term)):
                fixed = index.correct(_fold(w.text), df)
                if fixed is not None:
                    searched[position] = fixed
                    shown[position] = display_form(w.text, fixed)
                    plan.corrections.append((w.text, shown[position]))
                    weight *= CORRECTION_WEIGHT
                    present = True
        if present and w.capital and "names" not in disabled and not in_titles(searched[position]):
            weight *= NAME_WEIGHT
        elif w.context and "names" not in disabled:
            weight *= CONTEXT_WEIGHT
        elif (present and long_query and "names" not in disabled and not (w.code or w.number or w.quoted)
              and not in_titles(searched[position])):
            weight *= STORY_WEIGHT
        weight_of[position] = weight

    # one concept a searched term; a term said twice weighs a little more
    concepts: dict[object, Concept] = {}
    totals: dict[str, list[float]] = {}
    for position, weight in weight_of.items():
        totals.setdefault(searched[position], []).append(weight)
    for position in weight_of:
        t = searched[position]
        if ("t", t) in concepts:
            continue
        said = totals[t]
        w_total = min(max(said) * REPEAT_CAP, max(said) + REPEAT_BONUS * (len(said) - 1))
        w = words[position]
        alts = _code_alternatives(t) if w.code else ((t,),)
        concepts[("t", t)] = Concept(alts, w_total, "code" if w.code else "word", t)

    # quoted phrases, as phrases
    by_segment: dict[int, list[int]] = {}
    for position, w in enumerate(words):
        by_segment.setdefault(w.segment, []).append(position)
    for positions in by_segment.values():
        if words[positions[0]].quoted and len(positions) > 1:
            phrase = tuple(searched[p] for p in positions)
            concepts[("p", phrase)] = Concept((phrase,), PHRASE_WEIGHT, "phrase", " ".join(phrase))

    # the thesaurus, on the words as searched (so a corrected typo finds its group)
    group_of: dict[str, int] = {}
    if thesaurus is not None and "thesaurus" not in disabled:
        for positions in by_segment.values():
            seq = [searched[p] for p in positions]
            for start, end, group in thesaurus.find(seq):
                span = positions[start:end]
                if not any(p in weight_of for p in span):
                    continue  # filler alone ("the customer says", "earlier") is not searched, nor its group
                weights = [weight_of.get(p, 0.0) for p in span]
                base = max(weights) if any(weights) else 1.0
                typed = tuple(seq[start:end])
                alternatives = tuple(thesaurus.expansions(group, typed))
                if not alternatives:
                    continue
                weight = THESAURUS_WEIGHT * min(base, 1.0)
                key = ("g", group)
                old = concepts.get(key)
                if old is None or old.weight < weight:
                    concepts[key] = Concept(alternatives, weight, "thesaurus", " ".join(typed))
                for alt in alternatives:
                    for t in alt:
                        group_of.setdefault(t, group)
                inside = [p for p in span if p in weight_of]
                if len(typed) > 1 and inside:
                    # a phrase the thesaurus knows ("comes back", "not authenticated") is one thing said:
                    # a document scores for it once, by the phrase or by the best of its words, not for
                    # each word ("comes" and "back" are rare in articles, and weighed as two rare words)
                    for p in inside:
                        concepts.pop(("t", searched[p]), None)
                    words_of = tuple(dict.fromkeys((searched[p],) for p in inside))
                    concepts[("tp", typed)] = Concept(
                        (typed, *words_of), max(weight_of[p] for p in inside), "phrase", " ".join(typed)
                    )

    plan.concepts = list(concepts.values())
    plan.typed = frozenset(searched[p] for p in weight_of)
    plan.highlight = frozenset(t for c in plan.concepts for alt in c.alternatives for t in alt)
    plan.group_of = group_of
    plan.searched_words = list(dict.fromkeys(shown.get(p, words[p].text) for p in weight_of))
    if plan.corrections:
        pieces = []
        for position, w in enumerate(words):
            pieces.append(shown.get(position, w.text))
        plan.searched_for = " ".join(pieces)
    return plan


# -- search -----------------------------------------------------------------------------


def prepare_kb(store: Any) -> None:
    """Once per Store: the bundled sample KB is indexed and the analysis is current."""
    if getattr(store, "_kb_ready", False) or getattr(store, "read_only", None):
        return  # a database that can only be read is searched as it is
    from threer.kb.index import ensure_sample_kb

    ensure_sample_kb(store)
    try:
        store._kb_ready = True
    except AttributeError:  # pragma: no cover - a store object that takes no attributes
        pass


@dataclass
class SearchOutcome:
    results: list[SearchResult]
    plan: QueryPlan


def search(
    store: Any,
    query: str,
    *,
    limit: int = 10,
    source: str | None = None,
    ranking: str = "full",
    thesaurus: Any = None,
    thesaurus_file: Path | None = None,
    disabled: frozenset[str] | set[str] = frozenset(),
) -> list[SearchResult]:
    """The best `limit` articles and past cases for `query`, best first; [] when nothing matches.

    `thesaurus_file` is a partner's thesaurus (threer.kb.thesaurus); `thesaurus` a loaded one.
    `ranking` and `disabled` are for measuring (bench/kb.py): "bm25" is plain FTS5 BM25 over
    the words typed; `disabled` turns off components by name (COMPONENTS).
    """
    return search_outcome(
        store, query, limit=limit, source=source, ranking=ranking, thesaurus=thesaurus,
        thesaurus_file=thesaurus_file, disabled=disabled,
    ).results


def search_outcome(
    store: Any,
    query: str,
    *,
    limit: int = 10,
    source: str | None = None,
    ranking: str = "full",
    thesaurus: Any = None,
    thesaurus_file: Path | None = None,
    disabled: frozenset[str] | set[str] = frozenset(),
) -> SearchOutcome:
    """`search`, with the plan: what was searched for (corrections) and how."""
    if source not in (None, "kb", "case"):
        raise BadInput(f"--source takes kb or case, not {source!r}.")
    if ranking not in RANKINGS:
        raise ValueError(f"ranking must be one of {RANKINGS}")
    disabled = frozenset(disabled)
    if limit <= 0:
        return SearchOutcome([], QueryPlan(text=query))
    prepare_kb(store)
    index = kb_index_of(store)
    if thesaurus is None and "thesaurus" not in disabled and ranking == "full":
        thesaurus = index.thesaurus(thesaurus_file)
    with index.snapshot():
        stats = index.stats()
        if ranking == "bm25":
            plan = plan_query(index, stats, query, disabled=frozenset(COMPONENTS))
            scored = _plain_bm25(index, plan, source, limit)
        else:
            plan = plan_query(index, stats, query, thesaurus=thesaurus, disabled=disabled)
            scored = _ranked(index, stats, plan, source, limit, disabled)
        if not scored:
            index.keep_thesaurus(thesaurus)
            return SearchOutcome([], plan)
        documents = index.documents([rowid for _, rowid in scored])
    index.keep_thesaurus(thesaurus)
    from threer.kb.snippets import make_snippet, surface_regex

    surface = surface_regex(plan.highlight)
    results = []
    for score, rowid in scored:
        doc = documents.get(rowid)
        if doc is None:  # pragma: no cover - the snapshot makes this impossible
            continue
        plain = reading_text(doc["body"], doc["format"])
        snippet, spans = make_snippet(
            plain, plan.highlight, plan.group_of, plan.typed, stop_words_too=plan.stop_words_only, surface=surface
        )
        result = SearchResult(
            id=doc["doc_id"], title=doc["title"], source=doc["source"], score=round(score, 4), snippet=snippet,
            path=doc["path"], highlights=spans,
        )
        results.append(result)
    return SearchOutcome(results, plan)


def _plain_bm25(index: KbIndex, plan: QueryPlan, source: str | None, limit: int) -> list[tuple[float, int]]:
    """Plain BM25 (FTS5's) over an OR of the words typed: the baseline threer is measured against."""
    alts = [alt for c in plan.concepts if c.kind in ("word", "code") for alt in c.alternatives]
    if not alts:
        return []
    rows = sorted(index.best(list(dict.fromkeys(alts)), source, limit).items(), key=lambda item: (-item[1], item[0]))
    best = max((s for _, s in rows), default=0.0)
    return [(s / best if best > 0 else 0.0, rowid) for rowid, s in rows]


def _ranked(
    index: KbIndex, stats: IndexStats, plan: QueryPlan, source: str | None, limit: int, disabled: frozenset[str],
) -> list[tuple[float, int]]:
    if not plan.concepts:
        return []
    pool = max(POOL, limit * 3)
    found = candidates(index, stats, plan.concepts, source, pool)
    boosts: dict[int, float] = {}
    if "feedback" not in disabled:
        boosts = index.learned_boosts(plan, source)
        for rowid in boosts:
            found.setdefault(rowid, 0.0)
    if not found:
        return []
    rows = index.analysed(list(found))
    scores, _matched = score_documents(index, stats, plan.concepts, rows)
    for rowid, boost in boosts.items():
        if rowid in scores:
            scores[rowid] += boost
    ranked = sorted(((s, rowid) for rowid, s in scores.items() if s > 0), key=lambda item: (-item[0], item[1]))
    return ranked[:limit]


def parse_query(text: str) -> QueryPlan:
    """The words a query would search for, without an index (for messages and tests)."""
    words = read_words(text)
    content = [w for w in words if not w.stop] or (words if any(w.quoted for w in words) else [])
    plan = QueryPlan(text=text, nothing_to_search=bool(words) and not content)
    plan.concepts = [Concept(((w.term,),), 1.0, "word", w.term) for w in content]
    return plan


def query_terms(query: str) -> list[str]:
    """The terms a query searches for (for tests and `--debug`)."""
    return terms(query)
