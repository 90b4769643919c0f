"""Typo correction on the team index: pg_trgm finds the vocabulary's near words, threer's rules choose.

The vocabulary is `kb_spell` (every alphabetic term of the articles, never of past cases).
The candidates are every vocabulary term one edit away from the word or its stem (each
such spelling is looked up: exact, whatever the trigrams say, so "hsah" still finds
"hash") and, with pg_trgm, the terms of about the right length whose trigram similarity
reaches TRIGRAM_FLOOR (the two-edit corrections of longer words). Without pg_trgm, every
term of about the right length is read instead (kept for the process until the
vocabulary changes). threer.kb.spelling.choose then applies the SQLite index's rules to
them (edit distance, a known stem with a mistyped ending, the most documents).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from threer.kb.spelling import choose, length_window, max_distance, worth_correcting

TRIGRAM_FLOOR = 0.1  # pg_trgm similarity a two-edit candidate needs ("outdated" -> "updat" by its stem: 0.18)
_vocabulary: dict[str, tuple[str, dict[int, list[str]]]] = {}


def correct(kb: Any, cur: Any, word: str, df: Callable[[tuple[str, ...]], int]) -> str | None:
    if not worth_correcting(word):
        return None
    from threer.kb.analysis import term

    window = length_window(word)
    low, high = window.start, window.stop - 1
    if kb.trigrams:
        near = sorted(one_edit(word) | one_edit(term(word)))
        # the primary key finds exact spellings; left to itself the planner may take the trigram index for
        # `=` (pg_trgm 1.6 supports it), which costs seconds for a few hundred spellings
        cur.execute("SET LOCAL enable_bitmapscan = off")
        cur.execute("SELECT term, len FROM kb_spell WHERE term = ANY(%s)", (near,))
        found = set(cur.fetchall())
        cur.execute("SET LOCAL enable_bitmapscan = on")
        if max_distance(word) >= 2:  # two edits: the trigram index's near words too
            cur.execute("SET LOCAL pg_trgm.similarity_threshold = %s" % TRIGRAM_FLOOR)
            cur.execute("SELECT term, len FROM kb_spell WHERE len BETWEEN %s AND %s AND (term %% %s OR term %% %s)",
                        (low, high, word, term(word)))
            found |= set(cur.fetchall())
        pool = [t for t, length in sorted(found, key=lambda item: (item[1], item[0])) if low <= length <= high]
    else:
        grouped = _terms_by_length(kb, cur)
        pool = [t for length in window for t in grouped.get(length, ())]
    prefixes = [word[:k] for k in range(max(5, len(word) - 4), len(word))]
    cur.execute("SET LOCAL enable_bitmapscan = off")
    cur.execute("SELECT term FROM kb_spell WHERE term = ANY(%s)", (prefixes,))
    known = {r[0] for r in cur.fetchall()}
    cur.execute("SET LOCAL enable_bitmapscan = on")
    return choose(word, pool, known.__contains__, df)


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def one_edit(word: str) -> set[str]:
    """Every spelling one edit from `word`: a letter dropped, added, changed, or two neighbours swapped."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    found = {a + b[1:] for a, b in splits if b}
    found |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    found |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    found |= {a + c + b for a, b in splits for c in _LETTERS}
    found.discard(word)
    return found


def _terms_by_length(kb: Any, cur: Any) -> dict[int, list[str]]:
    """Every vocabulary term by length, read again only when the vocabulary changed."""
    cur.execute("SELECT value FROM kb_meta WHERE key = 'spell_change'")
    row = cur.fetchone()
    change = row[0] if row else ""
    cached = _vocabulary.get(kb.where)
    if cached is not None and cached[0] == change:
        return cached[1]
    grouped: dict[int, list[str]] = {}
    cur.execute("SELECT len, term FROM kb_spell ORDER BY len, term")
    for length, t in cur.fetchall():
        grouped.setdefault(length, []).append(t)
    _vocabulary[kb.where] = (change, grouped)
    return grouped
