"""Turn whatever was pasted or read (bytes of any encoding, binary, huge, quoted with `> `) into
text the parsers can read, noting what had to be left out."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field

MAX_BYTES = 1_000_000  # a bounce with its original headers is a few kB; the rest is an attachment
MAX_LINE = 10_000  # one header line longer than this is not a header a server wrote

_QUOTE = re.compile(r"^[ \t]*(?:>[ \t]?)+", re.MULTILINE)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _as_windows_1252(err: UnicodeError) -> tuple[str, int]:
    """A byte that is not UTF-8 is read as Windows-1252 (Latin-1 with curly quotes and the euro sign),
    the legacy charset of most mail that declares none; its five unassigned bytes as Latin-1."""
    assert isinstance(err, UnicodeDecodeError)
    bad = err.object[err.start:err.end]
    return "".join(bytes([b]).decode("cp1252", "ignore") or chr(b) for b in bad), err.end


codecs.register_error("threer-windows-1252", _as_windows_1252)


def lenient(raw: bytes, charset: str | None = None) -> tuple[str, bool]:
    """`raw` as text, losing nothing: in its declared `charset` when that reads it, otherwise as UTF-8
    with any byte that is not UTF-8 read as Windows-1252. The flag says the bytes had to be guessed."""
    name = (charset or "").strip().strip('"').lower()
    if name and name not in {"us-ascii", "ascii", "unknown-8bit", "x-unknown"}:
        try:
            return raw.decode(name), False
        except (LookupError, UnicodeDecodeError):
            pass
    try:
        return raw.decode("utf-8"), False
    except UnicodeDecodeError:
        return raw.decode("utf-8", "threer-windows-1252"), True


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
        text, guessed = lenient(raw)
        if guessed:  # a legacy 8-bit charset, or UTF-8 with a few stray bytes: each byte is still a character
            notes.append("some bytes were not UTF-8 and were read as Windows-1252")
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
