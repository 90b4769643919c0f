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

# Words of a phone call that say nothing about the problem. Like stop words they are not
# searched on their own, but thesaurus phrases that contain them still match.
FILLER = frozenset(
    """hi hello hey okay ok yes yeah yep um uh er erm morning afternoon evening thanks thank cheers
    say says said saying tell tells told telling swear swears swore think thinks thought guess
    funny thing things know knows knew really actually basically literally sure anyway apparently
    someone somebody anyone anybody something anything everything stuff bit little lot lots
    week weekend weeks today yesterday tomorrow tonight ago last next earlier later
    monday tuesday wednesday thursday friday saturday sunday
    january february march april may june july august september october november december
    mr mrs ms dr urgent quick question guys wondering whether""".split()
)

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
    return words


def is_status_code(t: str) -> bool:
    """A bare SMTP reply code (421, 550, 554): a number that still names an error."""
    return len(t) == 3 and t[0] in "245" and t.isdigit()
