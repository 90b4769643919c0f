"""Making outside text safe to show: control characters, bidi overrides and invisible characters made visible.

Text that did not come from threer (typed answers, DNS records, KB files, fetched pages, file
names, error details) can carry terminal control sequences: ESC[2J clears the screen, an OSC
sets the window title or hides a link, U+202E turns the rest of a line around. Everything
threer prints goes through `visible()` (the CLI's consoles call it for every piece of text),
and JSON documents through `json_visible()`, which keeps them exact.

What is shown, and how:

- C0 controls other than newline and tab, DEL and C1 controls: `\\x1b`, `\\x7f`, `\\x9b`;
- bytes that were not UTF-8 in a file name (decoded with surrogateescape): `\\xff`, the byte;
- bidi embeddings, overrides, isolates and marks, zero-width and other format characters,
  line and paragraph separators, lone surrogates: `<U+202E>`.

Newlines and tabs are kept by `visible()`, for fields that legitimately hold several lines;
`one_line()` shows them too, for a value that must stay on its line (a table cell, an id).
"""

from __future__ import annotations

import os
import re

# Every character of Unicode general category Cc, Cf, Cs, Zl or Zp (Unicode 15.1), as ranges.
# tests/test_safe_text.py checks this list against the running Python's unicodedata.
_UNSAFE_RANGES = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 (minus \t \n), DEL, C1
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f"
    "\ud800-\udfff\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0001\U000e0020-\U000e007f"
)
UNSAFE = re.compile(f"[{_UNSAFE_RANGES}]")
_UNSAFE_OR_LINE = re.compile(f"[{_UNSAFE_RANGES}\t\n]")


def _shown(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    if code < 0xA0 and char not in "\t\n":
        return f"\\x{code:02x}"
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, kept by surrogateescape
        return f"\\x{code - 0xDC00:02x}"
    if char == "\t":
        return "\\t"
    if char == "\n":
        return "\\n"
    return f"<U+{code:04X}>"


def is_safe(text: str) -> bool:
    """True when `visible(text)` would change nothing."""
    return UNSAFE.search(text) is None


def visible(text: str) -> str:
    """The text with every control, bidi and invisible character shown as a visible escape.

    Newlines and tabs are kept. A lone carriage return is shown (`\\x0d`): it would let a line
    overwrite itself; a CRLF line end becomes a newline.
    """
    if UNSAFE.search(text) is None:
        return text
    return UNSAFE.sub(_shown, text.replace("\r\n", "\n"))


def one_line(text: str) -> str:
    """Like `visible()`, and newlines and tabs shown too: for a value that must stay on one line."""
    if _UNSAFE_OR_LINE.search(text) is None:
        return text
    return _UNSAFE_OR_LINE.sub(_shown, text)


def clipped(text: str, limit: int = 80) -> str:
    """A value quoted back to the user on one line, at most `limit` characters before an ellipsis."""
    text = one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def quoted(text: str, limit: int = 80) -> str:
    """A value the user gave, quoted back in an error message: one line, clipped, in single quotes."""
    return "'" + clipped(text, limit) + "'"


def is_storable(text: str) -> bool:
    """True when the text can be stored and looked up as UTF-8 (no stray bytes from a non-UTF-8 argument)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def display_path(path: str | os.PathLike[str] | bytes) -> str:
    """A file name as it can be shown: bytes that are not UTF-8 as `\\xff`, controls made visible."""
    name = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    return one_line(name)


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code > 0xFFFF:  # JSON escapes beyond the BMP as a UTF-16 surrogate pair
        code -= 0x10000
        return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"
    return f"\\u{code:04x}"


def argument_text(text: str) -> tuple[str, bool]:
    """Text typed on the command line as words to use, and whether it held bytes that were not UTF-8.

    Python keeps such bytes of an argument as lone surrogates (`\\udcff`), which are no character:
    each becomes U+FFFD, the replacement character, so the text can be searched, shown and written to
    JSON like any other."""
    if text.isascii():
        return text, False
    try:
        data = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that no byte made (not from the command line)
        data = text.encode("utf-8", "surrogatepass")
    fixed = data.decode("utf-8", "replace")
    return fixed, fixed != text


_NOT_ASCII = re.compile(r"[^\x00-\x7f]")


def json_ascii(document: str) -> str:
    """A JSON (or TOML) text with every character beyond ASCII written as a \\u escape, for a console
    that cannot encode them: it parses to the same value (see json_visible)."""
    return _NOT_ASCII.sub(_json_escape, document)


def json_visible(document: str) -> str:
    """A JSON text with every unsafe character inside its strings written as a \\u escape.

    JSON's own syntax is printable ASCII, so an unsafe character can only stand inside a string,
    where `\\uXXXX` means exactly that character: the document parses to the same value.
    TOML basic strings read `\\uXXXX` the same way.
    """
    if UNSAFE.search(document) is None:
        return document
    return UNSAFE.sub(_json_escape, document)
