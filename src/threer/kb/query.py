"""What a query asks for: its words, read without the index.

A query is never handed to FTS5 as typed. It is cut into words by the same analysis as
the index (threer.kb.analysis); each word is marked as a stop word, filler, a number,
an error code, a capitalised word (maybe a name or a place) or part of a quoted phrase.
`threer.kb.plan` then weighs the words against the index (IDF), corrects typos and adds
the thesaurus. Nothing here raises: any text is a query.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from threer.kb.analysis import STOP_WORDS, TOKEN_RE, _fold, is_code, term

MAX_QUERY_CHARS = 2000

# Words of a phone call that say nothing about the problem ("the customer says"). Like stop words
# they are not searched on their own, but thesaurus phrases that contain them still match; a query
# of nothing else has nothing to search for.
FILLER = frozenset(
    """hi hello hey okay ok yes yeah yep um uh er erm morning afternoon evening thanks thank cheers
    say says said saying tell tells told telling swear swears swore think thinks thought guess
    funny thing things know knows knew really actually basically literally sure anyway apparently
    someone somebody anyone anybody something anything everything stuff bit little lot lots
    week weekend weeks today yesterday tomorrow tonight ago last next earlier later
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    mr mrs ms dr urgent quick question guys wondering whether customer customers caller""".split()
)

# The customer's own things and places: where a problem happens, not what it is. Named after whose
# they are ("Anna's laptop", "my PC") or where ("on the new laptop", "from the 2019 laptop", "at the
# office"), such a word is context, and weighs little (search.CONTEXT_WEIGHT). Said otherwise ("the
# laptop will not start") it is searched like any word.
CONTEXT_NOUNS = frozenset(
    """laptop laptops computer computers pc pcs notebook machine workstation tablet office home desk""".split()
)  # not "desktop" (the desktop client, the desktop app) nor platforms (iPhone, Android, Mac)
_OWNERS = frozenset("my her his their our your its".split())
_PLACE_WORDS = frozenset("on at in".split())  # not "from": "her archive from the old laptop" says which archive
_CONTEXT_REACH = 3  # words back from the noun to its owner or preposition ("on Anna's new laptop")

_QUOTED = re.compile(r"[\"\u201c\u201d\u201e]([^\"\u201c\u201d\u201e]*)[\"\u201c\u201d\u201e]")
_SENTENCE_END = re.compile(r"[.!?:;]\s*$")


@dataclass(frozen=True)
class Word:
    """One word of the query as typed, and what it is."""

    text: str
    term: str
    stop: bool  # a stop word or filler: not searched on its own
    capital: bool  # Capitalised inside a sentence: maybe a person's or a place's name
    number: bool  # digits only (a year, a count, a time): weak unless it is a status code
    code: bool  # an error or status code: 0x800ccc0e, 5.7.1, aadsts50126
    segment: int  # which piece of the query: quoted phrases are their own segments
    quoted: bool
    context: bool = False  # one of the customer's things or places, named as such (CONTEXT_NOUNS)


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


def read_words(text: str) -> list[Word]:
    """Every word of a query, in order, with what the index needs to know about it."""
    text = (text or "")[:MAX_QUERY_CHARS]
    words: list[Word] = []
    for number, (segment, quoted) in enumerate(_segments(text)):
        for match in TOKEN_RE.finditer(segment):
            token = match.group()
            t = term(token)
            if not t:
                continue
            folded = _fold(token)
            before = segment[: match.start()]
            sentence_start = not before.strip() or bool(_SENTENCE_END.search(before))
            capital = (
                token[:1].isupper() and not token.isupper() and token[1:].islower() and not sentence_start
            ) or (token[:1].isupper() and not token.isupper() and not words)
            digits = t.isdigit()
            words.append(
                Word(
                    text=token,
                    term=t,
                    stop=folded in STOP_WORDS or folded in FILLER or (len(token) == 1 and not token.isdigit()),
                    capital=capital,
                    number=digits,
                    code=is_code(t) and not digits,
                    segment=number,
                    quoted=quoted,
                )
            )
    return _mark_context(words)


def _mark_context(words: list[Word]) -> list[Word]:
    """Mark CONTEXT_NOUNS owned by someone or placed by a preposition a few words before them."""
    from dataclasses import replace

    marked = list(words)
    for i, w in enumerate(words):
        if w.quoted or _fold(w.text) not in CONTEXT_NOUNS:
            continue
        before = [b for b in words[max(0, i - _CONTEXT_REACH) : i] if b.segment == w.segment]
        if any(_is_owner(b.text) or _fold(b.text) in _PLACE_WORDS for b in before):
            marked[i] = replace(w, context=True)
    return marked


def _is_owner(token: str) -> bool:
    lower = token.casefold()
    return lower in _OWNERS or lower.endswith(("'s", "\u2019s"))


def is_status_code(t: str) -> bool:
    """A bare SMTP reply code (421, 550, 554): a number that still names an error."""
    return len(t) == 3 and t[0] in "245" and t.isdigit()
