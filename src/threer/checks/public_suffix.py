"""The organisational domain (RFC 7489 §3.2) from the Public Suffix List, without parsing the whole list.

The publicsuffixlist package parses its list of some 10,000 rules in 20-40 ms of CPU (most of it
IDNA-encoding every rule), once in each process; a `check-dns` run asks about two or three names. So
this module reads the list's lines into a set as they are (a few milliseconds), looks up the few rules
that can apply to a name (each of its suffixes as an exact, a wildcard or an exception rule, also in
the list's Unicode spelling of an IDN) and lets the package judge the name against those rules alone.
The answer is the package's own: its algorithm consults no rule but these for that name
(tests/checks/test_public_suffix.py compares the two on every rule of the list).
"""

from __future__ import annotations

import functools
import re

from publicsuffixlist import PSLFILE, PublicSuffixList


@functools.lru_cache(maxsize=1)
def _rule_lines() -> frozenset[str]:
    """Every line of the list as the package reads it (lower case, up to the first space, trailing white
    space dropped): a set of the rules, and of comments, which no name's suffix can equal."""
    with open(PSLFILE, encoding="utf-8", errors="replace") as source:
        text = source.read().lower()
    text = re.sub(r" [^\n]*", "", text)
    text = re.sub(r"[^\S\n]+$", "", text, flags=re.M)
    return frozenset(text.split("\n"))  # all in C: a few milliseconds, against the package's 20-40


def _spellings(suffix: str) -> list[str]:
    """The suffix as the list may spell it: as given, and in Unicode when it is punycode (the list keeps
    IDN rules in Unicode and the package adds their punycode form)."""
    spellings = [suffix]
    if "xn--" in suffix:
        try:
            spellings.append(suffix.encode("ascii").decode("idna"))
        except UnicodeError:
            pass
    return spellings


@functools.lru_cache(maxsize=4096)
def private_suffix(domain: str) -> str | None:
    """`PublicSuffixList().privatesuffix(domain)`: the registrable domain, or None when the name is
    itself a public suffix or not a valid name."""
    labels = domain.lower().removesuffix(".").split(".")
    lines = _rule_lines()
    rules = []
    for start in range(len(labels)):
        for suffix in _spellings(".".join(labels[start:])):
            for rule in (suffix, "*." + suffix, "!" + suffix):
                if rule in lines:
                    rules.append(rule)
    return PublicSuffixList(source=rules).privatesuffix(domain)
