"""SPF macro-strings (RFC 7208 §7): parsing them, and expanding them for one evaluation."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union
from urllib.parse import quote

if TYPE_CHECKING:
    from threer.checks.spf.evaluate import _State

_MACRO_LETTERS = frozenset("slodiphv")
_EXP_ONLY_LETTERS = frozenset("crt")
_ESCAPES = {"%": "%", "_": " ", "-": "%20"}  # %% %_ %- (RFC 7208 §7.1)
_MACRO_BODY = re.compile(r"([A-Za-z])(\d*)([rR]?)([.\-+,/_=]*)")


@dataclass(frozen=True)
class Macro:
    letter: str  # lower-case macro letter
    digits: int | None  # keep this many right-hand parts
    reverse: bool
    delimiters: str  # split on these (default ".")
    url_escape: bool  # the letter was upper-case


Token = Union[str, Macro]


@dataclass(frozen=True)
class MacroString:
    raw: str
    tokens: tuple[Token, ...]

    @property
    def has_macros(self) -> bool:
        return any(isinstance(t, Macro) for t in self.tokens)

    @property
    def literal(self) -> str:
        """The text with escapes resolved, when it has no macros."""
        return "".join(t for t in self.tokens if isinstance(t, str))



def parse_macro_string(text: str, *, exp_letters: bool = False, allow_space: bool = False) -> MacroString:
    """Parse a macro-string (RFC 7208 §7.1); raise ValueError with the reason when it is not one."""
    tokens: list[Token] = []
    literal: list[str] = []

    def flush() -> None:
        if literal:
            tokens.append("".join(literal))
            literal.clear()

    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "%":
            nxt = text[i + 1 : i + 2]
            if nxt in _ESCAPES:
                literal.append(_ESCAPES[nxt])
                i += 2
                continue
            if nxt != "{":
                shown = repr(nxt) if nxt else "the end"
                raise ValueError(f"a '%' must be followed by '{{', '%', '_' or '-', not {shown}")
            end = text.find("}", i + 2)
            if end < 0:
                raise ValueError("a macro '%{' is never closed with '}'")
            body = text[i + 2 : end]
            match = _MACRO_BODY.fullmatch(body)
            if not match:
                raise ValueError(f"'%{{{body}}}' is not a macro: a letter, optional digits, optional r, optional delimiters")
            letter, digits, reverse, delimiters = match.groups()
            lower = letter.lower()
            if lower not in _MACRO_LETTERS and not (exp_letters and lower in _EXP_ONLY_LETTERS):
                if lower in _EXP_ONLY_LETTERS:
                    raise ValueError(f"the macro letter '{letter}' is only allowed in explanation text")
                raise ValueError(f"'{letter}' is not a macro letter (use s, l, o, d, i, p, h or v)")
            if digits and int(digits) == 0:
                raise ValueError(f"'%{{{body}}}' keeps zero parts; the number must be 1 or more")
            flush()
            tokens.append(
                Macro(
                    letter=lower,
                    digits=int(digits) if digits else None,
                    reverse=bool(reverse),
                    delimiters=delimiters or ".",
                    url_escape=letter.isupper(),
                )
            )
            i = end + 1
            continue
        code = ord(ch)
        if not (0x21 <= code <= 0x7E or (allow_space and ch == " ")):
            if code < 0x20 or code == 0x7F:
                raise ValueError(f"it contains the control character U+{code:04X}; terms are separated by single spaces")
            if ch == " ":
                raise ValueError("it contains a space")
            raise ValueError(f"it contains the non-ASCII character U+{code:04X}; SPF records are 7-bit ASCII")
        literal.append(ch)
        i += 1
    flush()
    return MacroString(text, tuple(tokens))


async def _macro_value(state: "_State", macro: Macro, domain: str) -> str:
    letter = macro.letter
    if letter == "s":
        return state.sender
    if letter == "l":
        return state.local_part
    if letter == "o":
        return state.sender_domain
    if letter == "d":
        return domain
    if letter == "i":
        if state.is_ipv4:
            return str(state.ip)
        return ".".join(state.ip.exploded.replace(":", ""))
    if letter == "c":
        return str(state.ip)
    if letter == "v":
        return "in-addr" if state.is_ipv4 else "ip6"
    if letter == "h":
        return state.helo
    if letter == "r":
        return state.receiver
    if letter == "t":
        return str(int(time.time()))
    if letter == "p":
        names = await state.validated_names()
        lowered = domain.lower()
        for name in names:
            if name == lowered or name.endswith("." + lowered):
                return name
        return names[0] if names else "unknown"
    raise ValueError(f"unknown macro letter {letter}")  # pragma: no cover - the parser refuses these


async def expand_macros(state: "_State", spec: MacroString, domain: str) -> str:
    """Expand a macro-string (RFC 7208 §7.3) for the record of `domain`, in one evaluation's `state`
    (the client address, sender and HELO name; `state.validated_names()` for %{p})."""
    parts: list[str] = []
    for token in spec.tokens:
        if isinstance(token, str):
            parts.append(token)
            continue
        value = await _macro_value(state, token, domain)
        if token.delimiters != "." or token.reverse or token.digits is not None:
            pieces = re.split("[" + re.escape(token.delimiters) + "]", value)
            if token.reverse:
                pieces.reverse()
            if token.digits is not None:
                pieces = pieces[-token.digits :]
            value = ".".join(pieces)
        if token.url_escape:
            value = quote(value, safe="")
        parts.append(value)
    return "".join(parts)


