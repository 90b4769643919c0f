"""Turn whatever was pasted or read (bytes of any encoding, binary, huge, quoted with `> `) into
text the parsers can read, noting what had to be left out."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_BYTES = 1_000_000  # a bounce with its original headers is a few kB; the rest is an attachment
MAX_LINE = 10_000  # one header line longer than this is not a header a server wrote

_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _kb(n: int) -> str:
    return f"{n // 1000} kB"


@dataclass
class Decoded:
    text: str
    unreadable: list[str] = field(default_factory=list)


def decode(data: bytes | str, *, max_bytes: int = MAX_BYTES, size: int | None = None, over: bool = False) -> Decoded:
    """`size`: the whole input's size when `data` is only its start (a file read in part); `over`: the
    input was longer still than `size` (a pipe read up to a cap)."""
    notes: list[str] = []
    raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else bytes(data)
    total = max(len(raw), size or 0)
    if total > max_bytes:
        notes.append(f"only the first {_kb(max_bytes)} of {'over ' if over else ''}{_kb(total)} were read")
        raw = raw[:max_bytes]
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 export from a Windows mail client
        text = raw.decode("utf-16", "replace")
    else:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", "replace")
            if text.count("\ufffd") > len(text) // 20:
                text = raw.decode("latin-1")  # an 8-bit legacy encoding: every byte is some character
            notes.append("some bytes were not UTF-8 and were read as best they could be")
    controls = len(_CONTROL.findall(text))
    if controls:
        text = _CONTROL.sub(" ", text)
        share = controls / max(len(text), 1)
        notes.append("binary data was skipped" if share > 0.05 else f"{controls} control character{'s were' if controls > 1 else ' was'} ignored")
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    long_lines = 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if len(line) > MAX_LINE:
            lines[i] = line[:MAX_LINE]
            long_lines += 1
    if long_lines:
        notes.append(f"{long_lines} over-long line{'s were' if long_lines > 1 else ' was'} cut to {MAX_LINE} characters")
        text = "\n".join(lines)
    return Decoded(_unquote(text), notes)


def _unquote(text: str) -> str:
    """A bounce forwarded inline arrives as `> ` quoted lines: read it without the quote marks."""
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if lines and sum(1 for ln in lines if ln.lstrip().startswith(">")) >= 0.6 * len(lines):
        return _QUOTE.sub("", text)
    return text
