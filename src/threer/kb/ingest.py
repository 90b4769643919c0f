"""Turn an article file or a fetched page into a document: id, title, tags, body, plain text.

Markdown may start with YAML front matter (`id`, `title`, `tags`); without it the title
is the first heading, else the file name. HTML keeps its title, headings and text and
drops scripts, styles, navigation, page headers and footers (inside `<main>` or
`<article>` when the page has one). Plain text is taken as it is, titled by its first
line. A file that cannot be used raises `IngestError` with the reason, in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from threer.kb.analysis import markdown_to_text

MAX_FILE_BYTES = 5 * 1024 * 1024  # an article is a few kB; anything this big is not one

MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})
HTML_SUFFIXES = frozenset({".html", ".htm", ".xhtml"})
TEXT_SUFFIXES = frozenset({".txt", ".text"})
SUPPORTED_SUFFIXES = MARKDOWN_SUFFIXES | HTML_SUFFIXES | TEXT_SUFFIXES
KIND_BY_SUFFIX = {**dict.fromkeys(MARKDOWN_SUFFIXES, "markdown"), **dict.fromkeys(HTML_SUFFIXES, "html"),
                  **dict.fromkeys(TEXT_SUFFIXES, "text")}


class IngestError(Exception):
    """This file or page cannot be indexed; the message says why."""


@dataclass
class ParsedDocument:
    doc_id: str | None  # from front matter; None: the caller derives one from the path or URL
    title: str
    tags: list[str]
    body: str  # what `kb show` renders
    format: str  # "markdown" or "text"
    text: str  # the plain text that is indexed
    warnings: list[str] = field(default_factory=list)


def kind_for(path: Path | str) -> str | None:
    """"markdown", "html" or "text" by file suffix; None for files a folder scan ignores."""
    name = path if isinstance(path, str) else path.name
    dot = name.rfind(".")
    return KIND_BY_SUFFIX.get(name[dot:].lower()) if dot > 0 else None


def title_from_name(name: str) -> str:
    stem = name.rsplit("/", 1)[-1]
    for suffix in SUPPORTED_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    words = re.sub(r"[-_]+", " ", stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled"


def decode(data: bytes, *, charset: str | None = None) -> str:
    """Text from bytes: a BOM or the given charset wins, else UTF-8; binary is refused."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, charset = data[3:], "utf-8"
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        charset = "utf-16"
    if charset is None and b"\x00" in data[:8192]:
        raise IngestError("it is a binary file, not text")
    try:
        text = data.decode(charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        if charset and charset.lower().replace("_", "-") not in {"utf-8", "utf8"}:
            raise IngestError(f"it cannot be decoded as {charset}") from None
        raise IngestError("it is not UTF-8 text (binary, or another encoding)") from None
    if "\x00" in text:
        raise IngestError("it is a binary file, not text")
    return text


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_.:-]+)""", re.I)


def declared_charset(data: bytes) -> str | None:
    """The charset an HTML page's own <meta> names near its start, if Python knows it.

    Looked for in the first 4 kB (HTML's prescan reads 1 kB; pages put a long <head> first). A
    UTF-16 name in a page that is plainly ASCII-based is read as UTF-8, as browsers do, and a name
    Python does not know is no declaration (the page is read as UTF-8)."""
    import codecs

    match = _META_CHARSET.search(data[:4096])
    if match is None:
        return None
    name = match.group(1).decode("ascii")
    try:
        known = codecs.lookup(name).name
    except LookupError:
        return None
    return "utf-8" if known.startswith("utf-16") else name


def parse_bytes(data: bytes, kind: str, name: str, *, charset: str | None = None) -> ParsedDocument:
    """Parse one article of `kind` ("markdown", "html" or "text"); `name` titles it if nothing else does.

    An HTML file is decoded as the charset its <meta> declares, when `charset` gives none."""
    if len(data) > MAX_FILE_BYTES:
        raise IngestError(f"it is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if charset is None and kind == "html":
        charset = declared_charset(data)
    text = decode(data, charset=charset)
    if kind == "markdown":
        return parse_markdown(text, name)
    if kind == "html":
        return parse_html(text, name)
    return parse_text(text, name)


# -- Markdown ---------------------------------------------------------------------------

# linear-time patterns: a 50,000-character line must not make them backtrack (a line of `>` took 35 s)
_ATX_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(?=\S)", re.M)  # the heading's text follows the match
_SETEXT_HEADING = re.compile(r"^(?=[^\n]*\S)([^\n]+)\n[ \t]{0,3}=+[ \t]*$", re.M)


_SIMPLE_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?:[ ]+(.*?))?[ ]*")
_NOT_PLAIN_START = frozenset("-?:,[]{}#&*!|>'\"%@`")


class _NotSimple(Exception):
    pass


_NOT_SIMPLE = object()  # a cached "not simple"
_plain_cache: dict[tuple[str, bool], object] = {}
_PLAIN_CACHE_LIMIT = 50_000


def _plain(text: str, *, in_list: bool = False) -> object:
    """A YAML scalar as YAML itself would read it (a string, or a number, date ...); else _NotSimple.

    Keys, tags and dates recur from article to article: each is read once (every value is
    immutable: a string, number, date, yes/no or null).
    """
    key = (text, in_list)
    value = _plain_cache.get(key)
    if value is None:
        try:
            value = _read_plain(text, in_list=in_list)
        except _NotSimple:
            value = _NOT_SIMPLE
        if len(_plain_cache) > _PLAIN_CACHE_LIMIT:
            _plain_cache.clear()
        _plain_cache[key] = value if value is not None else _NULL
    if value is _NOT_SIMPLE:
        raise _NotSimple
    return None if value is _NULL else value


_NULL = object()  # a cached null


def _read_plain(text: str, *, in_list: bool = False) -> object:
    from frontmatter.default_handlers import SafeLoader

    if not in_list and len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        inner = text[1:-1]
        if text[0] in inner or "\\" in inner:
            raise _NotSimple  # escapes: YAML's own rules apply
        return inner  # a quoted scalar is always a string
    if not text or text[0] in _NOT_PLAIN_START or ": " in text or " #" in text or "\t" in text or text.endswith(":"):
        raise _NotSimple
    if in_list and any(c in text for c in ",[]{}:"):
        raise _NotSimple
    for tag, pattern in SafeLoader.yaml_implicit_resolvers.get(text[0], []):
        if pattern.match(text):
            if in_list:
                raise _NotSimple
            return _typed(tag, text)  # a number, a date, yes/no, null ...: as YAML reads it
    return text


_constructor: Any = None


def _typed(tag: str, text: str) -> object:
    """A plain scalar YAML reads as a number, a date, yes/no or null: built by YAML's own constructor.

    Generated and exported articles often carry `updated: 2019-12-23`; building that one
    value costs a fraction of parsing the whole front matter with YAML.
    """
    global _constructor
    import yaml

    if _constructor is None:
        _constructor = yaml.constructor.SafeConstructor()
    try:
        return _constructor.construct_object(yaml.ScalarNode(tag, text), deep=True)
    except (yaml.YAMLError, ValueError, TypeError, OverflowError):
        raise _NotSimple from None  # e.g. 2019-02-30: YAML's own error message is given
    finally:
        _constructor.constructed_objects.clear()
        _constructor.recursive_objects.clear()


def _simple_yaml(raw: str) -> dict[str, object] | None:
    """Front matter of `key: plain text` and `key: [a, b]` lines, read without the YAML parser.

    Reading such lines is most of the cost of indexing a Markdown file; anything beyond
    them (quotes, block lists, numbers, dates, comments) returns None and goes to YAML.
    """
    data: dict[str, object] = {}
    try:
        for line in raw.splitlines():
            if not line.strip():
                continue
            match = _SIMPLE_LINE.fullmatch(line)
            if match is None:
                return None
            key, value = _plain(match.group(1)), match.group(2) or ""
            if not isinstance(key, str):
                return None  # `yes:` or `null:` as a key: left to YAML
            if not value:
                data[key] = None
            elif value[0] == "[" and value[-1] == "]":
                inner = value[1:-1].strip()
                data[key] = [_plain(item.strip(), in_list=True) for item in inner.split(",")] if inner else []
            else:
                data[key] = _plain(value)
    except _NotSimple:
        return None
    return data


MAX_FRONT_MATTER_BYTES = 64 * 1024  # front matter is a few lines; more is not an article's metadata
MAX_YAML_VALUES = 10_000  # values in front matter with its aliases written out; an article has a dozen
MAX_YAML_DEPTH = 20


class BrokenFrontMatter(Exception):
    """Front matter that is there but cannot be read: the article is still indexed, with a warning."""


def _check_yaml_events(raw: str) -> None:
    """Refuse YAML that would expand without bound (aliases) or nest absurdly, before building it.

    The YAML events are read once, counting how many values the document would hold with
    every alias (`*name`) written out; reading events costs time in the size of the text
    only, so a "billion laughs" front matter is refused at once instead of expanding.
    """
    import yaml

    depth = deepest = 0
    for char in raw:  # brackets first: YAML's scanner is slow on thousands of them
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    if deepest > MAX_YAML_DEPTH:
        raise IngestError(f"its front matter nests deeper than {MAX_YAML_DEPTH} levels")
    sizes: dict[str, int] = {}  # anchor -> values under it, aliases expanded
    stack: list[list[object]] = []  # open collections: [anchor, values so far]
    total = 0

    def add(count: int) -> None:
        nonlocal total
        total += count
        if total > MAX_YAML_VALUES:
            raise IngestError(
                f"its front matter would expand to more than {MAX_YAML_VALUES:,} values (YAML aliases, *name, "
                "repeated inside each other); write the values out"
            )
        if stack:
            stack[-1][1] = int(stack[-1][1]) + count  # type: ignore[call-overload]

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed: same events
    for event in yaml.parse(raw, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            add(sizes.get(event.anchor or "", 1))
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            add(1)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            stack.append([event.anchor, 1])
            if len(stack) > MAX_YAML_DEPTH:
                raise IngestError(f"its front matter nests deeper than {MAX_YAML_DEPTH} levels")
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, count = stack.pop()
            if anchor:
                sizes[str(anchor)] = int(count)  # type: ignore[call-overload]
            if stack:
                stack[-1][1] = int(stack[-1][1]) + int(count)  # type: ignore[call-overload]


def _front_matter(text: str) -> tuple[dict[str, object], str]:
    """(metadata, content).

    Raises BrokenFrontMatter (with the content after it) for front matter that does not
    parse, and IngestError for front matter too large or too self-referential to read.
    """
    import yaml
    from frontmatter.default_handlers import YAMLHandler

    handler = YAMLHandler()
    stripped = text.lstrip("\ufeff")
    if not handler.detect(stripped):
        return {}, text
    try:
        raw, content = handler.split(stripped)
    except ValueError:
        exc = BrokenFrontMatter("its front matter starts with --- but has no closing ---")
        exc.content = stripped.split("\n", 1)[1] if "\n" in stripped else ""  # type: ignore[attr-defined]
        raise exc from None
    if len(raw.encode("utf-8", "surrogatepass")) > MAX_FRONT_MATTER_BYTES:
        raise IngestError(f"its front matter is larger than {MAX_FRONT_MATTER_BYTES // 1024} kB")
    simple = _simple_yaml(raw)
    if simple is not None:
        return simple, content
    try:
        _check_yaml_events(raw)
        data = handler.load(raw)
    except IngestError:
        raise
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (near line {where.line + 2})" if where is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        broken = BrokenFrontMatter(f"its front matter could not be read{line}: {problem}")
        broken.content = content  # type: ignore[attr-defined]
        raise broken from None
    if data is None:
        return {}, content
    if not isinstance(data, dict):
        broken = BrokenFrontMatter("its front matter is not a set of `key: value` lines")
        broken.content = content  # type: ignore[attr-defined]
        raise broken
    return data, content


def _tags(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items: Sequence[object] = value.split(",")
    elif isinstance(value, (list, tuple, set)):
        items = list(value)
    else:
        items = [value]
    tags: list[str] = []
    for item in items:
        if isinstance(item, (list, tuple, set)):
            tags.extend(t for t in _tags(item) if t not in tags)  # `[a, [b, c]]`: the tags a, b, c
            continue
        if item is None or isinstance(item, dict):
            continue  # no tag (a `{key: value}` in a list of tags): left out, never shown as Python's text
        tag = str(item).strip()
        if tag and tag not in tags:
            tags.append(tag)
    return tags


def _scalar(value: object) -> str | None:
    if value is None or isinstance(value, (dict, list, tuple, set)):
        return None
    text = str(value).strip()
    return text or None


def _heading(body: str) -> str | None:
    """The text of the first ATX (`# Title #`) or else setext (`Title` over `===`) heading."""
    atx = _ATX_HEADING.search(body)
    if atx:
        end = body.find("\n", atx.end())
        line = body[atx.end(): end if end >= 0 else len(body)].rstrip()
        closing = line.rstrip("#")
        if closing != line and (not closing or closing[-1] in " \t"):  # a closing run of #, after a space
            line = closing.rstrip()
        return markdown_to_text(line) or None
    setext = _SETEXT_HEADING.search(body)
    return markdown_to_text(setext.group(1)) if setext else None


def parse_markdown(text: str, name: str) -> ParsedDocument:
    warnings = []
    try:
        meta, body = _front_matter(text)
    except BrokenFrontMatter as exc:
        # the words are still worth finding: index the text, titled by its first heading, and say so
        meta, body = {}, getattr(exc, "content", text)
        warnings.append(f"{exc}; it was indexed with its first heading as the title and no id or tags from it")
    body = body.strip("\n")
    doc_id = _scalar(meta.get("id"))
    if doc_id is None and isinstance(meta.get("id"), (dict, list, tuple, set)):
        warnings.append("its id is a list or a table, not one text; the file's path is its id")
    given_tags = meta.get("tags")
    if isinstance(given_tags, dict) or (isinstance(given_tags, list) and any(isinstance(t, dict) for t in given_tags)):
        warnings.append("its tags hold a `key: value` table, which is no tag; it was left out")
    if doc_id is not None and any(c.isspace() for c in doc_id):
        warnings.append(f"its id {doc_id!r} has spaces; they were replaced by '-'")
        doc_id = re.sub(r"\s+", "-", doc_id)
    title = _scalar(meta.get("title"))
    if title is None:
        title = _heading(body) or title_from_name(name)
    return ParsedDocument(
        doc_id=doc_id,
        title=" ".join(title.split()),
        tags=_tags(meta.get("tags")),
        body=body,
        format="markdown",
        text=markdown_to_text(body),
        warnings=warnings,
    )


# -- plain text -------------------------------------------------------------------------


def parse_text(text: str, name: str) -> ParsedDocument:
    body = text.strip("\n").replace("\r\n", "\n")
    first = next((line.strip() for line in body.splitlines() if line.strip()), "")
    title = first if 0 < len(first) <= 120 else title_from_name(name)
    return ParsedDocument(doc_id=None, title=title, tags=[], body=body, format="text", text=body)


# -- HTML -------------------------------------------------------------------------------

_DROPPED = frozenset({"script", "style", "nav", "noscript", "template", "svg", "aside", "form", "iframe",
                      "button", "select", "object", "canvas", "dialog"})
_PAGE_CHROME = frozenset({"header", "footer"})  # dropped unless inside <main> or <article>
_CONTENT = frozenset({"main", "article"})
_BLOCKS = frozenset({"p", "div", "section", "li", "ul", "ol", "table", "tr", "td", "th", "dd", "dt", "dl",
                     "blockquote", "pre", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "figure",
                     "figcaption", "details", "summary", "body", "main", "article", "header", "footer"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "area", "base", "col", "embed", "source",
                   "track", "wbr", "param"})


class _HtmlText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title_parts: list[str] = []
        self.first_h1: str | None = None
        self.keywords: list[str] = []
        self.all_blocks: list[str] = []
        self.main_blocks: list[str] = []
        self._line: list[str] = []
        self._prefix = ""
        self._stack: list[str] = []  # open non-void elements
        self._drop_depth = 0
        self._content_depth = 0
        self._in_title = False
        self._pre_depth = 0
        self._heading: str | None = None
        self._heading_text: list[str] = []

    # block handling
    def _flush(self) -> None:
        if self._pre_depth:
            raw = "".join(self._line).strip("\n")
            line = f"```\n{raw}\n```" if raw.strip() else ""
        else:
            line = " ".join("".join(self._line).split())
        self._line = []
        prefix, self._prefix = self._prefix, ""
        if not line:
            return
        block = prefix + line
        self.all_blocks.append(block)
        if self._content_depth:
            self.main_blocks.append(block)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "meta":
            values = dict(attrs)
            if (values.get("name") or "").lower() == "keywords" and values.get("content"):
                self.keywords = _tags(values["content"])
            return
        if tag in _VOID:
            if tag in {"br", "hr"} and not self._drop_depth:
                self._flush()
            return
        self._stack.append(tag)
        if self._drop_depth or tag in _DROPPED or (tag in _PAGE_CHROME and not self._content_depth):
            self._drop_depth += 1
            return
        if tag == "title":
            self._in_title = True
            return
        if tag in _BLOCKS:
            self._flush()
        if tag in _CONTENT:
            self._content_depth += 1
        if tag == "pre":
            self._pre_depth += 1
        if tag in _HEADINGS:
            self._heading = tag
            self._heading_text = []
            self._prefix = "#" * _HEADINGS[tag] + " "
        elif tag == "li":
            self._prefix = "- "

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID or tag not in self._stack:
            return  # a stray end tag: ignore it
        # close everything opened after it (unclosed <p>, <li> ...)
        while self._stack:
            open_tag = self._stack.pop()
            self._close(open_tag)
            if open_tag == tag:
                break

    def _close(self, tag: str) -> None:
        if self._drop_depth:
            self._drop_depth -= 1
            return
        if tag == "title":
            self._in_title = False
            return
        if tag in _HEADINGS and self._heading == tag:
            text = " ".join("".join(self._heading_text).split())
            if tag == "h1" and self.first_h1 is None and text:
                self.first_h1 = text
            self._heading = None
        if tag in _BLOCKS:
            self._flush()
        if tag == "pre" and self._pre_depth:
            self._pre_depth -= 1
        if tag in _CONTENT and self._content_depth:
            self._content_depth -= 1

    def handle_data(self, data: str) -> None:
        if self._drop_depth:
            return
        if self._in_title:
            self.title_parts.append(data)
            return
        self._line.append(data)
        if self._heading:
            self._heading_text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def parse_html(text: str, name: str) -> ParsedDocument:
    parser = _HtmlText()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # noqa: BLE001 - html.parser is lenient; this is the last resort
        raise IngestError(f"its HTML cannot be read ({exc})") from None
    blocks = parser.main_blocks or parser.all_blocks
    page_title = " ".join("".join(parser.title_parts).split())
    title = parser.first_h1 or page_title or title_from_name(name)
    body = "\n\n".join(blocks)
    return ParsedDocument(
        doc_id=None,
        title=title,
        tags=parser.keywords,
        body=body,
        format="markdown",
        text=markdown_to_text(body),
    )
