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
from collections.abc import Callable, Iterator
from typing import Any

# Bump when the analysis changes: the index is then rebuilt from the stored text.
ANALYZER_VERSION = "4"  # 4: entities, ~~strike~~ and footnote marks [^1] read as text

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
_CACHE_LIMIT = 400_000


def _english_stemmer() -> Any:
    """Snowball's English stemmer, loaded without the rest of snowballstemmer.

    The package's `__init__` imports every one of its 30-odd languages (30 ms or more at each
    start); its English module needs only the package's path. With PyStemmer installed the
    package's own choice (PyStemmer's C stemmer) is kept.
    """
    import importlib.util
    import sys

    if "snowballstemmer" not in sys.modules and importlib.util.find_spec("Stemmer") is None:
        spec = importlib.util.find_spec("snowballstemmer")
        if spec is not None and spec.submodule_search_locations is not None:
            sys.modules["snowballstemmer"] = importlib.util.module_from_spec(spec)  # its path, not run
            try:
                from snowballstemmer.english_stemmer import EnglishStemmer
            finally:
                del sys.modules["snowballstemmer"]  # a later `import snowballstemmer` runs the real one
            return EnglishStemmer()
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def _stem_word(word: str) -> str:
    global _stemmer
    if _stemmer is None:
        _stemmer = _english_stemmer()
    stem: str = _stemmer.stemWord(word)  # snowballstemmer ships no type hints
    return stem


def _fold(token: str) -> str:
    """Case-fold and strip accents; keep only letters and digits (and `.` in numbers)."""
    text = token.casefold()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
        text = "".join(c for c in text if c.isalnum() or c == ".").casefold()
    return text.replace("'", "").replace("\u2019", "")


_stem_cache: dict[str, str] = {}


def _make_term(token: str) -> str:
    folded = _fold(token)
    if "." in folded:
        return folded.replace(".", "_").strip("_")
    if folded.isalpha():
        stem = _stem_cache.get(folded)  # "Outlook" and "outlook" share one stemming
        if stem is None:
            if len(_stem_cache) > _CACHE_LIMIT:
                _stem_cache.clear()
            stem = _stem_cache[folded] = _stem_word(folded)
        return stem
    return folded


class _TermCache(dict[str, str]):
    """token -> term, computed on first use (help-desk vocabularies are small)."""

    def __missing__(self, token: str) -> str:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        value = self[token] = _make_term(token)
        return value


_term_cache = _TermCache()


class _ChunkCache(dict[str, str]):
    """A whitespace-free piece of text ("Outlook,", "(0x800CCC0E).") -> each of its terms followed by a space.

    No token holds whitespace, so the tokens of a text are the tokens of its
    whitespace-separated pieces, in order; a piece seen before costs one dict look-up,
    and a piece without terms is "", so the pieces join without a filter.
    """

    def __missing__(self, chunk: str) -> str:
        if len(self) > _CACHE_LIMIT:
            self.clear()
        value = self[chunk] = "".join(t + " " for t in map(_term_cache.__getitem__, TOKEN_RE.findall(chunk)) if t)
        return value


_chunk_cache = _ChunkCache()


def term(token: str) -> str:
    """The indexed term for one token."""
    return _term_cache[token]


def shadow(text: str) -> str:
    """The analysed form of `text` stored in FTS5: its terms separated by single spaces."""
    return "".join(map(_chunk_cache.__getitem__, text.split()))[:-1]


_STOP_TERMS: frozenset[str] | None = None


def stop_terms() -> frozenset[str]:
    """The terms of the stop words: a token whose term is not one of them is no stop word."""
    global _STOP_TERMS
    if _STOP_TERMS is None:
        _STOP_TERMS = frozenset(term(w) for w in STOP_WORDS)
    return _STOP_TERMS


def terms(text: str) -> list[str]:
    """Every term of `text`, in order (empty terms, from odd Unicode, are dropped)."""
    return shadow(text).split()


def plain_text(body: str, fmt: str) -> str:
    """The words of a stored body: Markdown without its markup, or the text itself."""
    return markdown_to_text(body) if fmt == "markdown" else body


