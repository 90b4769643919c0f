"""Typo correction against the index's own words.

Indexing records every alphabetic term of the articles in `kb_spell` (past cases are
left out: their words are customers' data). A query word that is in no document is
compared with those terms:

1. each spelling one edit away from the word as typed (a letter dropped, added,
   changed, or two swapped) is stemmed, and kept if the index has that term
   ("attachmnet" -> "attachment" -> attach);
2. else the terms of about the same length within a small edit distance of the word
   (rapidfuzz's optimal-string-alignment distance: one edit up to 7 letters, two above).

Among candidates the closest wins, then the one in most documents.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable

from threer.kb.analysis import STOP_WORDS, stop_terms, term

MIN_LENGTH = 3  # shorter words are too often right and rare


def spell_terms(columns: Iterable[str], known: set[str] | frozenset[str] = frozenset()) -> set[str]:
    """The terms of analysed columns worth keeping for correction (letters only, 3 or more), but not `known` ones."""
    distinct: set[str] = set()
    for column in columns:
        distinct.update(column.split())  # each term once: an article repeats most of its words
    distinct -= known  # most words of an article are already known after the first few hundred
    return {t for t in distinct if len(t) >= MIN_LENGTH and t.isalpha() and t.isascii()}


def record_terms(cur: sqlite3.Cursor, new_terms: Iterable[str]) -> None:
    cur.executemany("INSERT OR IGNORE INTO kb_spell (len, term) VALUES (?, ?)", ((len(t), t) for t in new_terms))


def known_terms(conn: sqlite3.Connection) -> set[str]:
    try:
        return {row[0] for row in conn.execute("SELECT term FROM kb_spell")}
    except sqlite3.OperationalError:  # a database from before migration 6, opened read-only
        return set()


def max_distance(word: str) -> int:
    return 1 if len(word) <= 7 else 2


_by_length: dict[tuple[int, int], tuple[int, dict[int, list[str]]]] = {}
_known_sets: dict[int, set[str]] = {}


def _terms_by_length(conn: sqlite3.Connection) -> dict[int, list[str]]:
    """The spelling terms grouped by length, read once per connection until the index changes."""
    version = (conn.execute("PRAGMA data_version").fetchone()[0], conn.total_changes)
    key = (id(conn), 0)
    cached = _by_length.get(key)
    if cached is not None and cached[0] == version:  # type: ignore[comparison-overlap]
        return cached[1]
    grouped: dict[int, list[str]] = {}
    for length, t in conn.execute("SELECT len, term FROM kb_spell"):
        grouped.setdefault(length, []).append(t)
    if len(_by_length) > 8:
        _by_length.clear()
        _known_sets.clear()
    _by_length[key] = (version, grouped)  # type: ignore[assignment]
    _known_sets[id(conn)] = {t for group in grouped.values() for t in group}
    return grouped


def correct(
    conn: sqlite3.Connection, word: str, df: Callable[[tuple[str, ...]], int]
) -> str | None:
    """The index term a misspelt word most likely meant, or None.

    `word` is the folded word as typed (letters only); `df` gives a term's document count.
    Candidates: terms within the edit distance of the word or of its stem, and terms that
    the word starts with, followed by a short ending ("attachmnet": attach + "mnet").
    """
    if not worth_correcting(word):
        return None
    try:
        grouped = _terms_by_length(conn)
        known = _known_sets[id(conn)]
    except sqlite3.OperationalError:  # no kb_spell table (a database opened read-only before migration 6)
        return None
    pool: list[str] = []
    for length in length_window(word):
        pool.extend(grouped.get(length, ()))
    return choose(word, pool, known.__contains__, df)


def worth_correcting(word: str) -> bool:
    """Only words of letters, long enough to be misspelt rather than rare, are corrected."""
    return len(word) >= MIN_LENGTH + 1 and word.isalpha() and word.isascii()


def length_window(word: str) -> range:
    """The lengths of the index terms a misspelt word may have meant (its own and its stem's, +/- the distance)."""
    own, limit = term(word), max_distance(word)
    return range(min(len(own), len(word)) - limit, max(len(own), len(word)) + limit + 1)


def choose(word: str, pool: list[str], known: Callable[[str], bool], df: Callable[[tuple[str, ...]], int]) -> str | None:
    """The correction among `pool` (index terms of about the right length) by correct()'s rules.

    `known(t)` says whether t is an index term (for the known-stem-and-mistyped-ending rule).
    """
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    own = term(word)
    limit = max_distance(word)
    candidates: dict[str, int] = {}
    stop = stop_terms()
    for probe in {word, own}:
        for found, distance, _ in process.extract(probe, pool, scorer=OSA.distance, score_cutoff=limit, limit=20):
            # never a stop word, as typed or as indexed ("verfy" is not "very", whose term is veri)
            if found != own and found not in STOP_WORDS and found not in stop and len(found) > 3:
                candidates[found] = min(distance, candidates.get(found, 9))
    for k in range(max(5, len(word) - 4), len(word)):  # a known stem and a mistyped ending
        prefix = word[:k]
        if prefix != own and known(prefix):
            candidates.setdefault(prefix, 1)
    best: tuple[int, int, str] | None = None
    for t, distance in candidates.items():
        count = df((t,))
        if count <= 0:
            continue  # a word of an article that has since left the index
        key = (distance, -count, t)
        if best is None or key < best:
            best = key
    return best[2] if best else None


_ENDINGS = ("", "e", "y", "s", "er", "ed", "es", "al", "ing", "ion", "ity", "ure", "ment", "ation", "ication", "ness",
            "ive", "ise", "ize", "ised", "ized")


def display_form(typed: str, corrected: str) -> str:
    """A readable word for a corrected term: of the words the index term stands for, the one nearest to
    what the person typed.

    "recieving" corrected to the term receiv reads "receiving", "autodiscovr" reads "autodiscover",
    "identitty" (ident) "identity", "signiture" (signatur) "signature", "verfy" (verifi) "verify";
    without a word that fits, the term itself.
    """
    from rapidfuzz.distance import OSA

    word = typed.casefold()
    stems = [corrected]
    if corrected.endswith("i"):  # the stemmer writes a final y as i: verify -> verifi
        stems.append(corrected[:-1] + "y")
    candidates = {corrected + word[cut:] for cut in range(len(corrected) - 1, len(corrected) + 3)}
    candidates |= {stem + ending for stem in stems for ending in _ENDINGS}
    # the ending of what was typed, completed or replaced ("certificat" -> certificate)
    candidates |= {word[: len(word) - cut] + ending for cut in range(3) for ending in _ENDINGS}

    def best(pool: set[str]) -> tuple[int, bool, int, str] | None:
        # nearest to what was typed; on a tie a whole word before the bare term (autodiscover, not
        # autodiscov), then the longer (autodiscover, not autodiscove: the letters typed are kept).
        # Stemming is the costly part: the candidates are stemmed nearest first, and only until the
        # nearest distance that has one that fits
        by_distance: dict[int, list[str]] = {}
        for c in pool:
            if c.isalpha():
                by_distance.setdefault(OSA.distance(c, word), []).append(c)
        for distance in sorted(by_distance):
            keys = [(distance, c == corrected, -len(c), c) for c in by_distance[distance] if term(c) == corrected]
            if keys:
                return min(keys)
        return None

    found = best(candidates)
    return found[3] if found else corrected
