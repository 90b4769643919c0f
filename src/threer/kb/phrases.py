"""Thesaurus phrases indexed as single terms, so searching one reads one short posting list.

A thesaurus phrase such as "e mail", "send receiv" or "ask for password" is made of
common words; matched as a phrase, FTS5 would walk the postings of every one of its
words (in most of a large index) to find the few documents where they stand side by
side, once to match and once more for the IDF. So every multi-word phrase of the
built-in thesaurus is also written as one joined term (`e__mail`) into three extra FTS
columns (`ptitle`, `ptags`, `pbody`), once for each place the phrase starts in the
title, tags or body. A document holds the joined term exactly when it holds the phrase,
as often, in the same field: its document count and term frequencies are the phrase's.

The index records which phrases it joined (`kb_meta` key `phrases`); a search uses the
joined term only for those and matches any other phrase (a partner's own thesaurus, a
phrase in quotes) as a phrase, as before. Editing a partner thesaurus therefore needs no
re-index; a change to the built-in thesaurus changes the analyser signature, and the
index is rebuilt from the stored text.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from itertools import compress
from typing import Any

from threer.kb.analysis import index_text

Phrase = tuple[str, ...]
SEPARATOR = "__"  # never inside a term: a dotted number gives single `_` between digits
META_KEY = "phrases"


def joined(phrase: Phrase) -> str:
    """The single term a phrase is indexed as."""
    return SEPARATOR.join(phrase)


class PhraseSet:
    """Multi-word phrases, and where each begins: finds them in analysed columns."""

    def __init__(self, phrases: Iterable[Phrase]) -> None:
        self.phrases: frozenset[Phrase] = frozenset(tuple(p) for p in phrases if len(p) > 1)
        by_pair: dict[tuple[str, str], list[tuple[Phrase, str]]] = {}
        for phrase in sorted(self.phrases):
            by_pair.setdefault((phrase[0], phrase[1]), []).append((phrase, joined(phrase)))
        self._by_pair = by_pair
        self._firsts = frozenset(pair[0] for pair in by_pair)

    def __contains__(self, phrase: object) -> bool:
        return phrase in self.phrases

    def __len__(self) -> int:
        return len(self.phrases)

    def column(self, analysed: str) -> str:
        """The joined terms of every phrase in one analysed column (terms separated by single spaces)."""
        return self.column_of(analysed.split())

    def column_of(self, words: list[str], distinct: Iterable[str] | None = None) -> str:
        """The joined terms of every phrase in a column's terms, in phrase order (`distinct`: its set of terms).

        A phrase counts once for each position it starts at, overlapping or not, as FTS5
        counts the matches of a phrase. Only the positions of a word that starts some
        phrase are looked at: in most text that is one word in ten.
        """
        starts = self._firsts.intersection(words if distinct is None else distinct)
        if not starts:
            return ""
        by_pair = self._by_pair
        found: list[tuple[Phrase, str]] = []
        for at in compress(range(len(words) - 1), map(starts.__contains__, words)):
            candidates = by_pair.get((words[at], words[at + 1]))
            if candidates:
                for phrase, term in candidates:
                    if len(phrase) == 2 or tuple(words[at : at + len(phrase)]) == phrase:
                        found.append((phrase, term))
        if not found:
            return ""
        found.sort()
        return " ".join([term for _phrase, term in found])

    def to_json(self) -> str:
        return json.dumps(sorted(map(list, self.phrases)), separators=(",", ":"))


_builtin: PhraseSet | None = None


def builtin_phrases() -> PhraseSet:
    """The multi-word phrases of the built-in thesaurus (words and implies)."""
    global _builtin
    if _builtin is None:
        from threer.kb.thesaurus import BUILTIN_PATH, parse_thesaurus

        thesaurus = parse_thesaurus(BUILTIN_PATH.read_text(encoding="utf-8"), "built-in")
        _builtin = PhraseSet(p for g in thesaurus.groups for p in (*g.words, *g.implies))
    return _builtin


def builtin_fingerprint() -> str:
    """Changes when the built-in thesaurus file does (then its phrases may have changed)."""
    from threer.kb.thesaurus import BUILTIN_PATH

    return hashlib.sha256(BUILTIN_PATH.read_bytes()).hexdigest()[:16]


def indexed_columns(title: str, tags: list[str] | str, plain: str) -> tuple[str, str, str, str, str, str]:
    """The six FTS columns of a document: title, tags, body, and the joined phrases of each."""
    columns = index_text(title, tags, plain)
    phrases = builtin_phrases()
    return (*columns, phrases.column(columns[0]), phrases.column(columns[1]), phrases.column(columns[2]))


def index_phrases(conn: Any) -> frozenset[Phrase]:
    """The phrases this index holds as joined terms (none for an index from before they were)."""
    import sqlite3

    try:
        row = conn.execute("SELECT value FROM kb_meta WHERE key = ?", (META_KEY,)).fetchone()
    except sqlite3.Error:
        return frozenset()
    if row is None:
        return frozenset()
    cached = _read_cache.get(row[0])
    if cached is None:
        try:
            cached = frozenset(tuple(p) for p in json.loads(row[0]) if isinstance(p, list) and len(p) > 1)
        except (ValueError, TypeError):
            cached = frozenset()
        _read_cache.clear()
        _read_cache[row[0]] = cached
    return cached


_read_cache: dict[str, frozenset[Phrase]] = {}
