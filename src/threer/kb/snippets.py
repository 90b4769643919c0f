"""Snippets: about 220 characters of an article around the words a search matched.

A snippet is plain text; the matched words are given as (start, end) offsets into it,
so a terminal can highlight them and `--json` carries no markup at all.
"""

from __future__ import annotations

import re

from threer.kb.analysis import STOP_WORDS, TOKEN_RE, _fold, stop_terms, term, token_spans

SNIPPET_CHARS = 220
_SOURCE_CHARS = 60_000


def surface_regex(highlight: frozenset[str]) -> re.Pattern[str] | None:
    """Words in the original text that may be a highlighted term: each term's start, any ending.

    Stems are not always prefixes of their words ("policy" stems to "polici"), so the last
    letter is dropped; every candidate is then checked by analysing it. The pattern is for
    the lower-cased text (`_lower`), without re.IGNORECASE, and the prefixes are grouped by
    their first letter, after which a look-behind checks that a word starts there: so the
    regex engine skips ahead to the letters that start a prefix instead of trying every
    prefix at every position (several times faster on an article).
    """
    prefixes = set()
    for t in highlight:
        if not t.isascii():
            return None  # accents were folded away: the original spelling is not a prefix
        prefixes.add(t.replace("_", ".") if "_" in t else t[: max(3, len(t) - 1)])
    prefixes.discard("")
    if not prefixes:
        return None
    rests: dict[str, list[str]] = {}
    for prefix in sorted(prefixes, key=lambda p: (-len(p), p)):  # the longest prefix that fits wins
        rests.setdefault(prefix[0], []).append(re.escape(prefix[1:]))
    # a term starts with a letter or a digit (threer.kb.analysis); none may stand before it
    branches = [re.escape(first) + r"(?<![^\W_].)" + (f"(?:{'|'.join(rest)})" if rest != [""] else "")
                for first, rest in sorted(rests.items())]
    return re.compile("|".join(branches))


def _lower(text: str) -> str:
    """The text lower-cased, character for character (offsets stay those of `text`)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c.lower()[:1] for c in text)  # "İ" lower-cases to "i" and a combining dot


def _hits(
    text: str, highlight: frozenset[str], stop_words_too: bool, surface: re.Pattern[str] | None
) -> list[tuple[int, int, str]]:
    stops = stop_terms()

    def wanted(token: str, t: str) -> bool:
        return t in highlight and (stop_words_too or t not in stops or _fold(token) not in STOP_WORDS)

    if surface is None:
        return [(s, e, t) for s, e, t in token_spans(text) if wanted(text[s:e], t)]
    hits = []
    last_end = -1
    seen: dict[str, str | None] = {}  # token -> its term if it is a hit (words recur in an article)
    for match in surface.finditer(_lower(text)):
        if match.start() < last_end:
            continue
        token = TOKEN_RE.match(text, match.start())
        if token is None:
            continue
        word = token.group()
        if word in seen:
            hit = seen[word]
        else:
            t = term(word)
            hit = seen[word] = t if wanted(word, t) else None
        if hit is not None:
            hits.append((token.start(), token.end(), hit))
            last_end = token.end()
    return hits


def _best_start(hits: list[tuple[int, int, str]], group_of: dict[str, int], typed: frozenset[str]) -> int:
    """Where the window of SNIPPET_CHARS with the most concepts, then most typed words, then most hits starts.

    A window starts at one of the first 200 hits and holds every hit that starts within
    SNIPPET_CHARS of it; the windows slide, so each hit enters and leaves them once.
    """
    best_key = (-1, -1, -1)
    start = 0
    groups: dict[int, int] = {}  # concept -> hits of it in the window
    typed_in = 0
    last = -1  # the window is hits[i : last + 1]
    for i, (h_start, _, _) in enumerate(hits[:200]):
        if i:  # the hit before leaves the window
            t = hits[i - 1][2]
            g = group_of.get(t, -1)
            groups[g] -= 1
            if not groups[g]:
                del groups[g]
            typed_in -= t in typed
        if last < i:  # the window so far ended at the hit before: this one starts it
            last = i - 1
        while last + 1 < len(hits) and (last + 1 == i or hits[last + 1][0] < h_start + SNIPPET_CHARS):
            last += 1
            t = hits[last][2]
            g = group_of.get(t, -1)
            groups[g] = groups.get(g, 0) + 1
            typed_in += t in typed
        key = (len(groups), typed_in, last + 1 - i)
        if key > best_key:
            best_key, start = key, h_start
    return start


def make_snippet(
    text: str,
    highlight: frozenset[str],
    group_of: dict[str, int],
    typed: frozenset[str],
    *,
    stop_words_too: bool = False,
    surface: re.Pattern[str] | None = None,
) -> tuple[str, list[tuple[int, int]]]:
    """(snippet, highlighted spans): the window with the most concepts, then most typed words."""
    text = text[:_SOURCE_CHARS]
    hits = _hits(text, highlight, stop_words_too, surface) if highlight else []
    start = 0
    if hits:
        start = max(0, _best_start(hits, group_of, typed) - 40)  # a few words of context before the first match
        if start:
            space = text.find(" ", start, start + 40)
            start = space + 1 if space != -1 else start
    end = min(len(text), start + SNIPPET_CHARS)
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start else end
    # rebuild the window with its whitespace squeezed, keeping the hits' offsets right
    out: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    if start > 0:
        out.append("… ")
        length = 2
    cursor = start
    pending_space = False

    def put(piece: str) -> None:
        nonlocal length, pending_space
        words = piece.split()
        if not words:
            pending_space = pending_space or bool(piece)
            return
        lead = piece[:1].isspace()
        trail = piece[-1:].isspace()
        joined = " ".join(words)
        if (lead or pending_space) and length and not out[-1].endswith(" "):
            out.append(" ")
            length += 1
        out.append(joined)
        length += len(joined)
        pending_space = trail

    for s, e, _ in hits:
        if s < start or e > end or s < cursor:
            continue
        put(text[cursor:s])
        if pending_space and length and not out[-1].endswith(" "):
            out.append(" ")
            length += 1
        pending_space = False
        word = text[s:e]
        spans.append((length, length + len(word)))
        out.append(word)
        length += len(word)
        cursor = e
    put(text[cursor:end])
    snippet = "".join(out).rstrip()
    if end < len(text) and text[end:].strip():
        snippet += " …"
    return snippet, spans
