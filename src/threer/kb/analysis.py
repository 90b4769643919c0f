"""Text analysis shared by indexing and search: tokens, terms, stemming, Markdown to text.

A *token* is a run of letters and digits in the original text (inner apostrophes kept,
so "can't" is one token), or a dotted run of numbers such as `5.7.1` or `4.4.7`. A
*term* is what gets indexed and searched: the token case-folded, accents removed,
inner apostrophes dropped, dots turned into `_` (so `5.7.1` is the one term `5_7_1`,
never `5`, `7`, `1`), and, for purely alphabetic tokens, stemmed with Snowball English.
Tokens holding a digit (`0x800ccc0e`, `550`, `aadsts50126`) are never stemmed.
The same function turns index text and query text into terms, so they always agree.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

# Bump when the analysis changes: the index is then rebuilt from the stored text.
ANALYZER_VERSION = "1"

TOKEN_RE = re.compile(r"\d+(?:\.\d+)+|[^\W_]+(?:['\u2019][^\W_]+)*")

# Query words that carry no meaning of their own in a help-desk question. They are
# kept in the index (so phrases such as "sign in" still match) but not searched alone.
STOP_WORDS = frozenset(
    """a about after again all also am an and any are as at be been before being both but by
    can cannot could did do does doing done for from get gets getting got had has have having
    he her here hers him his how i if into is it its itself just me more most my myself no
    nor not now of or our ours she should so some such than that the their them then there
    these they this those through too very was we were what when where which while who whom
    why will with would you your yours yourself please help issue problem hi hello thanks
    to in on up off out go going goes keep keeps kept still since even only again anymore every""".split()
)

_stemmer = None
_term_cache: dict[str, str] = {}
_CACHE_LIMIT = 400_000


def _stem_word(word: str) -> str:
    global _stemmer
    if _stemmer is None:
        import snowballstemmer

        _stemmer = snowballstemmer.stemmer("english")
    return _stemmer.stemWord(word)


def _fold(token: str) -> str:
    """Case-fold and strip accents; keep only letters and digits (and `.` in numbers)."""
    text = token.casefold()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = "".join(c for c in text if c.isalnum() or c == ".").casefold()
    return text.replace("'", "").replace("\u2019", "")


def _make_term(token: str) -> str:
    folded = _fold(token)
    if "." in folded:
        return folded.replace(".", "_").strip("_")
    if folded.isalpha():
        return _stem_word(folded)
    return folded


def term(token: str) -> str:
    """The indexed term for one token (cached: help-desk vocabularies are small)."""
    cached = _term_cache.get(token)
    if cached is None:
        if len(_term_cache) > _CACHE_LIMIT:
            _term_cache.clear()
        cached = _term_cache[token] = _make_term(token)
    return cached


def terms(text: str) -> list[str]:
    """Every term of `text`, in order (empty terms, from odd Unicode, are dropped)."""
    get = _term_cache.get
    out = []
    for token in TOKEN_RE.findall(text):
        t = get(token)
        if t is None:
            t = term(token)
        if t:
            out.append(t)
    return out


def shadow(text: str) -> str:
    """The analysed form of `text` stored in FTS5: its terms separated by spaces."""
    return " ".join(terms(text))


def index_text(title: str, tags: list[str] | str, body: str, fmt: str) -> tuple[str, str, str]:
    """The three analysed FTS columns (title, tags, body) of a document."""
    tag_text = tags if isinstance(tags, str) else " ".join(tags)
    plain = markdown_to_text(body) if fmt == "markdown" else body
    return shadow(title), shadow(tag_text.replace(",", " ")), shadow(plain)


def token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, term) of every token, with offsets into the original text (for snippets)."""
    for match in TOKEN_RE.finditer(text):
        t = term(match.group())
        if t:
            yield match.start(), match.end(), t


def is_code(t: str) -> bool:
    """A term holding a digit: an error or status code, a number, a version."""
    return any(c.isdigit() for c in t)


def analyzer_signature() -> str:
    """Changes whenever terms could change: threer's analysis or the stemmer's version."""
    try:
        from importlib.metadata import version

        stemmer_version = version("snowballstemmer")
    except Exception:  # noqa: BLE001 - an unusual install: fall back to our own version
        stemmer_version = "?"
    return f"{ANALYZER_VERSION}/snowball-{stemmer_version}"


# -- Markdown to plain text -------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~).*$", re.M)
_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s+\S+.*$", re.M)
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+", re.M)
_HEADING_CLOSE = re.compile(r"\s+#+\s*$", re.M)
_SETEXT = re.compile(r"^\s{0,3}(=+|-+)\s*$", re.M)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.M)
_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?", re.M)
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$", re.M)
_EMPHASIS = re.compile(r"(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=\S)\1")
_CODE = re.compile(r"`+([^`]*)`+")
_BLANKS = re.compile(r"\n{3,}")


def markdown_to_text(markdown: str) -> str:
    """Plain text of a Markdown body: the words a reader sees, without the markup."""
    text = _FENCE.sub("", markdown)
    text = _LINK_DEF.sub("", text)
    text = _IMAGE.sub(r"\1", text)
    text = _LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)
    text = _HTML_TAG.sub(" ", text)
    text = _HEADING.sub("", text)
    text = _HEADING_CLOSE.sub("", text)
    text = _TABLE_RULE.sub("", text)
    text = _SETEXT.sub("", text)
    text = _QUOTE.sub("", text)
    text = _LIST.sub("", text)
    text = _CODE.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\2", text)
    text = text.replace("|", " ")
    return _BLANKS.sub("\n\n", text).strip()