def reading_text(body: str, fmt: str) -> str:
    """A stored body as a person reads it (snippets): only real markup goes.

    Unlike `plain_text` (what is indexed), DNS names keep their underscores
    (`_dmarc`, `selector1._domainkey`), `*.example.com` its asterisk and `<placeholder text>`
    its angle brackets: only emphasis that is emphasis and tags of real HTML elements are taken out.
    """
    return markdown_to_text(body, for_reading=True) if fmt == "markdown" else body


def analysed_column(text: str) -> str:
    """One FTS column: the terms of `text` separated by single spaces."""
    return shadow(text)


def index_text(title: str, tags: list[str] | str, plain: str) -> tuple[str, str, str]:
    """The three analysed FTS columns (title, tags, body) of a document, from its plain text."""
    tag_text = tags if isinstance(tags, str) else " ".join(tags)
    return analysed_column(title), analysed_column(tag_text.replace(",", " ")), analysed_column(plain)


def token_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, term) of every token, with offsets into the original text (for snippets)."""
    for match in TOKEN_RE.finditer(text):
        t = term(match.group())
        if t:
            yield match.start(), match.end(), t


def is_code(t: str) -> bool:
    """A term holding a digit: an error or status code, a number, a version."""
    return any(c.isdigit() for c in t)


_signature: str | None = None


def analyzer_signature() -> str:
    """Changes whenever terms could change: threer's analysis, the stemmer, the built-in thesaurus.

    The built-in thesaurus's phrases are indexed as single terms (threer.kb.phrases); a
    partner's thesaurus is applied to queries only, so changing it never needs a new index.
    """
    global _signature
    if _signature is not None:
        return _signature
    import os

    _stem_word("a")  # load the stemmer
    module = type(_stemmer).__module__
    source = getattr(__import__(module, fromlist=["_"]), "__file__", None) or ""
    try:
        stemmer_id = f"{module}-{os.path.getsize(source)}"  # cheaper than reading package metadata
    except OSError:
        stemmer_id = module
    from threer.kb.phrases import builtin_fingerprint

    _signature = f"{ANALYZER_VERSION}/{stemmer_id}/{builtin_fingerprint()}"
    return _signature


# -- Markdown to plain text -------------------------------------------------------------

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_LINK_DEF = re.compile(r"\[[^\]]+\]:\s+\S+")
_AUTOLINK = re.compile(r"<((?:https?|mailto):[^>\s]+)>")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_ORDERED = re.compile(r"\d{1,9}[.)]\s+")
_TASK = re.compile(r"\[[ xX]\]\s+")
_RULE_CHARS = frozenset("-*_= \t")
_TABLE_RULE_CHARS = frozenset("|:- \t")
_CODE = re.compile(r"`+([^`]*)`+")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")  # GFM strikethrough: the words stay, the marks go
# a footnote's mark [^1], and its definition's [^1]: (a label holds no [ or ^, so a look for its ] ends at
# the next [ and a megabyte of "[^" is read once, not once from each)
_FOOTNOTE = re.compile(r"\[\^[^\]\s\[^]+\]:?")
_EDGE_UNDERSCORES = re.compile(r"(?<![^\W_])_+|_+(?![^\W_])")
# for reading: emphasis is a run of * or _ that opens before a non-space and closes after one, on one
# line (an `_` one not inside a word: CommonMark's rule), and only elements HTML has are tags
_STAR_EMPHASIS = re.compile(r"(\*{1,3})(?=[^\s*])([^\n]*?[^\s*])\1")
_UNDERSCORE_EMPHASIS = re.compile(r"(?<!\w)(_{1,3})(?=[^\s_])([^\n]*?[^\s_])\1(?!\w)")
_HTML_ELEMENTS = frozenset(
    """a abbr address article aside audio b bdi bdo blockquote body br button caption center cite code col
    colgroup dd del details dfn div dl dt em figcaption figure font footer form h1 h2 h3 h4 h5 h6 head header
    hr html i iframe img input ins kbd label li main mark nav ol option p picture pre q s samp section select
    small source span strike strong sub summary sup table tbody td textarea tfoot th thead time tr tt u ul var
    video wbr""".split()
)
_STAR_RUNS = re.compile(r"\*{2,}")
_HTML_COMMENT = re.compile(r"<!--.*?-->", re.S)
_READING_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)(?:\s[^<>]*)?/?>")


# The link, image, autolink, tag and comment patterns above, applied by scanning instead: each of
# them can match at a start in one way only (up to the first `]`, `)`, `>`, white space or `-->`
# after it), but the regex engine looks for that end again from every start, so text such as
# 50,000 `[` took seconds and 5 MB of it days. The scans below find each end once for all the
# starts before it and give what `re.sub` with the pattern gives (tests compare them).
_AUTOLINK_END = re.compile(r"[>\s]")


def _rebuilt(text: str, out: list[str], last: int) -> str:
    """`text` with the pieces a scan replaced: `out` holds what stands before `last`, the rest is as it was."""
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _strip_brackets(text: str, opener: str, min_inner: int, open_char: str, close_char: str) -> str:
    """`opener` TEXT `]` `open_char` ANY `close_char` -> TEXT, as `re.sub` with _IMAGE, _LINK or _REF_LINK."""
    out: list[str] = []
    last = 0
    inner_end = after_end = -2  # the first `]` / `close_char` found so far, valid for the starts before it
    at = text.find(opener)
    while at != -1:
        inner = at + len(opener)
        if inner_end < inner:
            inner_end = text.find("]", inner)
            if inner_end == -1:
                break  # no `]` after this start, nor after any later one
        if inner_end - inner >= min_inner and text.startswith(open_char, inner_end + 1):
            if after_end < inner_end + 2:
                after_end = text.find(close_char, inner_end + 2)
                if after_end == -1:
                    break
            out.append(text[last:at])
            out.append(text[inner:inner_end])
            last = after_end + 1
            at = text.find(opener, last)
        else:
            at = text.find(opener, at + 1)
    return _rebuilt(text, out, last)


def _strip_links(text: str) -> str:
    """Images and links (inline and by reference) to their text: _IMAGE, _LINK then _REF_LINK, in linear time."""
    if "![" in text:
        text = _strip_brackets(text, "![", 0, "(", ")")
    text = _strip_brackets(text, "[", 1, "(", ")")
    return _strip_brackets(text, "[", 1, "[", "]")


def _autolink_opening(text: str, at: int) -> int:
    """`<https:`, `<http:` or `<mailto:` at `at`: the index after the scheme, else -1."""
    for scheme in ("https:", "http:", "mailto:"):
        if text.startswith(scheme, at + 1):
            return at + 1 + len(scheme)
    return -1


def _strip_autolinks(text: str) -> str:
    """`<https://...>` and `<mailto:...>` to the address, as `re.sub` with _AUTOLINK."""
    out: list[str] = []
    last = 0
    end = -2  # the first `>` or white space found so far
    at = text.find("<")
    while at != -1:
        start = _autolink_opening(text, at)
        if start != -1:
            if end < start:
                found = _AUTOLINK_END.search(text, start)
                if found is None:
                    break  # no `>` after this opening, nor after any later one
                end = found.start()
            if end > start and text[end] == ">":
                out.append(text[last:at])
                out.append(text[at + 1 : end])
                last = end + 1
                at = text.find("<", last)
                continue
        at = text.find("<", at + 1)
    return _rebuilt(text, out, last)


def _replace_spans(text: str, starts_at: Callable[[str, int], int], closer: str) -> str:
    """Each span from a start `starts_at(text, i)` accepts (the index after its opening, else -1) to the
    first `closer` after that opening, replaced by one space (_HTML_TAG, _HTML_COMMENT)."""
    out: list[str] = []
    last = 0
    end = -2
    at = text.find("<")
    while at != -1:
        opened = starts_at(text, at)
        if opened != -1:
            if end < opened:
                end = text.find(closer, opened)
                if end == -1:
                    break
            out.append(text[last:at])
            out.append(" ")
            last = end + len(closer)
            at = text.find("<", last)
        else:
            at = text.find("<", at + 1)
    return _rebuilt(text, out, last)


def _tag_opening(text: str, at: int) -> int:
    """`</?[A-Za-z]` at `at`: the index after its letter, else -1."""
    k = at + 1
    if text.startswith("/", k):
        k += 1
    letter = text[k : k + 1]
    return k + 1 if letter and letter.isascii() and letter.isalpha() else -1


def _comment_opening(text: str, at: int) -> int:
    return at + 4 if text.startswith("<!--", at) else -1


def _strip_tags(text: str) -> str:
    """Tag-like `<...>` pieces to a space, as `re.sub` with _HTML_TAG."""
    return _replace_spans(text, _tag_opening, ">")


def _strip_comments(text: str) -> str:
    """HTML comments to a space, as `re.sub` with _HTML_COMMENT."""
    return _replace_spans(text, _comment_opening, "-->")


def _real_tag(match: re.Match[str]) -> str:
    return " " if match.group(1).lower() in _HTML_ELEMENTS else match.group()


_SPACE = re.compile(r"\s")
_WORD = re.compile(r"\w")


def _strip_strike(text: str) -> str:
    """What `re.sub` with _STRIKE and r"\\1" gives, in time linear in the text (but for a log factor).

    An opening is a `~~` (at any position, so `~~~` holds two) before a character that is no white
    space; its close is the first `~~` after a character that is no white space, at least one character
    on and on the same line: the lazy `+?` finds no other. The regex looked for it again from every
    opening, which took seconds on a line of "~~a " repeated.
    """
    from bisect import bisect_left

    pairs: list[int] = []
    j = text.find("~~")
    while j != -1:
        pairs.append(j)
        j = text.find("~~", j + 1)
    closers = [j for j in pairs if j > 0 and not _SPACE.match(text, j - 1)]
    newlines = [m.start() for m in re.finditer("\n", text)] if closers else []
    out: list[str] = []
    last = 0
    for at in pairs:
        if at < last or at + 2 >= len(text) or _SPACE.match(text, at + 2):
            continue
        k = bisect_left(closers, at + 3)
        if k == len(closers):
            break  # no close after this opening, so none after a later one
        end = closers[k]
        line = bisect_left(newlines, at + 2)
        if line < len(newlines) and newlines[line] < end:
            continue  # the first close is on a later line
        out += [text[last:at], text[at + 2:end]]
        last = end + 2
    out.append(text[last:])
    return "".join(out)


def _strip_emphasis(text: str, mark: str) -> str:
    """What `re.sub` with _STAR_EMPHASIS (`mark` "*") or _UNDERSCORE_EMPHASIS ("_") and r"\\2" gives, in linear time.

    An opening is the whole run of 1 to 3 marks from a position (fewer would leave a mark for the
    look-ahead), before a character that is neither white space nor a mark (and, for `_`, after one
    that is no word character). Its close is then the first run of as many marks, later on the line,
    after such a character (and, for `_`, before no word character): the lazy `*?` finds no other.
    The first close of each size after a point is found once for all the openings before it.
    """
    underscore = mark == "_"
    n = len(text)
    out: list[str] = []
    last = 0
    run_end = -1  # where the run of marks holding the current position ends
    line_end = -2  # the first newline at or after the current opening's text
    closes: dict[int, tuple[int, int]] = {}  # run size -> (looked from, first close at or after it, or -1)

    def close(size: int, start: int) -> int:
        known = closes.get(size)
        if known is not None and start >= known[0] and (known[1] == -1 or known[1] >= start):
            return known[1]
        run = mark * size
        j = text.find(run, start)
        while j != -1:
            before = text[j - 1]
            if (before != mark and not _SPACE.match(before)
                    and not (underscore and j + size < n and _WORD.match(text, j + size))):
                break
            j = text.find(run, j + 1)
        closes[size] = (start, j)
        return j

    at = text.find(mark)
    while at != -1:
        if at >= run_end:
            run_end = at
            while run_end < n and text[run_end] == mark:
                run_end += 1
        size = run_end - at
        inner = run_end
        if (size <= 3 and inner < n and not _SPACE.match(text, inner)
                and not (underscore and at > 0 and _WORD.match(text, at - 1))):
            if line_end != -1 and line_end < inner:
                line_end = text.find("\n", inner)
            j = close(size, inner + 1)
            if j != -1 and (line_end == -1 or j < line_end):
                out.append(text[last:at])
                out.append(text[inner:j])
                last = j + size
                at = text.find(mark, last)
                continue
        at = text.find(mark, at + 1)
    return _rebuilt(text, out, last)


def _without_emphasis(text: str) -> str:
    if "*" in text:
        text = _strip_emphasis(text, "*")
        text = _STAR_RUNS.sub("", text)  # strong emphasis that spans lines or is left open: markup still
    if "_" in text:
        text = _strip_emphasis(text, "_")
    return text


def _reading_inline(text: str) -> str:
    """Inline markup out, text kept: autolinks, real tags, code marks and emphasis (code keeps its `*`/`_`)."""
    if "<" in text:
        text = _strip_autolinks(text)
        text = _strip_comments(text)
        text = _READING_TAG.sub(_real_tag, text)
    if "`" not in text:
        return _without_emphasis(text)
    pieces, last = [], 0
    for match in _CODE.finditer(text):
        pieces.append(_without_emphasis(text[last : match.start()]))
        pieces.append(match.group(1))
        last = match.end()
    pieces.append(_without_emphasis(text[last:]))
    return "".join(pieces)


def _plain_line(line: str) -> str | None:
    """One Markdown line without its block markup; None for lines that carry no words."""
    s = line.strip()
    if not s:
        return ""
    first = s[0]
    if first in "`~" and (s.startswith("```") or s.startswith("~~~")):
        return None
    if first == "#":
        s = s.lstrip("#")
        if s[:1] not in ("", " ", "\t"):
            return line.strip()  # "#hashtag", not a heading
        s = s.strip().rstrip("#").rstrip()
    elif first == ">":
        s = s.lstrip("> \t")
    elif first in "-*+_=":
        if set(s) <= _RULE_CHARS:
            return None  # thematic break or setext underline
        if first in "-*+" and s[1:2] in (" ", "\t"):
            s = s[2:].lstrip()
            if s.startswith("["):
                s = _TASK.sub("", s, count=1)
    elif first.isdigit():
        match = _ORDERED.match(s)
        if match:
            s = s[match.end() :]
    elif first == "|":
        if set(s) <= _TABLE_RULE_CHARS:
            return None
    elif first == "[" and _LINK_DEF.match(s) and not s.startswith("[^"):
        return None  # a link definition; a footnote's ([^1]: text) is text
    return s


def markdown_to_text(markdown: str, *, for_reading: bool = False) -> str:
    """Plain text of a Markdown body: the words a reader sees, without the markup.

    `for_reading` keeps every character that is text rather than markup (see `reading_text`);
    without it (what is indexed) every `*`, edge `_` and `<tag-like>` piece goes.
    """
    lines: list[str] = []
    blank = False
    for line in markdown.splitlines():
        prose = line.strip()
        if prose[:1].isalpha():
            blank = False  # a line of prose, most of an article: no block markup to take off
            lines.append(prose)
            continue
        plain = _plain_line(line)
        if plain is None:
            continue
        if not plain:
            if not blank and lines:
                lines.append("")
            blank = True
            continue
        blank = False
        lines.append(plain)
    text = "\n".join(lines).strip()
    if "[^" in text:
        text = _FOOTNOTE.sub("", text)
    if "[" in text:
        text = _strip_links(text)
    if "~~" in text:
        text = _strip_strike(text)
    if for_reading:
        text = _reading_inline(text)
    else:
        if "<" in text:
            text = _strip_tags(_strip_autolinks(text))
        if "`" in text:
            text = _CODE.sub(r"\1", text)
        if "*" in text:
            text = text.replace("*", "")
        if "_" in text:
            text = _EDGE_UNDERSCORES.sub("", text)
    if "|" in text:
        text = text.replace("|", " ")
    if "&" in text:
        # character references as the reader sees them (&amp; is &, &lt;tag&gt; is <tag>), once the markup
        # is gone, so an escaped < is text and never taken for a tag
        import html

        text = html.unescape(text).replace("\xa0", " ")
    return text
